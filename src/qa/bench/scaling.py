"""The scaling section: flat, IVF and HNSW over nested synthetic corpora (random unit vectors plus planted
near-duplicates of real question embeddings, so recall@10 against flat is measurable)."""

from __future__ import annotations

import os
import time

import numpy as np

from qa.bench.common import _pinned_faiss, _rss, _timed, latency_summary, log

RECALL_K = 10


DIM = 384


SEED = 20240611


PLANTED_SIMS = tuple(float(c) for c in np.linspace(0.95, 0.6, 10))  # cosine of each planted copy to its query


FULL_SIZES = (10_000, 100_000, 1_000_000)


QUICK_SIZES = (1_000, 10_000)


# HNSW as the bench builds it at every size. efConstruction 80 (store.py) on random 384-d vectors needs
# ~30 min at 10^6 on 2 cores; 40 halves the build. The store's own parameters are measured up to
# STORE_HNSW_MAX.
HNSW_TUNED = {"M": 16, "efConstruction": 40}


STORE_HNSW_MAX = 100_000


EF_SWEEP = (16, 32, 64, 128, 256)


NPROBE_SWEEP = (1, 4, 8, 16, 32, 64, 128)


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int = RECALL_K) -> float:
    """Mean over queries of |found[:k] ∩ truth[:k]| / |truth[:k]|; ids of −1 (padding) count for nothing."""
    found, truth = np.atleast_2d(found), np.atleast_2d(truth)
    if found.shape[0] != truth.shape[0]:
        raise ValueError("found and truth need one row per query")
    scores = []
    for f, t in zip(found, truth, strict=True):
        want = {int(i) for i in t[:k] if i >= 0}
        if want:
            scores.append(len(want & {int(i) for i in f[:k] if i >= 0}) / len(want))
    return float(np.mean(scores)) if scores else float("nan")


def faiss_bytes(index) -> int:
    """Size of faiss.write_index output, counted without holding a copy."""
    faiss = _pinned_faiss()
    total = [0]

    def count(chunk) -> int:
        total[0] += len(chunk)
        return len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total[0]


