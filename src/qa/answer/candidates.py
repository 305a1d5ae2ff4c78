"""Candidate answers: every sentence (or whole table row / References entry) of the top hits, with what the
features read from it analysed once per index and kept."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.answer.text import AMOUNT, DATE, NEGATION, URL, is_stop, positioned_terms, stem, terms
from qa.records import Chunk, Hit
from qa.units import WHOLE

# A footnote line: a small marker number, then its text ("1 "IOWN®" is a trademark of NTT.").
FOOTNOTE = re.compile(r"^\d{1,2}\s+(?:[\"“'‘A-Z])")
BULLET_MARK = re.compile(r"[-–•▪◦●*][ \t]+")
# A list item's number split off as a sentence of its own ("1." "(b)" "iv."): what follows it is the item.
ENUMERATOR = re.compile(r"\s*\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)]\s*")
_CAP = re.compile(r"(?<![.!?]\s)\b[A-Z][A-Za-z&\-]+")
# A page number (arabic or roman) on a line of its own, and the marks a PDF's text leaves on lines of their
# own at a page's foot (footnote markers "(1)", "_", "®", "SM"), after a sentence that the page's end cuts.
_NUMBER = re.compile(r"\s*(?:\d{1,4}|[ivxlc]{1,6})\s*")
_FOOTER = re.compile(r"(?:\s*\n[ \t]*(?:\d{1,4}|[ivxlc]{1,6}|\(\w{1,4}\)|[_*®™†‡§]+|SM|TM)[ \t]*)+\s*$")
_ENDED = tuple('.!?:;"”’)]')


@dataclass(frozen=True)
class Unit:
    """One quotable unit as the features see it: its span, terms (with offsets) and what kinds of answer it
    holds."""

    start: int
    end: int
    text: str
    terms: tuple[tuple[str, int], ...]  # (stemmed term, offset in text)
    own: frozenset  # the unit's terms, a table row's with its header
    dates: tuple[tuple[int, int], ...]
    amounts: tuple[tuple[int, int], ...]
    caps: tuple[tuple[str, int, int], ...]  # (stemmed capitalised word, start, end); not a first stop word
    negated: bool
    footnote: bool
    leadin: bool  # ends with a colon: a list follows
    bullet: bool  # starts with a list marker, or follows one split off before it ("1.")
    heading: bool
    # A sentence a page break cuts in two: "next", this is its first half (it goes on in the first unit of the
    # next page's first chunk); "prev", its second half. Each half's ``own`` holds the whole sentence's terms.
    joins: str = ""


@dataclass
class Cand:
    hit: Hit
    pos: int  # unit number inside the chunk
    unit: Unit
    score: float = 0.0  # the learned model's probability that this unit holds the answer
    x: np.ndarray | None = field(default=None, repr=False)  # its feature vector

    @property
    def start(self) -> int:
        return self.unit.start

    @property
    def end(self) -> int:
        return self.unit.end

    @property
    def text(self) -> str:
        return self.unit.text


TERM_DF = "term_df.json"  # Stats as a build counted them, in the index folder (not in qa.index.FILES)


@functools.cache
def _code_key() -> str:
    """What the counts depend on: the source of the code that counts them (Stats here, terms in
    qa.answer.text), read once per process."""
    import qa.answer.text

    h = hashlib.sha256()
    for source in (qa.answer.text.__file__, __file__):
        h.update(Path(source).read_bytes())
    return h.hexdigest()[:16]


class Stats:
    """Document frequencies of terms over the chunks, computed once per index."""

    def __init__(self, chunks: list[Chunk], df: dict[str, int] | None = None) -> None:
        if df is None:  # not counted at build (qa.index.Index.saved_stats): count them now
            df = {}
            for c in chunks:
                for t in set(terms(f"{c.context} {c.text}")):
                    df[t] = df.get(t, 0) + 1
        self.df = df
        self.n = max(1, len(chunks))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def save(self, folder: Path) -> None:
        """Write the counts into an index folder, so the first question of a new process reads them instead
        of counting them (a tenth of a second on the shipped corpus)."""
        blob = {"key": _code_key(), "df": self.df}
        (folder / TERM_DF).write_text(json.dumps(blob, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, chunks: list[Chunk]) -> Stats | None:
        """The counts saved in ``folder``, if the code that counted them is this code; else None. That they
        were counted over these chunks is the caller's to know (qa.index: the manifest's checksums)."""
        try:
            blob = json.loads((folder / TERM_DF).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        df = blob.get("df") if isinstance(blob, dict) and blob.get("key") == _code_key() else None
        return cls(chunks, df) if isinstance(df, dict) else None


def stats(index) -> Stats:
    st = index.__dict__.get("_answer_stats")
    if st is None:
        saved = getattr(index, "saved_stats", None)
        st = index._answer_stats = (saved() if saved else None) or Stats(index.chunks)
    return st


def _spans(rx: re.Pattern, text: str, urls) -> tuple[tuple[int, int], ...]:
    return tuple(
        (m.start(), m.end()) for m in rx.finditer(text) if not any(a <= m.start() < b for a, b in urls)
    )


def _analyse(chunk: Chunk, page: str, a: int, b: int) -> Unit:
    bullet = BULLET_MARK.match(page, a, b)
    if bullet and bullet.end() < b:
        a = bullet.end()  # a quote starts at the words, not at a list marker
    text = page[a:b]
    pos_terms = tuple(positioned_terms(text))
    extra = terms(chunk.context) if chunk.kind in WHOLE else []
    urls = [(m.start(), m.end()) for m in URL.finditer(text)]
    return Unit(
        start=a,
        end=b,
        text=text,
        terms=pos_terms,
        own=frozenset([t for t, _ in pos_terms] + extra),
        dates=_spans(DATE, text, urls),
        amounts=_spans(AMOUNT, text, urls),
        caps=tuple(
            (stem(m.group(0)), m.start(), m.end())
            for m in _CAP.finditer(text)
            if m.start() > 0 or not is_stop(m.group(0))
        ),
        negated=bool(NEGATION.search(text)),
        footnote=bool(FOOTNOTE.match(text)),
        leadin=text.rstrip().endswith(":"),
        bullet=bool(bullet),
        heading=text in chunk.section or text.startswith("Source:") or len(text) < 12,
    )


def _analysed(index, chunk: Chunk) -> list[Unit]:
    """The chunk's units as its own text has them (no sentence joined across a page break)."""
    cache = index.__dict__.setdefault("_answer_raw_units", {})
    found = cache.get(chunk.id)
    if found is None:
        page = index.pages[(chunk.doc, chunk.page)].text
        spans = [(chunk.start, chunk.end)] if chunk.kind in WHOLE else chunk.sentences
        found = [_analyse(chunk, page, a, b) for a, b in spans]
        for i in range(1, len(found)):
            if ENUMERATOR.fullmatch(found[i - 1].text) and not found[i].heading:
                found[i] = replace(found[i], bullet=True)
        cache[chunk.id] = found
    return found


