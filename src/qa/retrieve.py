"""Dense + lexical search, reciprocal-rank fusion, document filters. Pure over a loaded Index.

Hybrid search also ranks the pages that hold a table (a financial statement) as wholes: a statement's
evidence is spread over its rows ("Is the business capital-intensive?" is read from a balance sheet's assets,
its title and its years), none of which says it alone. Its best row then stands for it among the top hits,
its other rows come after the other pages' and passages' (``PER_TABLE_PAGE``). An acronym the question
writes for a line item ("PP&E", "PPNE", "SG&A") is searched for by BM25 as the row label whose initials it
spells, as the searched documents write it ("Property, plant and equipment").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from qa.doc_identity import acronyms, named_documents, without_names
from qa.records import Hit

RETRIEVERS = ("dense", "bm25", "hybrid")
RRF_K = 60  # the usual constant: damps the head of each ranking so neither retriever dominates
TABLE_ROWS = 3  # a page with this many table rows is a table page, ranked as a whole as well as by its rows
PER_TABLE_PAGE = 1  # rows of one table page among the top hits before other pages' (hybrid)
_LABEL_WORDS = 6  # longest run of a row label's words an acronym is read as


@dataclass(frozen=True)
class Layout:
    """Where each chunk lies, computed once per index: its unit (its table page, else the chunk itself) and
    the rows of each unit (``order[bounds[u]:bounds[u + 1]]``)."""

    unit: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    def members(self, u: int) -> np.ndarray:
        return self.order[self.bounds[u] : self.bounds[u + 1]]

    def size(self, u: int) -> int:
        return int(self.bounds[u + 1] - self.bounds[u])


@dataclass
class Tables:
    """What searches work out about an index's table pages, once per index (``Index.tables`` holds it): the
    ``Layout``, at its first hybrid search, and each document's ``row_labels``, at the first search inside
    the document that writes an acronym."""

    layout: Layout | None = None
    labels: dict[str, dict[str, Counter]] = field(default_factory=dict)


def layout(index) -> Layout:
    tables = index.tables
    if tables.layout is None:
        tables.layout = _layout(index)
    return tables.layout


def _layout(index) -> Layout:
    chunks = index.chunks
    rows_on = Counter((c.doc, c.page) for c in chunks if c.kind == "table_row")
    paged = {d for d, f in index.documents.items() if (f or {}).get("pages", 1) > 1}
    unit_ids: dict = {}
    unit = np.empty(len(chunks), dtype=np.int64)
    for i, c in enumerate(chunks):
        key = (c.doc, c.page) if c.doc in paged and rows_on[(c.doc, c.page)] >= TABLE_ROWS else i
        unit[i] = unit_ids.setdefault(key, len(unit_ids))
    order = np.argsort(unit, kind="stable")
    bounds = np.searchsorted(unit[order], np.arange(len(unit_ids) + 1))
    return Layout(unit, order, bounds)


def row_labels(index, doc: str) -> dict[str, Counter]:
    """A document's table-row labels by their initials (``label_initials``), read once per index and
    document when a search inside it first writes an acronym."""
    cache = index.tables.labels
    got = cache.get(doc)
    if got is None:
        got = cache[doc] = {}
        for r in index.doc_rows.get(doc, ()):
            c = index.chunks[int(r)]
            if c.kind == "table_row":
                for initials, phrase in label_initials(c.text.split("\t")[0]):
                    got.setdefault(initials, Counter())[phrase] += 1
    return got


def label_initials(label: str) -> list[tuple[str, str]]:
    """(initials, words) of each run of a row label's words: "Property, plant and equipment, net" gives
    ("ppe", …) and ("ppne", "property plant and equipment"): "and" is skipped or written "n" ("JnJ")."""
    ws = re.findall(r"[a-z0-9]+", label.lower())
    out = []
    for i in range(len(ws)):
        for j in range(i + 2, min(i + _LABEL_WORDS, len(ws)) + 1):
            run = ws[i:j]
            if "and" in (run[0], run[-1]):
                continue
            phrase = " ".join(run)
            skipped = "".join(w[0] for w in run if w != "and")
            written = "".join("n" if w == "and" else w[0] for w in run)
            out += [(k, phrase) for k in dict.fromkeys((skipped, written)) if len(k) >= 2]
    return out


def expand_acronyms(index, words: str, docs: list[str] | None) -> str:
    """The query with, after each acronym it writes, the row label of each searched document whose initials
    it spells (the one most of its rows write): "PPNE" → "property plant and equipment". Only inside some
    documents (named by the question or chosen), whose line items they are; unchanged where none fits."""
    # "PP&E", "SG&A", "R&D", "EBIT": three capitals or more, or two around an "&" ("AI", "US" are words)
    found = {t: caps for t, caps in acronyms(words).items() if "&" in t or len(caps) >= 3}
    if not found or not docs:
        return words
    extra = []
    for token, capitals in found.items():
        spelled = "".join(ch for ch in token if ch.isalpha()).lower()  # "PPnE": the n for "and"
        for d in docs:
            fits = Counter()
            for key in dict.fromkeys((capitals, spelled)):
                fits.update(row_labels(index, d).get(key, Counter()))
            if fits:
                extra.append(max(fits, key=lambda p: (fits[p], p)))
    extra = list(dict.fromkeys(extra))
    return f"{words} {' '.join(extra)}" if extra else words


def _top(scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, len(rows))
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return [(int(rows[i]), float(scores[i])) for i in order]


def dense_ranking(index, qvec: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
    if rows is None:
        scores, ids = index.store.search(qvec, k)
        return [(int(i), float(s)) for s, i in zip(scores, ids, strict=True) if i >= 0]
    sims = np.asarray(index.vectors[rows] @ qvec, dtype=np.float32)  # exact inside a document filter
    return _top(sims, rows, k)


def lexical_ranking(scores: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
    """The top ``k`` rows (of ``rows``, else all) by their BM25 ``scores`` over the index, those above 0."""
    rows = np.arange(len(scores)) if rows is None else rows
    sub = scores[rows]
    return [(r, s) for r, s in _top(sub, rows, k) if s > 0]


def fuse(rankings: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score = sum over rankings of 1 / (RRF_K + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def page_terms(
    index, qvec: np.ndarray, lex_scores: np.ndarray, candidates: list[int]
) -> dict[int, float] | None:
    """The RRF terms of two more rankings, for each candidate row: of the units the candidates lie in (a
    table page, else the chunk itself) by the sum of their chunks' BM25 scores and by their chunks' mean
    similarity to the query. None where no candidate lies on a table page (nothing changes)."""
    lay = layout(index)
    units = list(dict.fromkeys(int(lay.unit[r]) for r in candidates))
    members = [lay.members(u) for u in units]
    if all(len(m) == 1 for m in members):  # a table page has TABLE_ROWS rows or more
        return None
    flat = np.concatenate(members)
    sims = np.asarray(index.vectors[flat] @ qvec, dtype=np.float64)
    cuts = np.cumsum([len(m) for m in members])[:-1]
    lexical = [float(lex_scores[m].sum()) for m in members]
    dense = [float(s.mean()) for s in np.split(sims, cuts)]
    term: dict[int, float] = {}
    for scores in (lexical, dense):
        order = sorted(range(len(units)), key=lambda i: (-scores[i], units[i]))
        for rank, i in enumerate(order, start=1):
            term[units[i]] = term.get(units[i], 0.0) + 1.0 / (RRF_K + rank)
    return {r: term[int(lay.unit[r])] for r in candidates}


def spread(index, ranked: list[tuple[int, float]], per_page: int | None = None) -> list[tuple[int, float]]:
    """The ranking with at most ``per_page`` rows of one table page first (in order), then the others: the
    page is ranked as a whole, so its rows would otherwise crowd the top hits (passages stay in place)."""
    per_page = PER_TABLE_PAGE if per_page is None else per_page
    lay = layout(index)
    seen: Counter = Counter()
    first, later = [], []
    for row, score in ranked:
        unit = int(lay.unit[row])
        seen[unit] += 1
        table = lay.size(unit) > 1
        (later if table and seen[unit] > per_page else first).append((row, score))
    return first + later


def _with_leaders(
    fused: list[tuple[int, float]], rankings: list[list[tuple[int, float]]], k: int, leaders: int
) -> list[tuple[int, float]]:
    """Each retriever's top ``leaders`` first, then the rest, each part in fused (RRF) order."""
    must = {row for ranking in rankings for row, _ in ranking[:leaders]}
    return (
        [(row, s) for row, s in fused if row in must] + [(row, s) for row, s in fused if row not in must]
    )[:k]


