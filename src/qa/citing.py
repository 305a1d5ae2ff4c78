"""Link a document's own citations into the index, and follow them at answer time.

At build time: for every document with a References list, parse it, find its in-text citations, store on
each chunk the reference keys its sentences rely on, and write ``references.json`` (entries + citations). A
corpus file that the catalogue (``corpus/sources.json``) names as a copy of a reference takes its URL.
At answer time: the references behind a quoted span, and the best passage of a cited source in the corpus.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qa.records import Chunk, Document, Page
from qa.references import (
    InTextCitation,
    attach_catalogue,
    find_citations,
    load_catalogue,
    parse_references,
    reference_spans,
    refs_for_span,
)


def link_documents(corpus: Path, docs: list) -> tuple[list, dict]:
    """(docs with chunk refs and copy URLs, bibliography {doc: {"references": [...], "citations": [...]}})."""
    catalogue = load_catalogue(corpus)
    bibliography: dict[str, dict] = {}
    out = []
    for doc, pages, chunks, src in docs:
        refs, cites = _link_pages(doc, pages, catalogue)
        if refs:
            bibliography[doc.doc] = {
                "references": [r.to_dict() for r in refs],
                "citations": [dict(c.to_dict(), page=p) for p, cs in cites.items() for c in cs],
            }
            chunks = [_with_refs(c, cites.get(c.page, []), refs, pages) for c in chunks]
        out.append((doc, pages, chunks, src))
    urls = copy_urls(bibliography)
    out = [(replace(d, url=urls[d.doc]) if d.doc in urls and not d.url else d, p, c, s) for d, p, c, s in out]
    return out, bibliography


def copy_urls(bibliography: dict) -> dict[str, str]:
    """{document: URL} for every document of the corpus that a References entry (with a URL) is a copy of."""
    return {
        entry["in_corpus"]: entry["url"]
        for b in bibliography.values()
        for entry in b["references"]
        if entry.get("in_corpus") and entry.get("url")
    }


def _link_pages(doc: Document, pages: list[Page], catalogue: dict):
    refs = []
    for page in pages:
        refs += parse_references(page.text)
    if not refs:
        return [], {}
    refs = attach_catalogue(refs, catalogue, doc.doc)
    return refs, {page.page: find_citations(page.text, refs) for page in pages}


def _with_refs(chunk: Chunk, cites: list[InTextCitation], refs, pages: list[Page]) -> Chunk:
    if chunk.kind == "reference":
        page = next(p for p in pages if p.page == chunk.page)
        keys = tuple(r.key for a, b, r in reference_spans(page.text) if a < chunk.end and b > chunk.start)
    else:
        keys = refs_for_span(cites, chunk.start, chunk.end)
    return replace(chunk, refs=keys) if keys != chunk.refs else chunk


class Bibliography:
    """The loaded ``references.json``: what a quoted span relies on, and where a cited copy says it."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.entries = {doc: {r["key"]: r for r in b["references"]} for doc, b in data.items()}
        self.authors = {}
        for b in data.values():
            for r in b["references"]:
                if r.get("in_corpus"):
                    self.authors.setdefault(r["in_corpus"], r["author"])

    def authors_of(self, doc: str) -> str:
        return self.authors.get(doc, "")

    def references(self) -> list[dict]:
        return [dict(r, cited_by=doc) for doc, b in self.data.items() for r in b["references"]]

    def for_span(self, doc: str, page: int, start: int, end: int) -> list[dict]:
        """Reference entries behind the text [start, end) of a page, with a display label."""
        if doc not in self.data:
            return []
        cites = [
            InTextCitation(
                start=c["start"],
                end=c["end"],
                raw=c["raw"],
                kind=c["kind"],
                keys=tuple(c["keys"]),
                unresolved=tuple(c["unresolved"]),
                applies=tuple(c["applies"]),
            )
            for c in self.data[doc]["citations"]
            if c["page"] == page
        ]
        entries = self.entries[doc]
        return [
            dict(entries[k], label=f"{entries[k]['author']} ({entries[k]['year']})")
            for k in refs_for_span(cites, start, end)
            if k in entries
        ]


def follow(index, quote: str, references: list[dict]) -> list[dict]:
    """For each cited reference with a copy in the corpus, the passage of that copy that best matches."""
    out = []
    for ref in references:
        doc = ref.get("in_corpus")
        if not doc or doc not in index.documents:
            continue
        hits = index.search(quote, k=1, docs=[doc])
        if hits:
            h = hits[0]
            page = index.pages[(h.chunk.doc, h.chunk.page)]
            out.append(
                {
                    "reference": ref["key"],
                    "doc": h.chunk.doc,
                    "title": index.documents[doc].get("title"),
                    "page": h.chunk.page,
                    "label": page.label,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "text": h.chunk.text,
                    "score": round(h.score, 4),
                }
            )
    return out