def beside(index, chunk: Chunk, step: int) -> Chunk | None:
    """The chunk ``step`` rows after (negative: before) ``chunk`` in the index's order; None past an end."""
    row = index.row_of[chunk.id] + step
    return index.chunks[row] if 0 <= row < len(index.chunks) else None


def next_page_chunk(index, chunk: Chunk) -> Chunk | None:
    """The first chunk of the next page when ``chunk`` ends its page and both are running text."""
    after = beside(index, chunk, 1)
    if after is None or after.doc != chunk.doc or after.page != chunk.page + 1:
        return None
    return after if chunk.kind == after.kind == "text" else None


def _cut(index, chunk: Chunk, after: Chunk | None) -> tuple[int, Unit, Unit] | None:
    """When a page break cuts the chunk's last sentence (it ends without a stop and the next page goes on in
    lower case): where the first half ends (before a page number under it) and the two halves as analysed."""
    if after is None:
        return None
    last, first = _analysed(index, chunk), _analysed(index, after)
    while last and _NUMBER.fullmatch(last[-1].text):  # the page number, split off as a unit of its own
        last = last[:-1]
    if not last or not first or first[0].heading:
        return None
    tail = last[-1]
    footer = _FOOTER.search(tail.text)
    end = tail.start + (footer.start() if footer else len(tail.text))
    text = tail.text[: end - tail.start].rstrip()
    if len(text) < 12 or text.endswith(_ENDED) or not first[0].text.lstrip()[:1].islower():
        return None
    return tail.start + len(text), tail, first[0]