def search(
    index,
    query: str,
    k: int = 5,
    docs: list[str] | None = None,
    retriever: str = "hybrid",
    qvec: np.ndarray | None = None,
    leaders: int = 1,
) -> list[Hit]:
    """Ranked hits; k is clamped to the chunks available; ``docs`` restricts to some documents. Without
    ``docs``, a query that names documents (their company, and the period or form that tells two filings
    of one company apart: qa.doc_identity) searches those, BM25 for the words it asks besides the name (so
    passages that repeat the name don't outrank those with the asked words); one that names none searches
    everything.

    Hybrid search fuses the two rankings with RRF (and, where table pages are among the candidates, the two
    rankings of ``page_terms``), after each retriever's top ``leaders``: a passage only one retriever ranks
    first (an exact phrase BM25 finds) is not pushed down by fusion. Then one row of each table page comes
    before the other pages' hits, its other rows after them (``spread``; a second leader on the same page
    too)."""
    if retriever not in RETRIEVERS:
        raise ValueError(f"unknown retriever '{retriever}' (choose from {', '.join(RETRIEVERS)})")
    docs = index.resolve_docs(docs)
    words = query
    if not docs and (docs := named_documents(query, index.identities)):
        words = without_names(query, [index.identities[d] for d in docs])
    words = expand_acronyms(index, words, docs)
    rows = None if not docs else np.concatenate([index.doc_rows[d] for d in docs if d in index.doc_rows])
    n = len(index.chunks) if rows is None else len(rows)
    k = max(1, min(k, n))
    if n == 0:
        return []
    depth = max(k, 50)
    dense = lexical = []
    lex_scores = None
    if retriever in ("dense", "hybrid"):
        qvec = index.embed_query(query) if qvec is None else qvec
        dense = dense_ranking(index, qvec, depth, rows)
    if retriever in ("bm25", "hybrid"):
        lex_scores = index.lexical.scores(words)
        lexical = lexical_ranking(lex_scores, depth, rows)
    dense_of, lex_of = dict(dense), dict(lexical)
    if retriever == "dense":
        ranked = dense[:k]
    elif retriever == "bm25":
        ranked = lexical[:k]
    else:
        fused = fuse([dense, lexical], len(dense) + len(lexical))
        terms = page_terms(index, qvec, lex_scores, [row for row, _ in fused])
        if terms:
            fused = sorted(((r, s + terms[r]) for r, s in fused), key=lambda kv: (-kv[1], kv[0]))
        ranked = spread(index, _with_leaders(fused, [dense, lexical], len(fused), leaders))[:k]
    return [
        Hit(chunk=index.chunks[row], score=score, rank=r, dense=dense_of.get(row), lexical=lex_of.get(row))
        for r, (row, score) in enumerate(ranked, start=1)
    ]
