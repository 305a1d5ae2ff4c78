"""Example questions from the user's own documents, chosen when the index is built and kept beside it.

The user may list them in ``.qaexamples`` at the top of the corpus folder: one question a line, ``#`` starts
a comment (a hidden file, like ``.qaignore``, so it is never indexed as a document). Otherwise they are
drawn from the corpus: the acronyms it defines ("Global Capability Centres (GCCs)" → "What does GCCs stand
for?") and the names it defines ("Rapidus is a ..." → "What is Rapidus?"), the most used first, taking the
documents and the two kinds in turn. Either way each question is asked of the new index and kept only when
its answer is not uncertain (and, for a drawn one, quotes the passage it was drawn from); the kept ones are
``examples.json`` in the index folder, rewritten when the index or the user's list changes.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from qa.answer.text import terms
from qa.errors import UsageError
from qa.ingest import sha256_file

USER_FILE = ".qaexamples"
FILE = "examples.json"
VERSION = 1
MAX_EXAMPLES = 5
MAX_TRIES = 15  # questions asked at most per build
CONFIDENT = 0.5  # calibrated probability an example's answer must reach (below it an answer is "uncertain")
QUOTED = 2 / 3  # share of the words of its defining passage that an example's answer must quote
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9&\-]{1,11})\)")
_DEFINED = re.compile(
    r"(?:^|(?<=[.!?]\s))((?:[A-Z][\w&\-]*\s+){0,3}[A-Z][\w&\-]*)\s+(?:is|was)\s+(?:a|an|the)\s+\w", re.M
)
_WORD = re.compile(r"[A-Za-z][\w\-]*")


def load(index: Path) -> list[str]:
    """The example questions stored in an index folder ([] when there are none)."""
    try:
        data = json.loads((Path(index) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    questions = data.get("questions") if isinstance(data, dict) else None
    return [q for q in questions if isinstance(q, str)] if isinstance(questions, list) else []


def refresh(index: Path, corpus: Path, embedder=None) -> dict:
    """Write the index's examples unless they are current; returns what is stored (questions, their
    source: "file" or "corpus", and the listed questions dropped for want of a confident answer)."""
    index, corpus = Path(index), Path(corpus)
    listed_file = corpus / USER_FILE
    listed_sha = sha256_file(listed_file) if listed_file.is_file() else None
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    stamp = {"version": VERSION, "index_created": manifest["created"], "listed_sha256": listed_sha}
    try:
        stored = json.loads((index / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if isinstance(stored, dict) and all(stored.get(k) == v for k, v in stamp.items()):
        return _summary(stored)
    from qa.index import load_index

    loaded = load_index(index, embedder=embedder)
    if listed_sha:
        listed = _listed(listed_file)
        kept = confident(loaded, dict.fromkeys(listed, ""))
        dropped = [q for q in listed if q not in kept]
    else:
        drawn = candidates(loaded)
        kept = confident(loaded, {q: drawn[q] for q in list(drawn)[:MAX_TRIES]})[:MAX_EXAMPLES]
        dropped = []
    data = {**stamp, "source": "file" if listed_sha else "corpus", "questions": kept, "dropped": dropped}
    tmp = index / f".{FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, index / FILE)
    return _summary(data)


def _summary(data: dict) -> dict:
    return {k: data.get(k) for k in ("source", "questions", "dropped")}


def _listed(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def confident(index, questions: dict[str, str]) -> list[str]:
    """The questions whose answer from the index is an answer (not evidence, not an abstention) that is not
    uncertain and, where a question comes with the passage it was drawn from, quotes most of its words."""
    kept = []
    for q, source in questions.items():
        try:
            ans = index.ask(q)
        except UsageError:  # an empty or over-long line of the list
            continue
        wanted, quoted = set(terms(source)), set(terms(ans.answer))
        if (
            not ans.abstained
            and getattr(ans, "kind", "answer") == "answer"
            and ans.confidence >= CONFIDENT
            and len(wanted & quoted) >= QUOTED * len(wanted)
        ):
            kept.append(q)
    return kept


def candidates(index) -> dict[str, str]:
    """Questions the corpus itself defines the answers to, each with its defining passage (the acronym
    spelled out, or "Name is"): the most used terms first, the documents in turn."""
    ranked = []
    texts: dict[str, list[str]] = {}
    for (doc, _), page in sorted(index.pages.items()):
        texts.setdefault(doc, []).append(page.text)
    for pages in texts.values():
        text = "\n".join(pages)
        words = Counter(_WORD.findall(text))
        acronyms: dict[str, tuple[int, str]] = {}
        for m in _ACRONYM.finditer(text):
            acronym = m.group(1)
            # Capitals enough for an acronym, not an ordinary word in capitals ("IT" beside "it"), and long
            # enough to be worth asking about (two letters are mostly common knowledge: AI, EU, UK).
            is_acronym = (
                len(acronym.rstrip("s")) >= 3
                and sum(ch.isupper() for ch in acronym) >= 2
                and words[acronym.lower()] < words[acronym]
            )
            start = _spelled(acronym, text, m.start()) if is_acronym else None
            if start is not None:
                defined = " ".join(text[start : m.end()].split())
                acronyms.setdefault(f"What does {acronym} stand for?", (words[acronym], defined))
        defined_names: dict[str, tuple[int, str]] = {}
        for m in _DEFINED.finditer(text):
            name = re.sub(r"^The\s+", "the ", m.group(1))
            head = name.removeprefix("the ").split()
            # A name, not "This"; and one word or a "the ..." name: two bare capitalised words are mostly a
            # person ("Asha Rao is a researcher"), for whom "What is" is the wrong question.
            person = len(head) > 1 and not name.startswith("the ")
            if head and len(head[0]) > 2 and words[head[0].lower()] < words[head[0]] and not person:
                defined_names.setdefault(f"What is {name}?", (words[head[-1]], " ".join(m.group(1).split())))
        kinds = [
            sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0])) for found in (acronyms, defined_names)
        ]
        ranked.append([kind[i] for i in range(max(map(len, kinds))) for kind in kinds if i < len(kind)])
    out: dict[str, str] = {}
    for i in range(max((len(r) for r in ranked), default=0)):
        for r in ranked:
            if i < len(r):
                out.setdefault(r[i][0], r[i][1][1])
    return out


def _spelled(acronym: str, text: str, at: int) -> int | None:
    """Where the words just before "(ACRONYM)" at ``at`` start to spell it (its letters in order among
    their initials, the first and last from the first and last word: "Transforming Relationship Utilizing
    Strategic Technology (TRUST)", "large language models (LLMs)"); None when they don't."""
    letters = [ch.lower() for ch in acronym.rstrip("s") if ch.isalpha()]
    words = list(re.finditer(r"[A-Za-z][\w\-]*", text[max(0, at - 200) : at]))
    for n in range(2, min(len(words), len(letters) + 3) + 1):
        initials = [w.group(0)[0].lower() for w in words[-n:]]
        if initials[0] != letters[0] or initials[-1] != letters[-1]:
            continue
        it = iter(initials)
        if all(ch in it for ch in letters):
            return max(0, at - 200) + words[-n].start()
    return None
