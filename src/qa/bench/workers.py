"""Measuring subprocesses: each task runs in a fresh Python process, which prints its result (with its own
peak RSS and thread settings) on one marked line that the parent reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from qa.bench.baseline import _task_baseline_build, _task_baseline_serve
from qa.bench.common import RESULT_MARK, _child_env, _peak_rss_bytes, _rss, _timed, latency_summary
from qa.bench.machine import thread_info
from qa.errors import QAError


def _task_build(corpus: str, index: str, rebuild: bool) -> dict:
    from qa.build import build_index
    from qa.config import Settings
    from qa.embed import get_embedder

    settings = Settings(corpus=Path(corpus), index=Path(index))
    # The model is loaded first and timed on its own, as in the baseline, so that build_index's own stage
    # timers cover only its work; the total adds the two.
    emb, model_s = _timed(get_embedder, settings.model, settings.backend)
    report, call_s = _timed(build_index, corpus, index, settings=settings, embedder=emb, rebuild=rebuild)
    timings = dict(report["timings"], model_load=round(model_s, 3))
    if "ingest" in timings:  # OCR runs inside reading: extraction is the rest
        timings["extract"] = round(timings["ingest"] - timings.get("ocr", 0.0), 3)
    timings["total"] = round(timings.get("total", call_s) + model_s, 3)
    return {
        "timings": timings,
        "call_s": round(call_s, 3),
        "documents_count": report.get("documents", 0),
        "pages_count": report.get("pages", 0),
        "chunks_count": report.get("chunks", 0),
        "embedded_count": report.get("embedded", 0),
        "changed": report["changed"],
        "summary": report["summary"],
        "backend": settings.backend,
    }


def _task_export(model: str, backend: str) -> dict:
    """The model's ONNX export, made here when it is not cached yet: a one-time cost (``make install`` pays
    it, else the first use), which no timed build or start should include."""
    if backend == "torch":
        return {"made": False, "export_s": 0.0}
    from qa.embed import resolve_model_path
    from qa.onnx_export import cached, exported

    path = resolve_model_path(model)
    if cached(path, backend) is not None:
        return {"made": False, "export_s": 0.0}
    _, seconds = _timed(exported, path, backend)
    return {"made": True, "export_s": round(seconds, 3)}


def _task_serve(index: str, questions: list[str]) -> dict:
    """Our serving process: load the index, answer every question; the parent reads the peak RSS."""
    from qa.index import load_index

    idx, load_s = _timed(load_index, index)
    _, model_s = _timed(idx.embed_query, "warm up")
    lat = [_timed(idx.ask, q)[1] for q in questions]
    return {
        "load_s": round(load_s, 3),
        "model_load_s": round(model_s, 3),
        "ask": latency_summary(lat),
        "rss_after_bytes": _rss(),
    }


def _task_cold_phases(index: str, question: str) -> dict:
    """Where a cold start goes, step by step, in this fresh process."""
    t = time.perf_counter()
    from qa.index import load_index

    phases = {"import_s": time.perf_counter() - t}
    idx, phases["load_index_s"] = _timed(load_index, index)
    _, phases["model_load_s"] = _timed(lambda: idx.embedder)
    _, phases["first_ask_s"] = _timed(idx.ask, question)
    _, phases["second_ask_s"] = _timed(idx.ask, question)
    return {"phases": {k: round(v, 3) for k, v in phases.items()}}


_TASKS = {
    "export": _task_export,
    "build": _task_build,
    "baseline_build": _task_baseline_build,
    "serve": _task_serve,
    "cold_phases": _task_cold_phases,
    "baseline_serve": _task_baseline_serve,
}


def _worker(argv: list[str]) -> None:
    """Entry point of a measuring subprocess: run one task, print its result with the peak RSS."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    task, args = argv[0], json.loads(argv[1])
    result = _TASKS[task](**args)
    result["peak_rss_bytes"] = _peak_rss_bytes()
    result["threads"] = thread_info()
    print(RESULT_MARK + json.dumps(result), flush=True)


def run_worker(task: str, timeout: float = 3600, **args) -> tuple[dict, float]:
    """Run a task in a fresh Python process; returns its result and the wall time of the whole process."""
    cmd = [
        sys.executable,
        "-c",
        "import sys; from qa.bench.workers import _worker; _worker(sys.argv[1:])",
        task,
        json.dumps(args),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(), timeout=timeout)
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise QAError(f"bench worker '{task}' failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return json.loads(lines[-1][len(RESULT_MARK) :]), wall
