"""Dense + lexical search, reciprocal-rank fusion, document filters. Pure over a loaded Index."""

from __future__ import annotations

import numpy as np

from qa.doc_identity import named_documents, without_names
from qa.records import Hit

RETRIEVERS = ("dense", "bm25", "hybrid")
RRF_K = 60  # the usual constant: damps the head of each ranking so neither retriever dominates


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


def lexical_ranking(index, query: str, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
    scores = index.lexical.scores(query)
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

    Hybrid search fuses the two rankings with RRF, after each retriever's top ``leaders``: a passage only one
    retriever ranks first (an exact phrase BM25 finds) is not pushed down by fusion."""
    if retriever not in RETRIEVERS:
        raise ValueError(f"unknown retriever '{retriever}' (choose from {', '.join(RETRIEVERS)})")
    docs = index.resolve_docs(docs)
    words = query
    if not docs and (docs := named_documents(query, index.identities)):
        words = without_names(query, [index.identities[d] for d in docs])
    rows = None if not docs else np.concatenate([index.doc_rows[d] for d in docs if d in index.doc_rows])
    n = len(index.chunks) if rows is None else len(rows)
    k = max(1, min(k, n))
    if n == 0:
        return []
    depth = max(k, 50)
    dense = lexical = []
    if retriever in ("dense", "hybrid"):
        qvec = index.embed_query(query) if qvec is None else qvec
        dense = dense_ranking(index, qvec, depth, rows)
    if retriever in ("bm25", "hybrid"):
        lexical = lexical_ranking(index, words, depth, rows)
    dense_of, lex_of = dict(dense), dict(lexical)
    if retriever == "dense":
        ranked = dense[:k]
    elif retriever == "bm25":
        ranked = lexical[:k]
    else:
        fused = fuse([dense, lexical], len(dense) + len(lexical))
        ranked = _with_leaders(fused, [dense, lexical], k, leaders)
    return [
        Hit(chunk=index.chunks[row], score=score, rank=r, dense=dense_of.get(row), lexical=lex_of.get(row))
        for r, (row, score) in enumerate(ranked, start=1)
    ]
