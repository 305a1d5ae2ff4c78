"""Questions across documents: a comparison of subjects that different documents are about ("How do India's
and Japan's strategies differ on talent?") or a question about the documents as a whole ("What do the
documents say about semiconductors?"). Each relevant document is searched on its own with the ordinary
retrieval and scoring, and its confident quotes make one column, each cited: extractive, nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from qa.answer.compose import compose, select
from qa.answer.followup import NAME_WORD
from qa.answer.question import parse_question
from qa.answer.text import matches, terms
from qa.records import Answer

MAX_COLUMNS = 5
MAX_SUBJECTS = 6  # the first names of a question that are compared
MIN_MENTIONS = 3  # a document is about a subject it names at least this often ...
SHARE = 0.25  # ... and at least this share as often as the question's subject it names most
_WHOLE = re.compile(
    r"\b(?:(?:the|these|those|all|both|my|our)(?:\s+(?:of\s+)?the)?\s+(?:documents|docs|files|texts|papers|reports)|"
    r"(?:each|every)(?:\s+of\s+the)?\s+(?:documents?|docs?|files?|texts?|papers?|reports?)|"
    r"across\s+(?:the\s+)?(?:documents|docs|files|texts|papers|reports))\b",
    re.I,
)
# A comparison as the question's own verb or noun ("differ", "compare", "the differences between"), not an
# adjective ("a different name", "similar in style") or a participle ("earned more compared with").
_COMPARE = re.compile(
    r"\b(?:differ|differs|differed|differences?|compare|compares|comparison|contrast|contrasts|versus|vs\.?|"
    r"similarities|in common|distinguish(?:es)?)\b",
    re.I,
)
# What is compared: a name, or a run of names joined by of/for/on/the ("Centres of Excellence"), never "and".
_SUBJECT = re.compile(rf"{NAME_WORD}(?:\s+(?:(?:of|for|on|the|de)\s+)*{NAME_WORD})*")


@dataclass(frozen=True)
class Plan:
    """The documents to answer from, in column order, each with what to search for in it."""

    queries: dict[str, str]


def plan(index, question: str, docs=None) -> Plan | None:
    """The columns of a question across documents; None for a question about one thing in one place."""
    allowed = index.resolve_docs(docs) or sorted(index.documents)
    if len(allowed) < 2:
        return None
    subjects = list(dict.fromkeys(m.group(0) for m in _SUBJECT.finditer(question) if m.start() > 0))
    subjects = subjects[:MAX_SUBJECTS]
    if _COMPARE.search(question) and len(subjects) >= 2:
        about = _about(index, allowed, subjects)
        if _apart(about, subjects):
            order = sorted(about, key=lambda d: (min(subjects.index(s) for s in about[d]), allowed.index(d)))
            return Plan({d: _without(question, set(subjects) - about[d]) for d in order[:MAX_COLUMNS]})
    if _WHOLE.search(question):
        chosen = allowed
        if len(allowed) > MAX_COLUMNS:  # the documents whose passages rank best for the question
            hits = index.search(question, k=8 * MAX_COLUMNS, docs=allowed)
            chosen = list(dict.fromkeys(h.chunk.doc for h in hits))
        return Plan({d: question for d in chosen[:MAX_COLUMNS]})
    return None


def _apart(about: dict[str, set[str]], subjects: list[str]) -> bool:
    """Two subjects each with a document about it and not the other: a comparison across documents (two
    things one document compares stay an ordinary question)."""
    return any(
        any(a in s and b not in s for s in about.values())
        and any(b in s and a not in s for s in about.values())
        for i, a in enumerate(subjects)
        for b in subjects[i + 1 :]
    )


def _about(index, allowed: list[str], subjects: list[str]) -> dict[str, set[str]]:
    """Document → the subjects of the question it is about: named in its title or path, or named often."""
    pattern = {s: re.compile(rf"\b{_phrase(s)}[\w'’]{{0,6}}\b") for s in subjects}
    counts = {d: dict.fromkeys(subjects, 0) for d in allowed}
    for (doc, _), page in index.pages.items():
        if doc in counts:
            for s in subjects:
                counts[doc][s] += len(pattern[s].findall(page.text))
    out = {}
    for d in allowed:
        info = index.documents.get(d, {})
        named = terms(f"{info.get('title') or ''} {re.sub(r'[/_.-]', ' ', d)}")
        most = max(counts[d].values())
        found = {
            s
            for s in subjects
            if all(matches(t, named) for t in terms(s)) or counts[d][s] >= max(MIN_MENTIONS, SHARE * most)
        }
        if found:
            out[d] = found
    return out


def _phrase(name: str) -> str:
    return r"\s+".join(re.escape(w) for w in name.split())


def _without(question: str, subjects: set[str]) -> str:
    """The question without the names of the other subjects: what to search for in one document."""
    for s in subjects:
        question = re.sub(rf"\b{_phrase(s)}(?:['’]s?)?", "", question)
    return re.sub(r"\s+", " ", question).strip()


Solve = Callable[[object, str, list[str]], object]  # (Question, query, [doc]) → a ranked pipeline Part


def answer(index, question: str, cross: Plan, solve: Solve, threshold: float, message: str) -> Answer | None:
    """One column per document that answers with confidence, each quote cited; None when fewer than two
    documents do (the question is then answered as an ordinary one)."""
    columns, silent = [], []
    for doc, query in cross.queries.items():
        part = solve(parse_question(query), query, [doc])
        if part.best is not None and part.confidence >= threshold:
            columns.append((doc, part))
        else:
            silent.append(index.documents[doc].get("title") or doc)
    if len(columns) < 2:
        return None
    if silent:
        message = f"{message} No confident quote on this in: {'; '.join(silent)}.".strip()
    chosen = [(p.q, select(index, p.q, p.best, p.cands)) for _, p in columns]
    hits = list({h.chunk.id: h for _, p in columns for h in p.hits}.values())
    conf = min(p.confidence for _, p in columns)
    ans = compose(index, chosen, question, conf, hits, message)
    by_document = tuple(
        {
            "doc": doc,
            "title": index.documents[doc].get("title") or doc,
            "confidence": round(part.confidence, 4),
            "citations": tuple(c for c in ans.citations if c.doc == doc),
        }
        for doc, part in columns
    )
    return replace(ans, by_document=by_document)