def units(index, chunk: Chunk) -> list[Unit]:
    """The quotable units of a chunk, analysed once per index; a sentence a page break cuts is quoted in two
    halves, one per page, each of which reads the whole sentence's terms."""
    cache = index.__dict__.setdefault("_answer_units", {})
    found = cache.get(chunk.id)
    if found is None:
        found = list(_analysed(index, chunk))
        cut = _cut(index, chunk, next_page_chunk(index, chunk))
        if cut:
            end, tail, head = cut
            page = index.pages[(chunk.doc, chunk.page)].text
            half = _analyse(chunk, page, tail.start, end)
            at = next(i for i, u in enumerate(found) if u is tail)
            found[at] = replace(half, own=half.own | head.own, joins="next")
        before = beside(index, chunk, -1)
        cut = _cut(index, before, next_page_chunk(index, before)) if before is not None else None
        if cut:  # (a unit that also goes on into the next page keeps that link: one other half each)
            _, tail, head = cut
            found[0] = replace(found[0], own=found[0].own | tail.own, joins=found[0].joins or "prev")
        cache[chunk.id] = found
    return found


def other_half(index, cand: Cand) -> Cand | None:
    """The rest of a sentence a page break cuts: the next page's first unit, or the last page's last."""
    chunk = cand.hit.chunk
    if cand.unit.joins == "next":
        after = next_page_chunk(index, chunk)
        return Cand(replace(cand.hit, chunk=after), 0, units(index, after)[0], cand.score)
    if cand.unit.joins == "prev":
        before = beside(index, chunk, -1)
        found = [(i, u) for i, u in enumerate(units(index, before)) if u.joins == "next"]
        return Cand(replace(cand.hit, chunk=before), *found[-1], cand.score) if found else None
    return None


def chunk_terms(index, chunk: Chunk) -> frozenset:
    """Terms of the chunk with its neighbours on the same page, section path and document title: a box title
    or lead-in just before it counts, as does what the document is."""
    cache = index.__dict__.setdefault("_answer_passages", {})
    found = cache.get(chunk.id)
    if found is None:
        row = index.row_of[chunk.id]
        near = index.chunks[max(0, row - 1) : row + 2]
        title = index.documents.get(chunk.doc, {}).get("title") or ""
        text = " ".join(c.text for c in near if c.doc == chunk.doc and c.page == chunk.page)
        found = cache[chunk.id] = frozenset(
            terms(f"{text} {chunk.context} {' '.join(chunk.section)} {title} {index.authors_of(chunk.doc)}")
        )
    return found


def retrieved_terms(index, cands: list[Cand]) -> frozenset:
    """Every term of the passages the candidates come from (a unit's terms are its chunk's)."""
    hits = {c.hit.chunk.id: c.hit.chunk for c in cands}.values()
    return frozenset().union(*(chunk_terms(index, chunk) for chunk in hits))


def neighbours(index, cand: Cand) -> tuple[Unit | None, Unit | None]:
    """The units just before and after a candidate's in its chunk."""
    siblings = units(index, cand.hit.chunk)
    prev = siblings[cand.pos - 1] if cand.pos > 0 else None
    nxt = siblings[cand.pos + 1] if cand.pos + 1 < len(siblings) else None
    return prev, nxt


def candidates(index, hits: list[Hit]) -> list[Cand]:
    out = []
    for hit in hits:
        for pos, unit in enumerate(units(index, hit.chunk)):
            if not unit.heading:
                out.append(Cand(hit, pos, unit))
    return out


def unit_vectors(index, cands: list[Cand]) -> np.ndarray:
    """The stored vector of each candidate unit (a sentence, or a whole table row / References entry)."""
    rows = [index.unit_offsets[index.row_of[c.hit.chunk.id]] + c.pos for c in cands]
    return np.asarray(index.units[rows], dtype=np.float32)
