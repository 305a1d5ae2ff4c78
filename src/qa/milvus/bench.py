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


def scaling(location: Location, sizes, budget_s: float, queries: int = 50, dim: int = 384) -> list:
    """Insert rate, query p50/p95 and recall@10 of Milvus FLAT and HNSW against exact search (numpy) on
    random unit vectors; a size whose inserts pass ``budget_s`` stops the run (what fits is reported)."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=location.uri)
    rng = np.random.default_rng(20240611)
    q = rng.standard_normal((queries, dim), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    results = []
    for n in sizes:
        x = rng.standard_normal((n, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        truth = np.argsort(-(q @ x.T), axis=1)[:, :RECALL_K]
        for kind, params, search in (("FLAT", {}, {}), ("HNSW", {"M": 16, "efConstruction": 40}, {"ef": 64})):
            name = f"{location.collection}_bench_{kind.lower()}_{n}"
            if client.has_collection(name):
                client.drop_collection(name)
            s = client.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            ip = client.prepare_index_params()
            ip.add_index(field_name="vector", index_type=kind, metric_type="IP", params=params)
            client.create_collection(name, schema=s, index_params=ip)
            t0 = time.perf_counter()
            done = 0
            for i in range(0, n, 5000):
                block = x[i : i + 5000]
                client.insert(name, [{"id": i + j, "vector": v.tolist()} for j, v in enumerate(block)])
                done += len(block)
                if time.perf_counter() - t0 > budget_s:
                    break
            insert_s = time.perf_counter() - t0
            t = time.perf_counter()
            client.flush(name)
            flush_s = time.perf_counter() - t
            row = {
                "n": n,
                "index": kind,
                "inserted_count": done,
                "insert_rows_per_s": round(done / insert_s, 1),
                "flush_s": round(flush_s, 2),
            }
            if done < n:
                row["note"] = f"stopped after {budget_s:.0f} s of inserts"
                results.append(row)
                client.drop_collection(name)
                log(json.dumps(row))
                return results
            lat, found = [], []
            for v in q:
                t = time.perf_counter()
                res = client.search(
                    name,
                    data=[v.tolist()],
                    anns_field="vector",
                    limit=RECALL_K,
                    search_params={"metric_type": "IP", "params": search},
                )
                lat.append(time.perf_counter() - t)
                found.append([h["id"] for h in res[0]])
            hits = [len(set(f) & set(t.tolist())) / RECALL_K for f, t in zip(found, truth, strict=True)]
            row.update(
                query_p50_ms=round(percentile(lat, 50), 2),
                query_p95_ms=round(percentile(lat, 95), 2),
                recall_at_10_frac=round(float(np.mean(hits)), 4),
            )
            log(json.dumps(row))
            results.append(row)
            client.drop_collection(name)
    return results


def run(uri: str | None, index: Path, question_sets: dict, sizes, budget_s: float, queries: int = 50) -> dict:
    """Everything above against ``uri`` (or a milvus-lite server started for the run); ``question_sets``
    maps a name to its question texts."""
    from qa.index import load_index
    from qa.milvus.load import load_milvus
    from qa.milvus.sync import write_index

    if uri is None:
        with (
            tempfile.TemporaryDirectory(prefix="qa-milvus-bench-") as data,
            milvus_lite_server(Path(data)) as up,
        ):
            return run(up, index, question_sets, sizes, budget_s, queries)
    location = Location(uri, "qa_bench")
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
        "server": uri,
        "load_from_index": {"chunks_count": written["chunks_written"], "load_s": round(load_s, 2)},
        "freshness_check_ms": round(check_ms, 2),
        "answers": {name: compare(faiss_index, milvus_index, qs) for name, qs in question_sets.items()},
        "scaling": scaling(location, sizes, budget_s, queries),
    }


def section(index: Path, questions: list[str], quick: bool) -> dict:
    """The ``milvus`` section of ``qa bench``: the bench's index and questions, a milvus-lite server."""
    sizes, budget, queries = (QUICK_SIZES, 60, 10) if quick else (FULL_SIZES, 420, 50)
    return run(None, index, {"bench questions": questions}, sizes, budget, queries)


def read_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qa.milvus.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", help="a running Milvus (default: start milvus-lite for the run)")
    p.add_argument("--index", default="index", help="the FAISS index folder to compare with")
    p.add_argument("--questions", action="append", help="question files (default: the brief's dev sets)")
    p.add_argument("--sizes", default=",".join(map(str, FULL_SIZES)), help="synthetic sizes, comma-separated")
    p.add_argument("--budget-s", type=float, default=600, help="insert time allowed per size and index")
    p.add_argument("--out", help="write the JSON here too")
    a = p.parse_args(argv)
    files = [Path(f) for f in (a.questions or ["eval/brief_dev.jsonl", "eval/sources_dev.jsonl"])]
    sizes = [int(s) for s in a.sizes.split(",") if s]
    result = run(a.uri, Path(a.index), {f.name: read_questions(f) for f in files}, sizes, a.budget_s)
    text = json.dumps(result, indent=2)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
