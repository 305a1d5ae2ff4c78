"""What every section of the bench shares: the JSON's units, timing and latency helpers, peak RSS, the
pinned faiss, the question list and the environment of measuring subprocesses."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

SCHEMA = "qa-bench/1"


SEARCH_K = 8  # what Index.ask retrieves by default


RESULT_MARK = "QA-BENCH-RESULT "


SECTIONS = ("build", "pdf", "answering", "api", "scaling", "milvus")


# Keys carry their unit as a suffix; these are the suffixes, and the unit-less keys the JSON may hold.
UNITS = {
    "_s": "seconds",
    "_ms": "milliseconds",
    "_bytes": "bytes",
    "_per_s": "items per second",
    "_pct": "percent",
    "_ratio": "ratio (dimensionless)",
    "_frac": "fraction in [0, 1]",
    "_count": "count",
}


UNITLESS_KEYS = {
    "n",
    "dim",
    "k",
    "M",
    "efConstruction",
    "efSearch",
    "nlist",
    "nprobe",
    "seed",
    "target",
    "measured",
    "clients",
    "passes",
    "build_threads",
    "search_threads",
    "questions",
    "sizes",
    "loadavg_start",
    "loadavg_end",
    "planted_sims",
    "backend",
}


# Used to warm up (so the measured questions are new to the sentence cache), to fill the scaling queries up to
# 50 real question embeddings, and when the question file is missing.
BUILTIN_QUESTIONS = (
    "What is the IndiaAI Mission?",
    "Which Japanese companies invest in Indian data centres?",
    "How does the NITI Aayog strategy describe AI for all?",
    "What did Japan's 2019 AI strategy set as goals for education?",
    "Which sectors does India's national AI strategy prioritise?",
    "What role do semiconductors play in India-Japan cooperation?",
    "How many AI researchers does Japan aim to train?",
    "What is Society 5.0?",
    "What are the barriers to AI adoption in India?",
    "Which agreements link India and Japan on digital technology?",
)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def latency_summary(seconds: list[float]) -> dict:
    """p50 / p95 / mean / min in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None, "min_ms": None, "samples_count": 0}
    ms = np.asarray(seconds, dtype=float) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "min_ms": round(float(ms.min()), 3),
        "samples_count": len(ms),
    }


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _peak_rss_bytes() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into a
    spawned child's ru_maxrss at exec, so a child of a big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _pinned_faiss():
    """faiss with the project's thread pinning (QA_FAISS_THREADS, default 1)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    faiss.omp_set_num_threads(int(os.environ.get("QA_FAISS_THREADS", "1")))
    return faiss


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def load_questions(path: Path | None, limit: int | None = None) -> tuple[list[str], str]:
    """Question texts from a JSON-lines file, or the built-in ones when the file is missing."""
    if path is not None and Path(path).is_file():
        rows = [
            json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        qs = [r["question"] for r in rows if isinstance(r, dict) and isinstance(r.get("question"), str)]
        source = str(path)
    else:
        qs, source = list(BUILTIN_QUESTIONS), "built-in (question file not found)"
    return (qs[:limit] if limit else qs), source


def _child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env
