"""An index read back from Milvus as a ``qa.index.Index``: retrieval and answering run unchanged on it.

The manifest, references, pages and chunk fields come into memory (the answer step reads every chunk's
terms and a page's text around each quote); the dense vectors, the sentence vectors and BM25 stay in
Milvus and are searched or fetched there per question. ``latest()`` notices another replica's update with
one query and loads the new generation, so a replica holds nothing on local disk and never goes stale.
Each search or answer is checked afterwards with one more query (``intact``): a request that began on a
generation just before an update moved the alias away from it may still be reading it when the next update
rewrites it as the standby; such a request is answered again from the live generation.
"""

from __future__ import annotations

import threading

import numpy as np

from qa.citing import Bibliography
from qa.errors import IndexProblem
from qa.index import Index
from qa.milvus import Location
from qa.milvus.manifest import live_meta
from qa.milvus.store import (
    TOPK_MAX,
    CollectionGone,
    MilvusStore,
    MilvusUnavailable,
    bm25_terms,
    key,
    unit_key,
)
from qa.records import Chunk, Page
from qa.units import unit_offsets

TRIES = 3  # answers of one request before it gives up on an index rewritten under it each time
_request = threading.local()  # whether this thread is inside a checked request (an answer searches)


class _Rows:
    """Vectors of ``keys[row]`` fetched from one collection on indexing, as ``index.vectors[rows]`` is."""

    def __init__(self, store: MilvusStore, gen: str, part: str, keys, dim: int) -> None:
        self.store, self.gen, self.part, self.keys, self.dim = store, gen, part, keys, dim

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.keys), self.dim)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, rows) -> np.ndarray:
        """Rows by a sequence of row numbers (what retrieval and the answer step index with)."""
        picked = np.asarray(rows, dtype=np.int64).reshape(-1)
        return self.store.vectors(self.gen, self.part, [self.keys[int(r)] for r in picked])


class _UnitKeys:
    """The Milvus key of sentence-vector row ``i`` (rows in chunk order, as in ``sentences.npy``)."""

    def __init__(self, chunks: list[Chunk], offsets: np.ndarray) -> None:
        self.chunks, self.offsets = chunks, offsets

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> str:
        row = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return unit_key(self.chunks[row].id, i - int(self.offsets[row]))


