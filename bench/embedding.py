"""Which embedding backend and batch size (issue 14): speed and agreement with torch, measured together.

    .venv/bin/python bench/embedding.py [--index index] [--sentences 1500] [--batches 8,16,32,64,128]
                                        [--backends torch,onnx,onnx-int8] [--out bench/results]

Takes the first ``--sentences`` units (sentences, table rows) the index embedded, in index order, and embeds
them with each backend at each batch size, in this process, after one warm-up batch. Reports sentences/s by
wall clock and by this process's CPU time (which other jobs on shared cores disturb less), and the cosine of
each backend's vectors to torch's (min and mean). Writes ``<out>/<date>-embedding.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent


def unit_sample(index: Path, n: int) -> list[str]:
    """The first ``n`` texts the index embedded as units (what a build embeds), in index order."""
    from qa.index import load_index
    from qa.units import unit_texts

    idx = load_index(index)
    texts: list[str] = []
    for c in idx.chunks:
        texts += unit_texts(
            c, idx.documents[c.doc].get("title") or "", idx.manifest["settings"]["embed_context"]
        )
        if len(texts) >= n:
            break
    return texts[:n]


def measure(texts: list[str], backends: list[str], batches: list[int]) -> dict:
    import numpy as np

    from qa.embed import get_embedder

    rows, vectors = [], {}
    for backend in backends:
        t = time.perf_counter()
        emb = get_embedder(backend=backend)
        load = time.perf_counter() - t
        emb.encode(texts[:32])  # warm-up
        for batch in batches:
            emb.batch_size = batch
            wall, cpu = time.perf_counter(), time.process_time()
            vecs = emb.encode(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            vectors.setdefault(backend, vecs)
            rows.append(
                {
                    "backend": backend,
                    "batch": batch,
                    "load_s": round(load, 3),
                    "sentences_per_s": round(len(texts) / wall, 1),
                    "sentences_per_cpu_s": round(len(texts) / cpu, 1),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    if "torch" in vectors:
        for row in rows:
            cos = (vectors[row["backend"]] * vectors["torch"]).sum(axis=1)
            row["cosine_to_torch_min"] = round(float(np.min(cos)), 4)
            row["cosine_to_torch_mean"] = round(float(np.mean(cos)), 4)
    return {"sentences": len(texts), "rows": rows}


def markdown(result: dict) -> str:
    from qa.embed import cpu_threads

    lines = [
        f"Embedding {result['sentences']} units of the index, {cpu_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| backend | batch | sentences/s | per CPU-s | cosine to torch min / mean | model load s |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        cos = f"{r.get('cosine_to_torch_min', '—')} / {r.get('cosine_to_torch_mean', '—')}"
        lines.append(
            f"| {r['backend']} | {r['batch']} | {r['sentences_per_s']} | {r['sentences_per_cpu_s']} "
            f"| {cos} | {r['load_s']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default=str(ROOT / "index"))
    ap.add_argument("--sentences", type=int, default=1500)
    ap.add_argument("--batches", default="8,16,32,64,128")
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args(argv)
    texts = unit_sample(Path(args.index), args.sentences)
    result = measure(texts, args.backends.split(","), [int(b) for b in args.batches.split(",")])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{date.today().isoformat()}-embedding"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    stem.with_suffix(".md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
