"""Milvus beside FAISS: answers equal on question sets, the cost of the network hop per question, and
insert rate, query latency and recall@10 against exact search on synthetic corpora.

``qa bench`` runs it as its ``milvus`` section on the index it builds. Alone:
``python -m qa.milvus.bench --index index --out milvus.json`` (``--uri`` for a running Milvus; without it a
``milvus-lite server`` is started on a free loopback port for the run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.milvus import Location
from qa.milvus.server import milvus_lite_server

RECALL_K = 10
FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (1_000,)
# Rows per insert call, numpy vectors in each row: measured against a milvus-lite server (200,000 rows,
# one run each) 6,800 rows/s in batches of 1,000, 7,000 of 2,000, 5,800 of 5,000 and 5,400 of 20,000;
# the same rows with v.tolist() in batches of 5,000 (what this bench did), 5,300; two threads inserting
# at once, 6,300; pymilvus's column-wise ORM insert (deprecated, gone in 3.1) was no faster (20,000 rows:
# 9,300 rows/s against 10,000). The server's decoding of each row dominates.
INSERT_BATCH = 2_000
HNSW_BUILD, HNSW_SEARCH = {"M": 16, "efConstruction": 40}, {"ef": 64}


def log(msg: str) -> None:
    print(f"[milvus bench] {msg}", file=sys.stderr, flush=True)


def close_enough(a, b) -> bool:
    """Equal JSON values, floats to float32 rounding (Milvus and FAISS sum the same products in another
    order; BM25 is divided back by k1 + 1)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-5)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_enough(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close_enough(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def compare(faiss_index, milvus_index, questions: list[str], k: int = 10) -> dict:
    """Per retriever, the questions whose top-k chunks differ; the questions whose answers (the whole
    ``to_dict``, floats to rounding) differ; and the ask latency on each store (the network hop's cost)."""
    out: dict = {"questions_count": len(questions), "ranking_differs": {}, "answer_differs": []}
    for r in ("dense", "bm25", "hybrid"):
        out["ranking_differs"][r] = [
            q
            for q in questions
            if [h.chunk.id for h in faiss_index.search(q, k=k, retriever=r)]
            != [h.chunk.id for h in milvus_index.search(q, k=k, retriever=r)]
        ]
    times = {"faiss": [], "milvus": []}
    for q in questions:
        answers = {}
        for name, idx in (("faiss", faiss_index), ("milvus", milvus_index)):
            t = time.perf_counter()
            answers[name] = idx.ask(q).to_dict()
            times[name].append(time.perf_counter() - t)
        if not close_enough(answers["faiss"], answers["milvus"]):
            out["answer_differs"].append(q)
    for name, values in times.items():
        out[f"ask_{name}_p50_ms"] = round(percentile(values, 50), 2)
        out[f"ask_{name}_p95_ms"] = round(percentile(values, 95), 2)
    out["hop_per_question_p50_ms"] = round(out["ask_milvus_p50_ms"] - out["ask_faiss_p50_ms"], 2)
    return out


def exact_top(x: np.ndarray, q: np.ndarray, k: int = RECALL_K, block: int = 100_000) -> np.ndarray:
    """The ids of the k largest inner products per query, by numpy over blocks of rows (exact search)."""
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.zeros((len(q), 0), np.int64)
    for i in range(0, len(x), block):
        s = q @ x[i : i + block].T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        best_s = np.hstack([best_s, np.take_along_axis(s, top, axis=1)])
        best_i = np.hstack([best_i, top + i])
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def _insert(client, name: str, x: np.ndarray, budget_s: float) -> tuple[int, float]:
    """Rows of (id, numpy vector) in batches of INSERT_BATCH until done or ``budget_s``; (rows, seconds)."""
    t0, done = time.perf_counter(), 0
    while done < len(x) and time.perf_counter() - t0 <= budget_s:
        block = x[done : done + INSERT_BATCH]
        client.insert(name, [{"id": done + j, "vector": v} for j, v in enumerate(block)])
        done += len(block)
    return done, time.perf_counter() - t0


def scaling(
    location: Location, sizes, budget_s: float, queries: int = 50, query_budget_s: float = 120
) -> list:
    """Insert rate, flush, index build, query p50/p95 and recall@10 of Milvus FLAT and HNSW against exact
    search (numpy) on the scaling section's synthetic corpus (random unit vectors with copies of each
    query planted at cosines 0.95 to 0.6, ``qa.bench.scaling``; random unit queries here). A size whose
    inserts or index build pass ``budget_s`` stops the run (what fits is reported); each row asks up to
    ``queries`` queries, fewer (at least 10) where they pass ``query_budget_s``."""
    from pymilvus import DataType, MilvusClient

    from qa.bench.scaling import DIM, recall_at_k, synthetic_vectors

    client = MilvusClient(uri=location.uri, timeout=max(60, budget_s))
    rng = np.random.default_rng(20240611)
    q = rng.standard_normal((queries, DIM), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    log(f"scaling: {max(sizes):,} x {DIM} synthetic vectors")
    x, _ = synthetic_vectors(max(sizes), q, plant_within=min(sizes))
    results = []
    for n in sizes:
        truth = exact_top(x[:n], q)
        for kind, params, search in (("FLAT", {}, {}), ("HNSW", HNSW_BUILD, HNSW_SEARCH)):
            name = f"{location.collection}_bench_{kind.lower()}_{n}"
            if client.has_collection(name):
                client.drop_collection(name)
            s = client.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
            ip = client.prepare_index_params()
            ip.add_index(field_name="vector", index_type=kind, metric_type="IP", params=params)
            client.create_collection(name, schema=s, index_params=ip)
            # Released while it is written: a loaded collection indexes each flushed segment in the
            # background and searches it exhaustively until then; loading it afterwards builds them all.
            client.release_collection(name)
            log(f"scaling: {kind} at {n:,}: inserting")
            done, insert_s = _insert(client, name, x[:n], budget_s)
            row = {
                "n": n,
                "index": kind,
                "inserted_count": done,
                "insert_s": round(insert_s, 1),
                "insert_rows_per_s": round(done / insert_s, 1),
            }
            t = time.perf_counter()
            client.flush(name)
            row["flush_s"] = round(time.perf_counter() - t, 2)
            if done < n:
                row["note"] = f"stopped after {budget_s:.0f} s of inserts"
                return _stop(client, name, results, row)
            log(f"scaling: {kind} at {n:,}: building the index (load)")
            t = time.perf_counter()
            try:
                client.load_collection(name, timeout=budget_s)
            except Exception as e:  # the server's build passed the budget: say so, measure no further
                row["index_build_s"] = round(time.perf_counter() - t, 1)
                row["note"] = f"index build not finished in {budget_s:.0f} s ({type(e).__name__})"
                return _stop(client, name, results, row)
            row["index_build_s"] = round(time.perf_counter() - t, 1)
            lat, found, t0 = [], [], time.perf_counter()
            for v in q:
                if len(lat) >= 10 and time.perf_counter() - t0 > query_budget_s:
                    break
                t = time.perf_counter()
                res = client.search(
                    name,
                    data=[v],
                    anns_field="vector",
                    limit=RECALL_K,
                    search_params={"metric_type": "IP", "params": search},
                )
                lat.append(time.perf_counter() - t)
                found.append([h["id"] for h in res[0]])
            padded = np.array([f + [-1] * (RECALL_K - len(f)) for f in found])  # fewer hits than asked: -1
            recall = recall_at_k(padded, truth[: len(found)], RECALL_K)  # the queries the time allowed
            row.update(
                queries_count=len(lat),
                query_p50_ms=round(percentile(lat, 50), 2),
                query_p95_ms=round(percentile(lat, 95), 2),
                recall_at_10_frac=round(recall, 4),
            )
            log(f"{json.dumps(row)} (load average {_load()})")
            results.append(row)
            client.drop_collection(name)
    return results


def _stop(client, name: str, results: list, row: dict) -> list:
    log(json.dumps(row))
    results.append(row)
    client.drop_collection(name)
    return results


def run(
    uri: str | None,
    index: Path | None,
    question_sets: dict,
    sizes,
    budget_s: float,
    queries: int = 50,
    query_budget_s: float = 120,
) -> dict:
    """Everything above against ``uri`` (or a milvus-lite server started for the run); ``question_sets``
    maps a name to its question texts. Without ``index``, the synthetic scaling alone."""
    if uri is None:
        with (
            tempfile.TemporaryDirectory(prefix="qa-milvus-bench-") as data,
            milvus_lite_server(Path(data)) as up,
        ):
            return run(up, index, question_sets, sizes, budget_s, queries, query_budget_s)
    location = Location(uri, "qa_bench")
    out: dict = {"server": uri, "loadavg_start": _load()}
    if index is not None:
        out.update(_answers(location, index, question_sets))
    out["scaling"] = scaling(location, sizes, budget_s, queries, query_budget_s)
    out["loadavg_end"] = _load()
    return out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _answers(location: Location, index: Path, question_sets: dict) -> dict:
    """The index folder loaded into Milvus: the load, the freshness check, answers against FAISS."""
    from qa.index import load_index
    from qa.milvus.load import load_milvus
    from qa.milvus.sync import write_index

    faiss_index = load_index(index)
    t = time.perf_counter()
    written = write_index(location, index)
    load_s = time.perf_counter() - t
    milvus_index = load_milvus(location, embedder=faiss_index.embedder)
    first = next(iter(question_sets.values()))[0]
    faiss_index.ask(first)  # warm up both: the model, the answer step's caches
    milvus_index.ask(first)
    t = time.perf_counter()
    milvus_index.latest()
    check_ms = (time.perf_counter() - t) * 1000
    return {
        "load_from_index": {"chunks_count": written["chunks_written"], "load_s": round(load_s, 2)},
        "freshness_check_ms": round(check_ms, 2),
        "answers": {name: compare(faiss_index, milvus_index, qs) for name, qs in question_sets.items()},
    }


def section(index: Path, questions: list[str], quick: bool) -> dict:
    """The ``milvus`` section of ``qa bench``: the bench's index and questions, a milvus-lite server."""
    # HNSW built in 1,765 s at 10^6 in milvus-lite, 2 loaded cores (bench/results/2026-12-02-milvus-1e6.json)
    sizes, budget, queries, query_budget = (QUICK_SIZES, 60, 10, 30) if quick else (FULL_SIZES, 3600, 50, 120)
    return run(None, index, {"bench questions": questions}, sizes, budget, queries, query_budget)


def read_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qa.milvus.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", help="a running Milvus (default: start milvus-lite for the run)")
    p.add_argument("--index", default="index", help="the FAISS index folder to compare with")
    p.add_argument("--scaling-only", action="store_true", help="only the synthetic corpora (no index)")
    p.add_argument("--questions", action="append", help="question files (default: the brief's dev sets)")
    p.add_argument("--sizes", default=",".join(map(str, FULL_SIZES)), help="synthetic sizes, comma-separated")
    p.add_argument(
        "--budget-s", type=float, default=3600, help="insert time, and index build time, per size and index"
    )
    p.add_argument("--queries", type=int, default=50, help="queries per size and index (at most)")
    p.add_argument(
        "--query-budget-s", type=float, default=120, help="query time per size and index (10 at least)"
    )
    p.add_argument("--out", help="write the JSON here too")
    a = p.parse_args(argv)
    files = [Path(f) for f in (a.questions or ["eval/brief_dev.jsonl", "eval/sources_dev.jsonl"])]
    sets = {} if a.scaling_only else {f.name: read_questions(f) for f in files}
    sizes = [int(s) for s in a.sizes.split(",") if s]
    index = None if a.scaling_only else Path(a.index)
    result = run(a.uri, index, sets, sizes, a.budget_s, a.queries, a.query_budget_s)
    result["command"] = "python -m qa.milvus.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps(result, indent=2)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
