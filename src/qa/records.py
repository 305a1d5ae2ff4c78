"""Frozen records that cross module lines. Vectors never live here: they are numpy arrays in the index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.doc_identity import Identity


@dataclass(frozen=True)
class Heading:
    """A heading found on a page: its span in the page text, its level (1 = top) and its title."""

    start: int
    end: int
    level: int
    title: str


@dataclass(frozen=True)
class Page:
    """One normalised page. Every offset elsewhere refers to ``text``."""

    doc: str  # path relative to the corpus folder, POSIX separators
    page: int  # 1-based physical page
    text: str
    label: str | None = None  # printed page label, where the PDF has one
    headings: tuple[Heading, ...] = ()
    ocr: bool = False  # the text was read by OCR from the page's image (no text layer)
    ocr_confidence: float | None = None  # Tesseract's mean word confidence on the page, 0-100

    def to_dict(self) -> dict:
        return {
            "doc": self.doc,
            "page": self.page,
            "label": self.label,
            "text": self.text,
            "headings": [asdict(h) for h in self.headings],
            "ocr": self.ocr,
            "ocr_confidence": self.ocr_confidence,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Page:
        return cls(
            doc=d["doc"],
            page=d["page"],
            text=d["text"],
            label=d.get("label"),
            headings=tuple(Heading(**h) for h in d.get("headings", ())),
            ocr=bool(d.get("ocr", False)),
            ocr_confidence=d.get("ocr_confidence"),
        )


@dataclass(frozen=True)
class Document:
    """A corpus file that was read: its id (relative path), title, format and page count."""

    doc: str
    title: str
    format: str  # pdf | text | markdown | html
    pages: int
    url: str | None = None
    identity: Identity | None = None  # what it is (qa.doc_identity), where its reader found out: a PDF's

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: ``page_text[start:end] == text``; sentences are absolute page offsets."""

    id: str
    doc: str
    page: int
    start: int
    end: int
    text: str
    section: tuple[str, ...] = ()
    sentences: tuple[tuple[int, int], ...] = ()
    kind: str = "text"  # text | table_row | reference
    context: str = ""  # e.g. a table's title and header row; embedded with the text, never quoted
    refs: tuple[str, ...] = ()  # keys of the references (the document's own bibliography) it relies on

    def to_dict(self) -> dict:
        d = asdict(self)
        d["section"] = list(self.section)
        d["sentences"] = [list(s) for s in self.sentences]
        d["refs"] = list(self.refs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Chunk:
        return cls(
            id=d["id"],
            doc=d["doc"],
            page=d["page"],
            start=d["start"],
            end=d["end"],
            text=d["text"],
            section=tuple(d.get("section", ())),
            sentences=tuple(tuple(s) for s in d.get("sentences", ())),
            kind=d.get("kind", "text"),
            context=d.get("context", ""),
            refs=tuple(d.get("refs", ())),
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever ranks that produced it."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    lexical: float | None = None

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.id,
            "doc": c.doc,
            "page": c.page,
            "section": list(c.section),
            "score": round(self.score, 6),
            "dense": self.dense,
            "lexical": self.lexical,
            "start": c.start,
            "end": c.end,
            "text": c.text,
        }


@dataclass(frozen=True)
class Reference:
    """An entry of a document's own References list."""

    key: str  # e.g. "harris-2024"
    author: str
    year: str  # "2024", "2025a", "n.d."
    date: str | None
    title: str
    outlet: str | None
    url: str | None
    text: str  # the entry as written
    in_corpus: str | None = None  # corpus doc id holding a copy, if any

    def label(self) -> str:
        return f"{self.author} ({self.year})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from: enough to open the source at the page and find the exact characters."""

    n: int
    doc: str
    title: str
    page: int
    label: str | None
    section: tuple[str, ...]
    start: int
    end: int
    quote: str
    url: str | None = None
    score: float = 0.0
    references: tuple[dict, ...] = ()  # what the document itself cites for this quote
    evidence: tuple[dict, ...] = ()  # best passage of a cited source that is in the corpus
    ocr: bool = False  # the quoted page's text came from OCR ("p. 12, OCR")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["section"] = list(self.section)
        d["path"] = self.doc
        d["references"] = list(self.references)
        d["evidence"] = list(self.evidence)
        return d


ANSWER_KINDS = ("answer", "evidence", "abstain")


@dataclass(frozen=True)
class Answer:
    """An extractive answer (verbatim quotes), evidence (quoted figures that bear on the question when no
    sentence states the answer) or an abstention with related reading. ``abstained`` is true only for a bare
    abstention; ``kind`` tells the three apart."""

    question: str
    answer: str
    abstained: bool
    confidence: float
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    highlights: tuple[dict, ...] = ()  # {"citation": n, "start": abs offset, "end": abs offset, "text": ...}
    message: str = ""
    display: str = ""  # the answer as shown (table rows with their header); equals answer for prose
    related: tuple[Citation, ...] = field(default=())
    # A question across documents: one {"doc", "title", "confidence", "citations": (Citation, ...)} per
    # document answering, in column order (its citations are also in ``citations``); empty otherwise.
    by_document: tuple[dict, ...] = ()
    kind: str = ""  # answer | evidence | abstain; empty: read from ``abstained``

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "abstain" if self.abstained else "answer")
        if self.kind not in ANSWER_KINDS:
            raise ValueError(f"unknown answer kind {self.kind!r} (one of {', '.join(ANSWER_KINDS)})")
        if self.abstained != (self.kind == "abstain"):
            raise ValueError(f"an answer of kind {self.kind!r} cannot have abstained={self.abstained}")

    @property
    def answered(self) -> bool:
        """The quotes state the answer (not evidence, not an abstention)."""
        return self.kind == "answer"

    def to_dict(self) -> dict:
        d = {
            "question": self.question,
            "answer": self.answer,
            "display": self.display or self.answer,
            "kind": self.kind,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "message": self.message,
            "highlights": list(self.highlights),
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "hits": [h.to_dict() for h in self.hits],
        }
        if self.by_document:
            d["by_document"] = [
                {**col, "citations": [c.to_dict() for c in col["citations"]]} for col in self.by_document
            ]
        return d