def synthetic_vectors(
    n: int, queries: np.ndarray, sims=PLANTED_SIMS, seed: int = SEED, plant_within: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """n random unit vectors (float32) with, for each query, one copy per cosine in ``sims`` planted at seeded
    rows below ``plant_within``; returns (vectors, planted rows as a (queries, len(sims)) array)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, queries.shape[1]), dtype=np.float32)
    for i in range(0, n, 65_536):
        block = x[i : i + 65_536]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    n_plant = len(queries) * len(sims)
    limit = min(n, plant_within or n)
    if n_plant > limit:
        raise ValueError(f"cannot plant {n_plant} vectors in {limit} rows")
    rows = rng.choice(limit, size=n_plant, replace=False).reshape(len(queries), len(sims))
    for qi, q in enumerate(queries.astype(np.float32)):
        q = q / np.linalg.norm(q)
        for si, c in enumerate(sims):
            u = rng.standard_normal(q.shape[0]).astype(np.float32)
            u -= (u @ q) * q
            u /= np.linalg.norm(u)
            x[rows[qi, si]] = c * q + np.sqrt(1 - c * c) * u
    return x, rows


def _query_latency(index, queries: np.ndarray, budget_s: float, min_samples: int = 200) -> list[float]:
    """Single-query search times: passes over the queries until min_samples or the time budget is reached."""
    lat: list[float] = []
    start = time.perf_counter()
    while True:
        for q in queries:
            t = time.perf_counter()
            index.search(q.reshape(1, -1), RECALL_K)
            lat.append(time.perf_counter() - t)
        if len(lat) >= min_samples or time.perf_counter() - start > budget_s:
            return lat


class _BuildThreads:
    """Builds use every core (store.py reads QA_FAISS_THREADS); searches go back to the pinned count."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self):
        self.old = os.environ.get("QA_FAISS_THREADS")
        os.environ["QA_FAISS_THREADS"] = str(self.n)
        _pinned_faiss()

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("QA_FAISS_THREADS", None)
        else:
            os.environ["QA_FAISS_THREADS"] = self.old
        _pinned_faiss()


def _measure(index, qs: np.ndarray, truth: np.ndarray | None, budget_s: float) -> dict:
    _pinned_faiss()
    lat = latency_summary(_query_latency(index, qs, budget_s))
    _, found = index.search(qs, RECALL_K)
    return {
        "query_p50_ms": lat["p50_ms"],
        "query_p95_ms": lat["p95_ms"],
        "query_samples_count": lat["samples_count"],
        "recall_at_10_frac": round(recall_at_k(found, truth), 4) if truth is not None else 1.0,
        "_found": found,
    }


def _store_hnsw_params() -> dict:
    from qa.store import VectorStore

    probe = VectorStore.build(np.eye(4, DIM, dtype=np.float32), "hnsw").index
    return {
        "M": int(probe.hnsw.nb_neighbors(1)),
        "efConstruction": int(probe.hnsw.efConstruction),
        "efSearch": int(probe.hnsw.efSearch),
    }


def bench_scaling(queries: np.ndarray, sizes: tuple[int, ...], quick: bool) -> dict:
    """flat / ivf / hnsw over nested synthetic corpora: build, size, single-query p50, recall@10 vs flat."""
    from qa.store import VectorStore

    faiss = _pinned_faiss()
    build_threads = os.cpu_count() or 1
    search_threads = int(os.environ.get("QA_FAISS_THREADS", "1"))
    budget = 2.0 if quick else 8.0
    log(f"scaling: generating {max(sizes):,} x {DIM} vectors with {len(queries) * len(PLANTED_SIMS)} planted")
    x, planted = synthetic_vectors(max(sizes), queries, plant_within=min(sizes))
    qs = np.ascontiguousarray(queries, dtype=np.float32)
    results, sweeps, truths = [], [], {}
    store_hnsw = _store_hnsw_params()

    def row(n, kind, config, params, build_s, index, rss0, truth):
        m = _measure(index, qs, truth, budget)
        found = m.pop("_found")
        results.append(
            {
                "n": n,
                "kind": kind,
                "config": config,
                "params": params,
                "build_s": round(build_s, 3),
                "index_bytes": faiss_bytes(index),
                "rss_delta_bytes": _rss() - rss0,
                **m,
            }
        )
        return found

    for n in sizes:
        log(f"scaling: flat at {n:,}")
        rss0 = _rss()
        with _BuildThreads(build_threads):
            store, build_s = _timed(VectorStore.build, x[:n], "flat")
        truths[n] = row(n, "flat", "store", {}, build_s, store.index, rss0, None)
        # Sanity of the design: the exact top 10 are planted copies (own or another question's), not noise.
        own = [len(set(planted[i]) & set(truths[n][i].tolist())) / len(PLANTED_SIMS) for i in range(len(qs))]
        results[-1]["planted_in_top10_frac"] = round(float(np.mean(own)), 4)
        results[-1]["top10_planted_any_frac"] = round(float(np.isin(truths[n], planted).mean()), 4)
        del store
        log(f"scaling: ivf at {n:,}")
        rss0 = _rss()
        with _BuildThreads(build_threads):
            store, build_s = _timed(VectorStore.build, x[:n], "ivf")
        ivf = store.index
        params = {"nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe)}
        row(n, "ivf", "store", params, build_s, ivf, rss0, truths[n])
        for nprobe in [p for p in NPROBE_SWEEP if p <= ivf.nlist]:
            ivf.nprobe = nprobe
            m = _measure(ivf, qs, truths[n], budget / 4)
            m.pop("_found")
            sweeps.append({"n": n, "kind": "ivf", "params": {"nlist": int(ivf.nlist), "nprobe": nprobe}, **m})
        del store, ivf
    hnsw_series = [("tuned", {**HNSW_TUNED, "efSearch": store_hnsw["efSearch"]}, sizes)]
    store_sizes = tuple(n for n in sizes if quick or n <= STORE_HNSW_MAX)
    if store_hnsw != hnsw_series[0][1]:
        hnsw_series.append(("store", store_hnsw, store_sizes))
    for config, params, series_sizes in hnsw_series:
        rss0 = _rss()
        index = faiss.IndexHNSWFlat(DIM, params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
        built, build_s = 0, 0.0
        for n in series_sizes:  # nested corpora: grow one graph, so each size costs only its new rows
            log(
                f"scaling: hnsw ({config}: M={params['M']}, efConstruction={params['efConstruction']}) "
                f"adding up to {n:,}"
            )
            with _BuildThreads(build_threads):
                _, dt = _timed(index.add, np.ascontiguousarray(x[built:n]))
            built, build_s = n, build_s + dt
            index.hnsw.efSearch = params["efSearch"]
            row(n, "hnsw", config, params, build_s, index, rss0, truths[n])
            for ef in EF_SWEEP:
                index.hnsw.efSearch = ef
                m = _measure(index, qs, truths[n], budget / 4)
                m.pop("_found")
                sweeps.append(
                    {"n": n, "kind": "hnsw", "config": config, "params": {**params, "efSearch": ef}, **m}
                )
        del index
    del x
    return {
        "settings": {
            "sizes": list(sizes),
            "dim": DIM,
            "queries_count": len(qs),
            "planted_sims": [round(c, 4) for c in PLANTED_SIMS],
            "seed": SEED,
            "k": RECALL_K,
            "build_threads": build_threads,
            "search_threads": search_threads,
            "hnsw_tuned": HNSW_TUNED,
            "hnsw_store": store_hnsw,
            "note": "random unit vectors (no structure: the hardest case for graph and cluster indexes) "
            "plus, "
            "for each real question embedding, copies at the planted cosines; recall@10 against flat; "
            "latency: one query at a time, one faiss thread; builds use build_threads; nested corpora (each "
            "size is a prefix of the next)",
        },
        "results": results,
        "sweeps": sweeps,
    }


def _scaling_from_texts(qtexts: list[str], sizes: tuple[int, ...], quick: bool, embedder=None) -> dict:
    if embedder is None:
        from qa.config import Settings
        from qa.embed import get_embedder

        embedder = get_embedder(Settings().model, Settings().backend)
    return bench_scaling(embedder.encode(qtexts), sizes, quick)
