"""Extractive answers: the best verbatim sentences inside the top hits, with citations, or an abstention.

Sentence score = dense similarity of question and sentence + IDF-weighted term overlap + a bonus when the
sentence holds what the question type asks for (an amount, a date, a name) + the chunk's retrieval rank.
Confidence = how much of what the question pins down (its rarer terms, numbers, years and names) the
evidence holds, blended with the best sentence's similarity. Below ``ABSTAIN_BELOW`` the answer abstains.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from qa.errors import UsageError
from qa.records import Answer, Chunk, Citation, Hit

MAX_QUESTION_CHARS = 2000
ABSTAIN_BELOW = 0.4  # calibrated on the dev set: see README "Confidence and abstention"
NO_ANSWER = "The documents don't answer this question."
MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 420
CANDIDATE_HITS = 8
RERANK = 6
WHOLE = ("table_row", "reference")  # a table row or a References entry answers whole
_CITE_Q = re.compile(r"\b(cite[sd]?|citing|citations?|sources?|references?|footnotes?)\b", re.I)
# A "how much" answer without an amount, a "when" answer without a date, a "who" answer without a name.
_KIND_MISSING = {"quantity": 0.4, "date": 0.6, "entity": 0.85}

_STOP = set(
    """
a an the of in on at to for from by with and or but if then than as is are was were be been being do does
did doing has have had having it its this that these those there their they them he she his her we our
you your i me my what which who whom whose when where why how much many any some all each other into
about over under between during after before so such not no nor only own same too very can could will
would shall should may might must also just more most per via s t according paper brief document
documents say says said tell besides apart beside whether get got make makes up
""".split()  # noqa: SIM905
)
# Words that name the kind of answer wanted, not something the evidence must contain.
_TYPE_WORDS = {
    "larg",
    "big",
    "month",
    "year",
    "date",
    "day",
    "time",
    "organis",
    "organiz",
    "compani",
    "countri",
    "sector",
    "area",
    "type",
    "kind",
    "amount",
    "number",
    "name",
    "peopl",
    "person",
    "place",
    "way",
    "thing",
    "role",
}
_QWORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_WORD = re.compile(r"(?:19|20)\d\d-(?:19|20)?\d\d\b|[A-Za-z][A-Za-z0-9&'’\-]*|\d[\d,]*(?:\.\d+)?")
_RANGE = re.compile(r"^((?:19|20)\d\d)-((?:19|20)?\d\d)$")
# A footnote line: a small marker number, then its text ("1 "IOWN®" is a trademark of NTT.").
_FOOTNOTE = re.compile(r"^\d{1,2}\s+(?:[\"“'‘A-Z])")
_BULLET_MARK = re.compile(r"[-–•▪◦●*][ \t]+")
_GAP = re.compile(r"[\s\-–•▪◦●*]{0,6}")  # between two sentences quoted as one passage
_URL = re.compile(r"<?https?://[^\s>]+>?")
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})\.?,?\s+(?:\d{{1,2}},?\s+)?\d{{4}}|(?:{_MONTHS})\s+\d{{4}}|"
    rf"(?:19|20)\d\d(?:[–-](?:19|20)?\d\d)?)\b",
    re.I,
)
_AMOUNT = re.compile(
    r"(?:(?:US)?\$|₹|Rs\.?|INR|USD|¥|€)\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:billion|million|trillion|"
    r"crore|lakh|bn|mn|Bn|MW|GW|%))?|\d[\d,]*(?:\.\d+)?\s?(?:%|per ?cent|billion|million|crore|"
    r"lakh|trillion|MW|GW|nm|km|units|processors|chips)|\d[\d,]*(?:\.\d+)?",
    re.I,
)
_FOLLOWUP = re.compile(
    r"^(and|what about|how about|and what about|what of|also|then|same for|and for|and in)\b", re.I
)
_PRONOUN = re.compile(r"\b(it|its|they|their|them|this|that|these|those|there|he|she|his|her)\b", re.I)


_STEMMER = None
_IRREGULAR = {
    "built": "build",
    "made": "make",
    "led": "lead",
    "ran": "run",
    "grew": "grow",
    "grown": "grow",
    "began": "begin",
    "begun": "begin",
    "sold": "sell",
    "bought": "buy",
    "held": "hold",
    "won": "win",
    "spent": "spend",
    "brought": "bring",
    "taught": "teach",
    "known": "know",
    "knew": "know",
    "given": "give",
    "gave": "give",
    "taken": "take",
    "took": "take",
    "shown": "show",
    "chose": "choose",
    "chosen": "choose",
    "went": "go",
    "gone": "go",
    "did": "do",
    "done": "do",
    "paid": "pay",
    "set": "set",
    "sent": "send",
    "met": "meet",
    "found": "find",
    "thought": "think",
    "told": "tell",
    "became": "become",
    "fell": "fall",
    "rose": "rise",
    "risen": "rise",
    "drove": "drive",
    "driven": "drive",
    "wrote": "write",
    "written": "write",
    "saw": "see",
    "seen": "see",
}


def _stem(word: str) -> str:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    w = word.lower().replace("’", "'").strip("'-")
    if w.endswith("'s"):
        w = w[:-2]
    return _STEMMER.stemWord(_IRREGULAR.get(w, w))


def _matches(term: str, pool: set[str]) -> bool:
    """Exact, or the same word with a short ending (India/Indian, Japan/Japanese): a shared prefix of 5+."""
    if term in pool:
        return True
    if len(term) < 4 or term[0].isdigit():
        return False
    return any(
        len(p) >= 4 and (p.startswith(term) or term.startswith(p)) and abs(len(p) - len(term)) <= 6
        for p in pool
    )


def _norm_num(s: str) -> str:
    """ "10,500" → "10500"; a year range "2023-24" → "2023-2024"."""
    m = _RANGE.match(s)
    if m:
        end = m.group(2) if len(m.group(2)) == 4 else m.group(1)[:2] + m.group(2)
        return f"{m.group(1)}-{end}"
    return s.replace(",", "").rstrip(".")


def terms(text: str) -> list[str]:
    """Content terms of a text, stemmed; numbers without thousands separators."""
    out = []
    for w in _WORD.findall(text.replace("–", "-")):
        if w[0].isdigit():
            out.append(_norm_num(w))
        elif w.lower() not in _STOP and len(w) > 1:
            out.append(_stem(w))
    return out


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # quantity | date | entity | other
    terms: tuple[str, ...]
    numbers: tuple[str, ...]  # numbers and years the question pins down
    names: tuple[str, ...]  # capitalised names and acronyms, stemmed
    about_sources: bool = False  # asks what a document cites ("Which source does the brief cite for ...?")


def classify(text: str) -> str:
    t = text.lower()
    if re.search(
        r"\bhow (much|many|large|big)\b|\bwhat (amount|percentage|share|size|number|value)\b|"
        r"\bhow much\b|\bwhat was allocated\b|\bwhat is the (budget|cost|outlay|total)",
        t,
    ):
        return "quantity"
    if re.search(
        r"\bwhen\b|\bwhat (year|month|date)\b|\bwhich (year|month|date)\b|\bin which (year|month)\b", t
    ):
        return "date"
    if re.search(
        r"^\s*who\b|\bwhich (company|companies|organisation|organization|firm|country|countries|"
        r"ministry|agency|institution)\b",
        t,
    ):
        return "entity"
    return "other"


def parse_question(text: str) -> Question:
    words = _WORD.findall(text.replace("–", "-"))
    names = []
    for i, w in enumerate(words):
        if w[0].isupper() and w.lower() not in _STOP and w.lower() not in _QWORDS and (i > 0 or w.isupper()):
            names.append(_stem(w))
    nums = tuple(t for t in terms(text) if t[0].isdigit())
    return Question(
        text=text,
        kind=classify(text),
        terms=tuple(dict.fromkeys(terms(text))),
        numbers=nums,
        names=tuple(dict.fromkeys(names)),
        about_sources=bool(_CITE_Q.search(text)),
    )


def validate(question: str) -> str:
    q = (question or "").strip()
    # Empty: only punctuation, spaces, controls and math/currency/modifier symbols (an emoji is a question).
    if not q or all(
        unicodedata.category(ch)[0] in "PZC" or unicodedata.category(ch) in ("Sm", "Sc", "Sk") for ch in q
    ):
        raise UsageError("the question is empty: type a question in words")
    if re.search("[\ud800-\udfff]", q):
        raise UsageError("the question has invalid characters (not UTF-8 text)")
    if len(q) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is too long ({len(q)} characters, at most {MAX_QUESTION_CHARS})")
    return q


def _history_questions(history) -> list[str]:
    """Previous user questions from a list of strings, {question: ...} or chat {role, content} messages."""
    out = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                out.append(turn["content"])
            elif isinstance(turn.get("question"), str):
                out.append(turn["question"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [q for q in out if q.strip()]


_NAME_RUN = re.compile(r"[A-Z][\w&'’.\-]*(?:\s+(?:(?:of|and|for|on|the|in)\s+)*[A-Z][\w&'’.\-]*)*")


def contextualise(question: str, history) -> str:
    """Rewrite a short follow-up ("And in 2023-2024?", "What about Japan?") from the previous question, itself
    read in the context of the turns before it."""
    previous = _history_questions(history)
    if not previous:
        return question
    prev = contextualise(previous[-1], previous[:-1])
    q = question.strip()
    short = len(terms(q)) <= 3
    if not (_FOLLOWUP.search(q) or (short and _PRONOUN.search(q)) or len(q.split()) <= 3):
        return question
    rest = _FOLLOWUP.sub("", q).strip(" ?.!,")
    rest = re.sub(r"^(in|for|of|on)\s+", "", rest, flags=re.I)
    new_years = _YEAR.findall(rest) or re.findall(r"\d{4}[–-]\d{2,4}", rest)
    if new_years and re.search(r"\d{4}(?:[–-]\d{2,4})?", prev):
        return re.sub(r"\d{4}(?:[–-]\d{2,4})?", rest.strip(), prev, count=1)
    new_names = [w for w in _WORD.findall(rest) if w[0].isupper()]
    # The first name after the question word, as a whole run ("Centres of Excellence", "Tokyo Electron").
    old = [m for m in _NAME_RUN.finditer(prev) if m.start() > 0 and m.group(0).lower() not in _STOP]
    if new_names and old:
        return prev[: old[0].start()] + rest + prev[old[0].end() :]
    return f"{prev} {q}"


class _Stats:
    """Document frequencies of terms over the chunks, computed once per index."""

    def __init__(self, chunks: list[Chunk]) -> None:
        df: dict[str, int] = {}
        for c in chunks:
            for t in set(terms(f"{c.context} {c.text}")):
                df[t] = df.get(t, 0) + 1
        self.df = df
        self.n = max(1, len(chunks))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


def _stats(index) -> _Stats:
    st = getattr(index, "_answer_stats", None)
    if st is None:
        st = _Stats(index.chunks)
        index._answer_stats = st
    return st


@dataclass
class _Cand:
    hit: Hit
    pos: int  # sentence number inside the chunk
    start: int
    end: int
    text: str
    score: float = 0.0
    dense: float = 0.0
    own: frozenset = frozenset()  # the sentence's terms (a table row's with its header)
    weights: dict | None = None  # question-term weights for choosing among these candidates


def _is_heading(chunk: Chunk, text: str) -> bool:
    return text in chunk.section or text.startswith("Source:") or len(text) < 12


def _sentence_vectors(index, cands: list[_Cand]) -> np.ndarray:
    """The stored vector of each candidate unit (a sentence, or a whole table row / References entry)."""
    rows = [index.unit_offsets[index.row_of[c.hit.chunk.id]] + c.pos for c in cands]
    return np.asarray(index.units[rows], dtype=np.float32)


def _kind_bonus(kind: str, text: str) -> float:
    if kind == "quantity":
        return 1.0 if _AMOUNT.search(text) and _NUM.search(text) else 0.0
    if kind == "date":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "entity":
        caps = re.findall(r"(?<![.!?]\s)\b[A-Z][A-Za-z]+", text[1:])
        return min(1.0, len(caps) / 3)
    return 0.0


def _weights(q: Question, st: _Stats, cand_terms: list[set[str]]) -> dict[str, float]:
    """Weight of each question term for choosing a sentence: global IDF times a local IDF over the candidate
    sentences. Terms in most candidates name the topic (retrieval already found it); a term in few of them
    is what singles out the answering sentence. Names count a little less."""
    n = len(cand_terms)
    out = {}
    for t in q.terms:
        local = sum(1 for ct in cand_terms if t in ct)
        out[t] = st.idf(t) * math.log(1 + n / (1 + local)) * (0.7 if t in q.names else 1.0)
    return out


def _overlap(q: Question, text_terms: set[str], st: _Stats, weights: dict[str, float] | None = None) -> float:
    if not q.terms:
        return 0.0
    w = weights or {t: st.idf(t) for t in q.terms}
    total = sum(w.values())
    got = sum(v for t, v in w.items() if _matches(t, text_terms))
    return got / total if total else 0.0


def _score(index, q: Question, qvec: np.ndarray, hits: list[Hit]) -> list[_Cand]:
    st = _stats(index)
    cands = []
    for hit in hits:
        c = hit.chunk
        page = index.pages[(c.doc, c.page)].text
        spans = [(c.start, c.end)] if c.kind in WHOLE else c.sentences
        for pos, (a, b) in enumerate(spans):
            bullet = _BULLET_MARK.match(page, a, b)
            if bullet and bullet.end() < b:
                a = bullet.end()  # a quote starts at the words, not at a list marker
            text = page[a:b]
            if not _is_heading(c, text):
                cands.append(_Cand(hit, pos, a, b, text))
    if not cands:
        return []
    sims = _sentence_vectors(index, cands) @ qvec
    owns = [
        set(terms(x.text + (" " + x.hit.chunk.context if x.hit.chunk.kind in WHOLE else ""))) for x in cands
    ]
    weights = _weights(q, st, owns)
    for i, (cand, sim) in enumerate(zip(cands, sims, strict=True)):
        c = cand.hit.chunk
        own = owns[i]
        cand.own, cand.weights = frozenset(own), weights
        prev = owns[i - 1] if i and cands[i - 1].hit is cand.hit else set()
        ctx = own | prev | set(terms(c.context)) | set(terms(" ".join(c.section[-1:])))
        cand.dense = float(sim)
        cand.score = (
            1.0 * float(sim)
            + 0.6 * _overlap(q, own, st, weights)
            + 0.25 * _overlap(q, ctx, st)
            + 0.25 * _kind_bonus(q.kind, cand.text)
            + 0.15 / (1 + 0.5 * (cand.hit.rank - 1))
            - (0.5 if c.kind == "reference" and q.kind != "date" and not q.about_sources else 0.0)
            - (0.4 if _FOOTNOTE.match(cand.text) else 0.0)
        )
    cands.sort(key=lambda x: -x.score)
    return cands


def _window(index, cand: _Cand) -> str:
    """The sentence with its neighbours in the chunk (a table row alone)."""
    c = cand.hit.chunk
    if c.kind in WHOLE:
        return c.text
    page = index.pages[(c.doc, c.page)].text
    lo, hi = max(0, cand.pos - 1), min(len(c.sentences), cand.pos + 2)
    return " ".join(page[a:b] for a, b in c.sentences[lo:hi])


def _around(index, chunk: Chunk) -> str:
    """The chunk with its neighbours on the same page: a box title or lead-in just before it counts."""
    row = index.row_of[chunk.id]
    near = index.chunks[max(0, row - 1) : row + 2]
    return " ".join(c.text for c in near if c.doc == chunk.doc and c.page == chunk.page)


def features(index, q: Question, best: _Cand) -> dict:
    """What support and confidence are made of. What the question pins down (names, what it asks about them)
    must be in the passage (chunk, section, table header, document title); numbers next to the answer."""
    st = _stats(index)
    c = best.hit.chunk
    title = index.documents.get(c.doc, {}).get("title") or ""
    near = set(terms(f"{_window(index, best)} {c.context} {' '.join(c.section[-2:])}"))
    passage = near | set(
        terms(f"{_around(index, c)} {' '.join(c.section)} {title} {index.authors_of(c.doc)}")
    )
    names = set(q.names)
    attrs = [t for t in q.terms if t not in names and not t[0].isdigit() and t not in _TYPE_WORDS]
    return {
        "own": _overlap(q, set(best.own), st, {t: w for t, w in best.weights.items() if t not in names}),
        "near": _overlap(q, near, st, best.weights),
        "passage": _overlap(q, passage, st),
        "dense": best.dense,
        "missing_numbers": [n for n in q.numbers if n not in near],
        "missing_names": [n for n in q.names if not _matches(n, passage)],
        "missing_attrs": [t for t in attrs if not _matches(t, passage)],
        "kind": q.kind,
        "kind_ok": q.kind == "other" or _kind_bonus(q.kind, best.text) > 0,
    }


def support(f: dict) -> float:
    """How directly the sentence (and less so its neighbours) holds what is asked: chooses among sentences."""
    return (0.7 * f["own"] + 0.3 * f["near"]) * 0.5 ** len(f["missing_numbers"])


def confidence(f: dict) -> float:
    """How much of what the question pins down the evidence holds, blended with sentence similarity."""
    conf = 0.3 * f["near"] + 0.3 * f["passage"] + 0.4 * max(0.0, min(1.0, (f["dense"] - 0.2) / 0.5))
    conf *= 0.5 ** len(f["missing_numbers"]) * 0.7 ** len(f["missing_names"]) * 0.7 ** len(f["missing_attrs"])
    conf *= _KIND_MISSING.get(f["kind"], 1.0) if not f["kind_ok"] else 1.0
    return max(0.0, min(1.0, conf))


def _select(q: Question, cands: list[_Cand]) -> list[_Cand]:
    """The best sentence, plus what it needs: the list after a lead-in, or the neighbour that holds what the
    question asks and the best sentence lacks ("This transition reduces ..."); at most three sentences."""
    best = cands[0]
    chosen = [best]
    same = {(c.hit.chunk.id, c.pos): c for c in cands}
    cid = best.hit.chunk.id
    if best.text.rstrip().endswith(":"):
        chosen += [same[(cid, p)] for p in range(best.pos + 1, best.pos + MAX_SENTENCES) if (cid, p) in same]
    else:
        own = set(terms(best.text))
        lacking = [t for t in q.terms if t not in q.names and not _matches(t, own)]
        for pos in (best.pos + 1, best.pos - 1):
            nb = same.get((cid, pos))
            if nb and lacking and any(_matches(t, set(terms(nb.text))) for t in lacking):
                chosen.append(nb)
                break
    chosen.sort(key=lambda c: c.pos)
    total, out = 0, []
    for c in chosen:
        if out and total + len(c.text) > MAX_ANSWER_CHARS:
            break
        out.append(c)
        total += len(c.text)
    return out


def _highlight(q: Question, text: str) -> tuple[int, int] | None:
    """The part of a quote that answers most directly: an amount, a date, or the clause that matches best."""
    pattern = {"quantity": _AMOUNT, "date": _DATE}.get(q.kind)
    if pattern:
        best = None
        urls = [(m.start(), m.end()) for m in _URL.finditer(text)]
        for m in pattern.finditer(text):
            if _norm_num(m.group(0)) in q.numbers or any(a <= m.start() < b for a, b in urls):
                continue
            if best is None or len(m.group(0)) > len(best.group(0)):
                best = m
        if best:
            return best.start(), best.end()
    qt = set(q.terms)
    clauses = [(m.start(), m.end()) for m in re.finditer(r"(?:[^,;:()\t]|(?<=\d),(?=\d))+", text)]
    scored = [(sum(1 for t in terms(text[a:b]) if t in qt), a, b) for a, b in clauses]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return None
    _, a, b = max(scored, key=lambda s: (s[0], -(s[2] - s[1])))
    while a < b and text[a].isspace():
        a += 1
    return a, b


def _row_header(chunk: Chunk) -> list[str]:
    m = re.search(r"Columns: (.*?)(?: \| [^|]+: [^|]+)?$", chunk.context)
    return [h.strip() for h in m.group(1).split(" | ")] if m else []


def _asked_columns(chunk: Chunk, q: Question) -> list[int]:
    """Columns (after the first) whose header the question names: "in 2023-2024" → the 2023–2024 column."""
    wanted = set(q.terms) | set(q.numbers)
    return [i for i, h in enumerate(_row_header(chunk)) if i and set(terms(h)) & wanted]


def _row_display(chunk: Chunk, q: Question) -> str:
    """A table row as "Row label — Column: value (unit)" for the columns the question names, else all."""
    cells = [c.strip() for c in chunk.text.split("\t")]
    header = _row_header(chunk)
    unit = re.search(r"\(in ([^)]+)\)", chunk.context)
    label = cells[0] or (re.search(r"\| [^|:]+: ([^|]+)$", chunk.context) or [None, ""])[1]
    asked = _asked_columns(chunk, q)
    cols = asked or range(1, min(len(header), len(cells)))
    body = "; ".join(f"{header[i]}: {cells[i]}" for i in cols if i < len(cells) and cells[i])
    suffix = f" ({unit.group(1)})" if unit else ""
    return f"{label} — {body}{suffix}" if body else chunk.text


def _row_highlight(chunk: Chunk, q: Question, quote_start: int) -> tuple[int, int] | None:
    """The cell of the column the question asks for, as a span of the quote."""
    asked = _asked_columns(chunk, q)
    if not asked:
        return None
    pos = chunk.start - quote_start
    for i, cell in enumerate(chunk.text.split("\t")):
        if i == asked[0] and cell.strip():
            lead = len(cell) - len(cell.lstrip())
            return pos + lead, pos + len(cell.rstrip())
        pos += len(cell) + 1
    return None


def _citation(
    index, n: int, chunk: Chunk, start: int, end: int, score: float, follow: bool = True
) -> Citation:
    page = index.pages[(chunk.doc, chunk.page)]
    info = index.documents.get(chunk.doc, {})
    refs = index.references_for(chunk, start, end)
    evidence = index.evidence_for(page.text[start:end], refs) if refs and follow else []
    return Citation(
        n=n,
        doc=chunk.doc,
        title=info.get("title") or chunk.doc,
        page=chunk.page,
        label=page.label,
        section=chunk.section,
        start=start,
        end=end,
        quote=page.text[start:end],
        url=info.get("url"),
        score=round(score, 4),
        references=tuple(refs),
        evidence=tuple(evidence),
    )


def _related(index, cands: list[_Cand]) -> tuple[Citation, ...]:
    """The closest passages, for an abstention: best sentence of each of the top three chunks."""
    out, seen = [], set()
    for cand in cands:
        cid = cand.hit.chunk.id
        if cid in seen:
            continue
        seen.add(cid)
        out.append(
            _citation(index, len(out) + 1, cand.hit.chunk, cand.start, cand.end, cand.score, follow=False)
        )
        if len(out) == 3:
            break
    return tuple(out)


def _reference_chunks(index) -> dict[str, Chunk]:
    """References entries by key, computed once per index."""
    found = index.__dict__.get("_reference_chunks")
    if found is None:
        found = {key: c for c in index.chunks if c.kind == "reference" for key in c.refs}
        index._reference_chunks = found
    return found


def _cited_entries(index, head: list[_Cand]) -> tuple[_Cand, list[_Cand]] | None:
    """For a question about what a document cites: the leading claim that cites something, and the References
    entries it cites (each a candidate quoting the whole entry)."""
    entries = _reference_chunks(index)
    for cand in head:
        c = cand.hit.chunk
        if c.kind == "reference":
            continue
        keys = [r["key"] for r in index.references_for(c, cand.start, cand.end) if r["key"] in entries]
        if keys:
            quoted = [entries[k] for k in keys[:MAX_SENTENCES]]
            return cand, [
                _Cand(Hit(chunk=e, score=cand.score, rank=0), 0, e.start, e.end, e.text, cand.score)
                for e in quoted
            ]
    return None


def _abstain(question: str, conf: float, hits: list[Hit], related=()) -> Answer:
    return Answer(
        question=question,
        answer="",
        abstained=True,
        confidence=conf,
        hits=tuple(hits),
        message=NO_ANSWER,
        related=related,
    )


def _compose(
    index, q: Question, question: str, chosen: list[_Cand], conf: float, hits: list[Hit], message: str
) -> Answer:
    """Quotes, citations (adjacent sentences of one page merged), highlights and the display text."""
    citations, highlights, quotes, shown = [], [], [], []
    for cand in chosen:
        chunk = cand.hit.chunk
        prev = citations[-1] if citations else None
        page = index.pages[(chunk.doc, chunk.page)].text
        if (
            prev
            and (prev.doc, prev.page) == (chunk.doc, chunk.page)
            and prev.end <= cand.start
            and _GAP.fullmatch(page, prev.end, cand.start)
        ):
            citations[-1] = _citation(index, prev.n, chunk, prev.start, cand.end, max(prev.score, cand.score))
        else:
            citations.append(_citation(index, len(citations) + 1, chunk, cand.start, cand.end, cand.score))
    for cit in citations:
        quotes.append(cit.quote)
        chunk = next(c.hit.chunk for c in chosen if c.hit.chunk.doc == cit.doc and c.start >= cit.start)
        row = chunk.kind == "table_row"
        shown.append(_row_display(chunk, q) if row else cit.quote)
        span = (row and _row_highlight(chunk, q, cit.start)) or _highlight(q, cit.quote)
        if span:
            a, b = span
            highlights.append(
                {"citation": cit.n, "start": cit.start + a, "end": cit.start + b, "text": cit.quote[a:b]}
            )
    return Answer(
        question=question,
        answer=" ".join(quotes),
        abstained=False,
        confidence=conf,
        citations=tuple(citations),
        hits=tuple(hits),
        highlights=tuple(highlights),
        display=" ".join(shown),
        message=message,
    )


def ask(index, question: str, history=None, docs=None, k: int = 8, retriever: str = "hybrid") -> Answer:
    """Answer with verbatim cited sentences, or abstain with related reading."""
    from qa.retrieve import search

    question = validate(question)
    effective = contextualise(question, history)
    message = "" if effective == question else f"Understood as: {effective}"
    q = parse_question(effective)
    qvec = index.embed_query(effective)
    pool = search(index, effective, k=max(k, CANDIDATE_HITS), docs=docs, retriever=retriever, qvec=qvec)
    hits = pool[:k]
    cands = _score(index, q, qvec, pool) if pool else []
    if not cands:
        return _abstain(question, 0.0, hits)
    # Rerank the leading sentences by score plus support: prefer one that holds what the question asks over
    # one that is merely similar.
    head = cands[:RERANK]
    feats = {id(c): features(index, q, c) for c in head}
    head.sort(key=lambda c: -(c.score + support(feats[id(c)])))
    cands[:RERANK] = head
    if q.about_sources:
        cited = _cited_entries(index, head)
        if cited:
            claim, entries = cited
            conf = confidence(feats[id(claim)])
            if conf >= ABSTAIN_BELOW:
                note = f"The document cites these for: \u201c{claim.text}\u201d"
                return _compose(index, q, question, entries, conf, hits, f"{message} {note}".strip())
    conf = confidence(feats[id(cands[0])])
    if conf < ABSTAIN_BELOW:
        return _abstain(question, conf, hits, _related(index, cands))
    return _compose(index, q, question, _select(q, cands), conf, hits, message)
