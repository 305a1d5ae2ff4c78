"""The vector store: FAISS inner-product indexes behind add / search / save / load.

The embedded default. Retrieval reads an index's ``store`` (``search(query, k)``, ``ntotal``), ``vectors``
(rows by number) and ``lexical`` (``scores(query)``); ``qa.milvus.load`` gives an index the same three
backed by Milvus, so retrieval and answering run unchanged on either.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

KINDS = ("flat", "hnsw", "ivf")
# Measured by `make bench` (bench/results): exact search on one thread takes ~6.5 ms at 50,000 vectors and
# grows linearly (132 ms at 10^6); HNSW (M=16, efConstruction=40, efSearch=64) keeps recall@10 ≥ 0.99 at
# under 0.5 ms up to 10^6. Above this size `auto` picks HNSW.
AUTO_HNSW_ABOVE = 50_000


def _faiss():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    faiss.omp_set_num_threads(int(os.environ.get("QA_FAISS_THREADS", "1")))
    return faiss


def choose_kind(kind: str, n: int) -> str:
    if kind == "auto":
        return "hnsw" if n > AUTO_HNSW_ABOVE else "flat"
    if kind not in KINDS:
        raise ValueError(f"unknown dense index kind '{kind}' (choose from auto, {', '.join(KINDS)})")
    return kind


class VectorStore:
    def __init__(self, index, kind: str) -> None:
        self.index = index
        self.kind = kind

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 16, ef_search: int = 64
    ) -> VectorStore:
        faiss = _faiss()
        n, dim = vectors.shape
        kind = choose_kind(kind, n)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 40
            index.hnsw.efSearch = ef_search
        elif kind == "ivf" and n >= 64:
            nlist = max(8, int(np.sqrt(n)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors[np.random.default_rng(0).permutation(n)[: max(nlist * 40, 10_000)]])
            index.nprobe = min(nlist, 24)  # recall@10 0.98-0.99 at 1-3 ms at 10^6 (bench)
        else:
            kind = "flat"
            index = faiss.IndexFlatIP(dim)
        if n:
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest rows by inner product; ids of -1 are padding."""
        k = max(1, min(k, self.ntotal))
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return scores[0], ids[0]

    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str) -> VectorStore:
        return cls(_faiss().read_index(str(path)), kind)