class _Dense:
    """``index.store``: nearest chunks by inner product, searched in Milvus."""

    def __init__(self, index: MilvusIndex) -> None:
        self.index = index

    @property
    def ntotal(self) -> int:
        return len(self.index.chunks)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k nearest chunks. Chunks with equal scores (identical vectors: a header
        repeated on many pages) come highest row first, as FAISS returns them, so both stores give the
        same ranking; a tie reaching past what was fetched is fetched whole first."""
        idx = self.index
        dense, n = idx.manifest["dense"]["kind"], self.ntotal
        k = max(1, min(k, n))
        limit = min(n, TOPK_MAX, k + 16)
        while True:
            hits = idx.milvus.search_dense(idx.gen, query, limit, dense, n)
            found = [(idx.row_of_key[c], s) for c, s in hits]
            if len(found) < limit or limit >= min(n, TOPK_MAX) or found[k - 1][1] != found[-1][1]:
                break
            limit = min(n, TOPK_MAX, limit * 4)
        found = sorted(found, key=lambda rs: (-rs[1], -rs[0]))[:k]
        rows = np.asarray([r for r, _ in found], dtype=np.int64)
        return np.asarray([s for _, s in found], dtype=np.float32), rows


class _Bm25:
    """``index.lexical``: BM25 scores of the chunks, computed by Milvus over the same terms as bm25s."""

    def __init__(self, index: MilvusIndex) -> None:
        self.index = index

    def scores(self, query: str) -> np.ndarray:
        """Scores of the best ``TOPK_MAX`` chunks (every match up to that corpus size), zero elsewhere."""
        idx = self.index
        out = np.zeros(len(idx.chunks), dtype=np.float32)
        terms = bm25_terms([query], idx.manifest["bm25"]["stemmer"])[0]
        k1 = idx.manifest["bm25"]["k1"]
        for cid, score in idx.milvus.search_bm25(idx.gen, terms, min(len(idx.chunks), TOPK_MAX), k1):
            out[idx.row_of_key[cid]] = score
        return out


class MilvusIndex(Index):
    """An ``Index`` whose vectors and BM25 live in Milvus, at one generation of it."""

    def __init__(self, milvus: MilvusStore, gen: str, number: int, meta: dict, pages, chunks, embedder):
        manifest = meta["manifest"]
        dim = manifest["model"]["dim"]
        super().__init__(milvus.location, manifest, pages, chunks, None, None, None, embedder)
        self.milvus, self.gen, self.generation = milvus, gen, number
        self.row_of_key = {key(c.id): i for i, c in enumerate(chunks)}
        self.vectors = _Rows(milvus, gen, "chunks", [c.id for c in chunks], dim)
        self.store, self.lexical = _Dense(self), _Bm25(self)
        self.unit_offsets = unit_offsets(chunks)
        self.units = _Rows(milvus, gen, "units", _UnitKeys(chunks, self.unit_offsets), dim)
        self.bibliography = Bibliography(meta["references"])
        self._examples = meta.get("examples") or {}
        self._newer: MilvusIndex | None = None
        self._checking = threading.Lock()

    def examples(self) -> list[str]:
        """The example questions the build drew (stored with the generation's manifest)."""
        return [q for q in self._examples.get("questions", []) if isinstance(q, str)]

    def search(self, *args, **kwargs):
        return self._whole(Index.search, *args, **kwargs)

    def ask(self, *args, **kwargs):
        return self._whole(Index.ask, *args, **kwargs)

    def intact(self) -> bool:
        """Whether this generation is still the one loaded. An update marks the standby (clears its number:
        ``MilvusStore.clear_meta``, or drops it) before it touches anything of it, so a request that finds
        the number unchanged after it read nothing of a rewrite (one query, at strong consistency)."""
        try:
            return self.milvus.generation(self.gen, strong=True) == self.generation
        except CollectionGone:  # dropped to be made again (another model or index kind)
            return False

    def _whole(self, call, *args, **kwargs):
        """``call`` (a search, an answer) on this generation, checked afterwards: a request that checked the
        alias just before an update moved it may still read this generation while the next update rewrites
        it as the standby; then it is answered again, from the live generation."""
        if getattr(_request, "open", False):  # inside a request already (an answer searches): checked once
            return call(self, *args, **kwargs)
        _request.open = True
        try:
            idx = self
            for _ in range(TRIES):
                try:
                    result, error = call(idx, *args, **kwargs), None
                except MilvusUnavailable as e:
                    if not isinstance(e, CollectionGone):
                        raise  # Milvus is down: said at once, not after another try
                    result, error = None, e
                except Exception as e:  # a half-written generation can fail in any way: judged below
                    result, error = None, e
                if idx.intact():
                    if error is not None:
                        raise error
                    return result
                idx = self.latest(wait=True)
        finally:
            _request.open = False
        where = self.milvus.location
        raise IndexProblem(
            f"the index in Milvus at {where.uri} (collection {where.collection}) was rewritten under this "
            f"request {TRIES} times in a row; ask again"
        )

    def latest(self, wait: bool = False) -> Index:
        """This index, or the generation an update (through any replica) has swapped in since. While one
        request loads a new generation, the others answer from the one they have (``wait``: or wait for
        it, as a request that found its generation rewritten does)."""
        if not self._checking.acquire(blocking=wait):
            return self._newer or self
        try:
            have = self._newer or self
            gen = self.milvus.live()
            if gen is not None and self._moved(have, gen, strong=wait):
                self._newer = load_milvus(self.milvus.location, embedder=self._embedder, store=self.milvus)
            return self._newer or self
        finally:
            self._checking.release()

    def _moved(self, have: MilvusIndex, gen: str, strong: bool) -> bool:
        """Whether the live generation ``gen`` is another than the one ``have`` holds. Before a request the
        number is read at bounded staleness (an update this read misses, ``intact`` catches after the
        request, and its retry reads ``strong``); a change it shows is read again at strong consistency,
        since a view older than a generation loaded moments ago would otherwise load that one again."""
        if gen != have.gen:
            return True
        if self.milvus.generation(gen, strong=strong) == have.generation:
            return False
        return strong or self.milvus.generation(gen, strong=True) != have.generation


def load_milvus(
    location: Location, model: str | None = None, embedder=None, store: MilvusStore | None = None
) -> MilvusIndex:
    """Read the live generation; an update that swaps in meanwhile is read again (at most three tries)."""
    store = store or MilvusStore(location)
    for _ in range(3):
        gen, meta = live_meta(store)
        number = store.generation(gen, strong=True)
        manifest = meta["manifest"]
        if model and model != manifest["model"]["id"]:
            raise IndexProblem(
                f"the index in Milvus at {location.uri} (collection {location.collection}) was built with "
                f"model '{manifest['model']['id']}', not '{model}'"
            )
        pages = [Page.from_dict(p) for p in store.pages(gen)]
        rank = {doc: i for i, doc in enumerate(meta["order"])}
        rows = sorted(store.chunks(gen), key=lambda r: (rank.get(r["doc"], len(rank)), r["pos"]))
        if store.live() == gen and store.generation(gen, strong=True) == number:
            break
    chunks = [Chunk.from_dict(r) for r in rows]
    n = manifest["counts"]["chunks"]
    if len(chunks) != n or any(d not in rank for d in {c.doc for c in chunks}):
        raise IndexProblem(
            f"the index in Milvus at {location.uri} (collection {location.collection}) is inconsistent: "
            f"the manifest says {n} chunks, Milvus holds {len(chunks)}; rebuild it with: "
            f"qa index --rebuild --milvus-uri {location.uri} --collection {location.collection}"
        )
    return MilvusIndex(store, gen, number, meta, pages, chunks, embedder)
