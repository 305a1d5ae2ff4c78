"""Candidate answers: every sentence (or whole table row / References entry) of the top hits, with what the
features read from it analysed once per index and kept."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.answer.text import AMOUNT, DATE, NEGATION, URL, is_stop, positioned_terms, stem, terms
from qa.records import Chunk, Hit
from qa.units import WHOLE

# A footnote line: a small marker number, then its text ("1 "IOWN®" is a trademark of NTT.").
FOOTNOTE = re.compile(r"^\d{1,2}\s+(?:[\"“'‘A-Z])")
BULLET_MARK = re.compile(r"[-–•▪◦●*][ \t]+")
_CAP = re.compile(r"(?<![.!?]\s)\b[A-Z][A-Za-z&\-]+")


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
    bullet: bool  # starts with a list marker
    heading: bool


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


def units(index, chunk: Chunk) -> list[Unit]:
    """The quotable units of a chunk, analysed once per index."""
    cache = index.__dict__.setdefault("_answer_units", {})
    found = cache.get(chunk.id)
    if found is None:
        page = index.pages[(chunk.doc, chunk.page)].text
        spans = [(chunk.start, chunk.end)] if chunk.kind in WHOLE else chunk.sentences
        found = cache[chunk.id] = [_analyse(chunk, page, a, b) for a, b in spans]
    return found


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
