"""`qa bench`: the project's speed, memory and scaling, side by side with a plain baseline, in one run.

One run, one machine, so the ratios between figures are what count (timings on shared 2-core machines drift
from run to run):

- build: the corpus is copied to a temporary folder and indexed in a subprocess (stage timings, peak RSS, size
  on disk); then one line is appended to its smallest text file and the index updated, in another subprocess;
- baseline: fixed 200-word windows (50-word overlap) over the same pages (read with qa.ingest), embedded with
  the same model into a flat FAISS inner-product index, search only; built and served in subprocesses too;
- answering: the query-embedding floor, warm retrieval and warm `ask` latency, cold start (`qa ask` in a new
  process), serving peak RSS against the baseline's, and the REST API when qa.server offers `create_app`;
- scaling: random unit vectors plus planted near-duplicates of real question embeddings (so recall@10 against
  flat is measurable) through the VectorStore kinds flat, hnsw and ivf.

Writes ``<date>-<host>.json`` (every figure with its unit in its key's suffix), a markdown summary and PNG
plots.
Subprocess workers re-enter this module through ``_worker``. Tests check the schema, never times.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qa.errors import QAError, UsageError

SCHEMA = "qa-bench/1"
WINDOW_WORDS = 200
WINDOW_OVERLAP = 50
SEARCH_K = 8  # what Index.ask retrieves by default
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
TOUCH_LINE = "\nBenchmark note: this line was appended to measure an incremental update.\n"
RESULT_MARK = "QA-BENCH-RESULT "
SECTIONS = ("build", "answering", "api", "scaling")

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
}

GOALS = {
    "warm_ask_vs_embedding": ("warm ask p50 / query-embedding p50", 1.5, "≤", "_ratio"),
    "build_vs_baseline": ("build time / baseline build time", 1.2, "≤", "_ratio"),
    "incremental_of_full": ("incremental update of one file, % of full build", 10.0, "≤", "_pct"),
    "serving_rss_vs_baseline": ("serving peak RSS / baseline serving peak RSS", 1.25, "≤", "_ratio"),
    "api_overhead": ("API POST /api/ask p50 − in-process ask p50", 20.0, "≤", "_ms"),
    "ann_recall": ("approximate index recall@10 at the largest size", 0.95, "≥", "_frac"),
    "ann_latency": ("approximate index query p50 at the largest size", 5.0, "<", "_ms"),
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


# ---------------------------------------------------------------- small pure pieces


def window_starts(n_words: int, size: int = WINDOW_WORDS, overlap: int = WINDOW_OVERLAP) -> list[int]:
    """Word offsets of the baseline's windows: one every size−overlap words until one reaches the end."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError("need size > 0 and 0 <= overlap < size")
    if n_words <= 0:
        return []
    return [0, *range(size - overlap, n_words - overlap, size - overlap)]


def windows(text: str, size: int = WINDOW_WORDS, overlap: int = WINDOW_OVERLAP) -> list[str]:
    """The baseline's chunks: fixed word windows over whitespace-split text."""
    words = text.split()
    return [" ".join(words[s : s + size]) for s in window_starts(len(words), size, overlap)]


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


def faiss_bytes(index) -> int:
    """Size of faiss.write_index output, counted without holding a copy."""
    faiss = _pinned_faiss()
    total = [0]

    def count(chunk) -> int:
        total[0] += len(chunk)
        return len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total[0]


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


# ---------------------------------------------------------------- machine, versions, threads


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        import psutil

        mem = int(psutil.virtual_memory().total)
    except ImportError:
        pass
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_available_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_bytes": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "qa",
        "numpy",
        "torch",
        "sentence-transformers",
        "transformers",
        "faiss-cpu",
        "bm25s",
        "fastapi",
        "uvicorn",
        "httpx",
        "pypdf",
        "matplotlib",
        "psutil",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def thread_info() -> dict:
    faiss = _pinned_faiss()
    import torch

    return {
        "faiss_omp_max_threads_count": int(faiss.omp_get_max_threads()),
        "torch_num_threads_count": int(torch.get_num_threads()),
        "torch_interop_threads_count": int(torch.get_num_interop_threads()),
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_WAIT_POLICY",
                "QA_FAISS_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "TOKENIZERS_PARALLELISM",
            )
        },
    }


# ---------------------------------------------------------------- subprocess workers


def _task_build(corpus: str, index: str, rebuild: bool) -> dict:
    from qa.config import Settings
    from qa.embed import get_embedder
    from qa.index import build_index

    settings = Settings(corpus=Path(corpus), index=Path(index))
    # The model is loaded first and timed on its own, as in the baseline, so that build_index's own stage
    # timers cover only its work; the total adds the two.
    emb, model_s = _timed(get_embedder, settings.model)
    report, call_s = _timed(build_index, corpus, index, settings=settings, embedder=emb, rebuild=rebuild)
    timings = dict(report["timings"], model_load=round(model_s, 3))
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
    }


def _task_baseline_build(corpus: str, out: str) -> dict:
    from qa.config import Settings
    from qa.embed import get_embedder
    from qa.errors import IngestError
    from qa.ingest import FileReport, read_file, scan_corpus

    settings = Settings()
    t0 = time.perf_counter()
    timings = {}
    found, _ = scan_corpus(Path(corpus))
    texts, pages = [], 0
    t = time.perf_counter()
    for rel, path in found:
        try:
            _, doc_pages = read_file(path, rel, settings.cap(path), FileReport(rel))
        except IngestError:
            continue
        pages += len(doc_pages)
        texts.append((rel, "\n".join(p.text for p in doc_pages)))
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = [{"doc": rel, "text": w} for rel, text in texts for w in windows(text)]
    timings["window"] = time.perf_counter() - t
    emb, timings["model_load"] = _timed(get_embedder, settings.model)
    t = time.perf_counter()
    batch = settings.batch_size * 4  # as build_index feeds the embedder
    parts = [emb.encode([r["text"] for r in rows[i : i + batch]]) for i in range(0, len(rows), batch)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, emb.dim), dtype=np.float32)
    timings["embed"] = time.perf_counter() - t
    t = time.perf_counter()
    faiss = _pinned_faiss()
    index = faiss.IndexFlatIP(emb.dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out_dir / "dense.faiss"))
    with open(out_dir / "windows.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return {
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "documents_count": len(texts),
        "pages_count": pages,
        "chunks_count": len(rows),
        "words_count": sum(len(t.split()) for _, t in texts),
    }


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


def _task_baseline_serve(baseline: str, questions: list[str]) -> dict:
    """The baseline's serving process: model, flat index and windows; embed and search each question."""
    from qa.config import Settings
    from qa.embed import get_embedder

    t = time.perf_counter()
    faiss = _pinned_faiss()
    index = faiss.read_index(str(Path(baseline) / "dense.faiss"))
    with open(Path(baseline) / "windows.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    load_s = time.perf_counter() - t
    emb, model_s = _timed(get_embedder, Settings().model)
    lat, answers = [], []
    for q in questions:
        t = time.perf_counter()
        _, ids = index.search(emb.encode([q]), SEARCH_K)
        answers.append([rows[i]["text"] for i in ids[0] if i >= 0])
        lat.append(time.perf_counter() - t)
    return {
        "load_s": round(load_s, 3),
        "model_load_s": round(model_s, 3),
        "search": latency_summary(lat),
        "rss_after_bytes": _rss(),
    }


_TASKS = {
    "build": _task_build,
    "baseline_build": _task_baseline_build,
    "serve": _task_serve,
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


def _child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run_worker(task: str, timeout: float = 3600, **args) -> tuple[dict, float]:
    """Run a task in a fresh Python process; returns its result and the wall time of the whole process."""
    cmd = [
        sys.executable,
        "-c",
        "import sys; from qa.bench import _worker; _worker(sys.argv[1:])",
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


# ---------------------------------------------------------------- build section


def tiny_corpus(corpus: Path, dest: Path, chars: int = 2500) -> Path:
    """Two small text files cut from the corpus's two smallest text documents (for --quick)."""
    from qa.ingest import scan_corpus

    found, _ = scan_corpus(corpus)
    text_files = sorted((p.stat().st_size, rel, p) for rel, p in found if p.suffix.lower() in (".txt", ".md"))
    if len(text_files) < 2:
        raise UsageError(f"--quick needs two .txt or .md files in {corpus}")
    dest.mkdir(parents=True)
    for _, rel, path in text_files[:2]:
        text = path.read_text(encoding="utf-8", errors="replace")
        cut = text.rfind("\n\n", 0, chars)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text[: cut if cut > chars // 2 else chars] + "\n", encoding="utf-8")
    return dest


def touch_smallest(corpus: Path) -> str:
    """Append a line to the smallest text file of the corpus; returns its id."""
    from qa.ingest import scan_corpus

    found, _ = scan_corpus(corpus)
    small = min((p.stat().st_size, rel, p) for rel, p in found if p.suffix.lower() in (".txt", ".md"))
    with open(small[2], "a", encoding="utf-8") as f:
        f.write(TOUCH_LINE)
    return small[1]


def _build_entry(result: dict, wall: float, size: int, stages: tuple[str, ...]) -> dict:
    t = result["timings"]
    total = t["total"]
    split = {f"{k}_s": t.get(k, 0.0) for k in stages}
    split["other_s"] = round(max(0.0, total - sum(split.values())), 3)
    return {
        "stages": split,
        "total_s": total,
        "process_wall_s": round(wall, 3),
        "documents_count": result["documents_count"],
        "pages_count": result["pages_count"],
        "chunks_count": result["chunks_count"],
        "chunks_per_s": round(result["chunks_count"] / total, 2) if total else None,
        "pages_per_s": round(result["pages_count"] / total, 2) if total else None,
        "index_bytes": size,
        "peak_rss_bytes": result["peak_rss_bytes"],
        "threads": result["threads"],
    }


def bench_build(corpus: Path, work: Path) -> dict:
    """Our full build, the incremental update, and the baseline build, each in a fresh process."""
    ours_corpus = work / "corpus"
    shutil.copytree(corpus, ours_corpus)
    index = work / "index"
    log("building the corpus (our pipeline, subprocess)")
    full, full_wall = run_worker("build", corpus=str(ours_corpus), index=str(index), rebuild=True)
    stages = ("ingest", "chunk", "references", "model_load", "embed", "write")
    ours = _build_entry(full, full_wall, dir_bytes(index), stages)
    ours["note"] = "model loaded before build_index; other_s: corpus scan and file hashing"
    touched = touch_smallest(ours_corpus)
    log(f"incremental update after appending a line to {touched}")
    inc, inc_wall = run_worker("build", corpus=str(ours_corpus), index=str(index), rebuild=False)
    incremental = {
        "touched": touched,
        "changed": inc["changed"],
        "embedded_count": inc["embedded_count"],
        "summary": inc["summary"],
        "stages": {f"{k}_s": v for k, v in inc["timings"].items() if k != "total"},
        "total_s": inc["timings"]["total"],
        "process_wall_s": round(inc_wall, 3),
        "of_full_pct": round(100 * inc["timings"]["total"] / full["timings"]["total"], 2),
        "process_wall_of_full_pct": round(100 * inc_wall / full_wall, 2),
        "peak_rss_bytes": inc["peak_rss_bytes"],
    }
    log("building the baseline (200-word windows, flat IP, subprocess)")
    base_dir = work / "baseline"
    base, base_wall = run_worker("baseline_build", corpus=str(corpus), out=str(base_dir))
    baseline = _build_entry(
        base, base_wall, dir_bytes(base_dir), ("ingest", "window", "model_load", "embed", "write")
    )
    baseline["settings"] = {
        "window_words_count": WINDOW_WORDS,
        "overlap_words_count": WINDOW_OVERLAP,
        "index": "faiss.IndexFlatIP",
    }
    baseline["words_count"] = base["words_count"]
    return {
        "ours": ours,
        "baseline": baseline,
        "incremental": incremental,
        "ratios": {
            "total_vs_baseline_ratio": _ratio(ours["total_s"], baseline["total_s"]),
            "process_wall_vs_baseline_ratio": _ratio(ours["process_wall_s"], baseline["process_wall_s"]),
            "embed_vs_baseline_ratio": _ratio(ours["stages"]["embed_s"], baseline["stages"]["embed_s"]),
            "index_bytes_vs_baseline_ratio": _ratio(ours["index_bytes"], baseline["index_bytes"]),
            "peak_rss_vs_baseline_ratio": _ratio(ours["peak_rss_bytes"], baseline["peak_rss_bytes"]),
        },
        "_paths": {"index": str(index), "baseline": str(base_dir)},
    }


# ---------------------------------------------------------------- answering section


def bench_answering(
    index_dir: Path, baseline_dir: Path, questions: list[str], quick: bool
) -> tuple[dict, object]:
    """Latency in this process (embedding floor, search, ask), cold starts and serving RSS in fresh ones."""
    from qa.index import load_index

    passes = 2 if quick else 3
    log("answering: warm-up, then the question set")
    idx, load_s = _timed(load_index, index_dir)
    for q in BUILTIN_QUESTIONS[: 2 if quick else 5]:
        idx.ask(q)  # loads the model; other questions, so the measured ones meet a cold sentence cache
    embed, search, ask_first, ask_repeat = [], [], [], []
    for p in range(passes):
        for q in questions:
            embed.append(_timed(idx.embed_query, q)[1])
            search.append(_timed(idx.search, q, k=SEARCH_K)[1])
            (ask_first if p == 0 else ask_repeat).append(_timed(idx.ask, q)[1])
    floor = latency_summary(embed)
    out = {
        "settings": {"questions": len(questions), "passes": passes, "k": SEARCH_K, "retriever": "hybrid"},
        "index_load_s": round(load_s, 3),
        "embedding_floor": floor,
        "search": latency_summary(search),
        "ask_first": latency_summary(ask_first),
        "ask_repeat": latency_summary(ask_repeat),
        "note": "ask_first: each question asked for the first time in a warm process (its sentences not yet "
        "in the index's sentence-vector cache); ask_repeat: the same questions again (cache hot).",
    }
    out["ratios"] = {
        "ask_first_p50_vs_embedding_ratio": _ratio(out["ask_first"]["p50_ms"], floor["p50_ms"]),
        "ask_repeat_p50_vs_embedding_ratio": _ratio(out["ask_repeat"]["p50_ms"], floor["p50_ms"]),
        "search_p50_vs_embedding_ratio": _ratio(out["search"]["p50_ms"], floor["p50_ms"]),
    }
    runs = 1 if quick else 3
    log(f"cold start: {runs} x `qa ask --json` in a new process, and the baseline's")
    cold, base_cold = [], []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "qa", "ask", questions[0], "--index", str(index_dir), "--json"],
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=600,
        )
        cold.append(time.perf_counter() - t)
        if proc.returncode != 0 or "question" not in json.loads(proc.stdout or "{}"):
            raise QAError(f"qa ask failed in the cold-start run: {proc.stderr.strip()[-800:]}")
        base_cold.append(run_worker("baseline_serve", baseline=str(baseline_dir), questions=questions[:1])[1])
    out["cold_start"] = {
        "ours_median_s": round(statistics.median(cold), 3),
        "ours_runs_s": [round(x, 3) for x in cold],
        "baseline_median_s": round(statistics.median(base_cold), 3),
        "baseline_runs_s": [round(x, 3) for x in base_cold],
        "vs_baseline_ratio": _ratio(statistics.median(cold), statistics.median(base_cold)),
        "note": "new process to first answer, files in the page cache; ours: python -m qa ask --json; "
        "baseline: a process that loads the model, flat index and windows and searches once",
    }
    log("serving peak RSS: ours and the baseline's, each answering the question set in a fresh process")
    serve, serve_wall = run_worker("serve", index=str(index_dir), questions=questions)
    bserve, bserve_wall = run_worker("baseline_serve", baseline=str(baseline_dir), questions=questions)
    out["serving"] = {
        "ours_peak_rss_bytes": serve["peak_rss_bytes"],
        "baseline_peak_rss_bytes": bserve["peak_rss_bytes"],
        "peak_rss_vs_baseline_ratio": _ratio(serve["peak_rss_bytes"], bserve["peak_rss_bytes"]),
        "ours_rss_after_bytes": serve["rss_after_bytes"],
        "baseline_rss_after_bytes": bserve["rss_after_bytes"],
        "rss_after_vs_baseline_ratio": _ratio(serve["rss_after_bytes"], bserve["rss_after_bytes"]),
        "ours_index_load_s": serve["load_s"],
        "ours_ask_fresh_process": serve["ask"],
        "baseline_search": bserve["search"],
        "baseline_search_p50_vs_embedding_ratio": _ratio(bserve["search"]["p50_ms"], floor["p50_ms"]),
        "ours_process_wall_s": round(serve_wall, 3),
        "baseline_process_wall_s": round(bserve_wall, 3),
        "threads": serve["threads"],
    }
    return out, idx


# ---------------------------------------------------------------- API section


def _api_factory():
    """qa.server's (Service, create_app), or a reason why the API cannot be measured."""
    try:
        import qa.server as server
    except Exception as e:  # another engineer's module: any import failure means "not measured"
        return None, f"qa.server does not import ({type(e).__name__}: {e})"
    if not callable(getattr(server, "create_app", None)) or not callable(getattr(server, "Service", None)):
        return None, "qa.server has no create_app(Service) factory"
    return server, ""


def bench_api(idx, questions: list[str], quick: bool, clients: int = 8) -> dict:
    """POST /api/ask through uvicorn on a loopback socket in this process, paired with in-process ask."""
    server_mod, reason = _api_factory()
    if server_mod is None:
        return {"measured": False, "reason": reason}
    import httpx
    import uvicorn

    from qa.config import Settings

    service = server_mod.Service(Settings(index=idx.path), index=idx)
    app = server_mod.create_app(service, ui=False)
    # uvicorn binds the port itself, as `qa serve` does: a socket handed to it pre-bound lacks TCP_NODELAY
    # and every response then stalls ~40 ms on delayed ACKs.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                return {"measured": False, "reason": "uvicorn did not start"}
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        log(f"API: sequential POST /api/ask paired with in-process ask, then {clients} concurrent clients")
        with httpx.Client(base_url=base, timeout=120) as client:
            first = client.post("/api/ask", json={"question": questions[0]})
            first.raise_for_status()
            same = first.json().get("answer") == idx.ask(questions[0]).answer
            api, local = [], []
            for _ in range(1 if quick else 2):
                for q in questions:
                    local.append(_timed(idx.ask, q)[1])
                    t = time.perf_counter()
                    r = client.post("/api/ask", json={"question": q})
                    api.append(time.perf_counter() - t)
                    r.raise_for_status()
        per_client = 2 if quick else len(questions)
        conc = _concurrent(
            lambda c, q: c.post("/api/ask", json={"question": q}).raise_for_status(),
            lambda: httpx.Client(base_url=base, timeout=120),
            questions,
            clients,
            per_client,
        )
        inproc = _concurrent(lambda _c, q: idx.ask(q), lambda: None, questions, clients, per_client)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    diffs = [a - b for a, b in zip(api, local, strict=True)]
    api_s, local_s = latency_summary(api), latency_summary(local)
    return {
        "measured": True,
        "settings": {
            "clients": clients,
            "requests_count": clients * per_client,
            "transport": "uvicorn on 127.0.0.1 in this process, httpx clients in threads of the same process",
        },
        "answers_match": bool(same),
        "api": api_s,
        "in_process": local_s,
        "overhead_p50_ms": round(api_s["p50_ms"] - local_s["p50_ms"], 3),
        "overhead_paired_median_ms": round(statistics.median(diffs) * 1000, 3),
        "concurrent": conc,
        "in_process_concurrent": inproc,
        "throughput_vs_in_process_ratio": _ratio(conc["throughput_per_s"], inproc["throughput_per_s"]),
        "note": "client and server share this process (and its GIL), so the overhead is an upper bound",
    }


def _concurrent(call, make_client, questions: list[str], clients: int, per_client: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(clients)

    def run(c: int) -> list[float]:
        client = make_client()
        lat = []
        barrier.wait()
        for j in range(per_client):
            q = questions[(c + j) % len(questions)]
            lat.append(_timed(call, client, q)[1])
        if client is not None:
            client.close()
        return lat

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for part in pool.map(run, range(clients)) for x in part]
    wall = time.perf_counter() - t
    return {**latency_summary(lat), "wall_s": round(wall, 3), "throughput_per_s": round(len(lat) / wall, 2)}


# ---------------------------------------------------------------- scaling section


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


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


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


# ---------------------------------------------------------------- goals, summary, plots


def _largest_ann(scaling: dict) -> list[dict]:
    """Approximate-index rows at the largest size (store parameters, and the bench's tuned HNSW build)."""
    rows = scaling.get("results", [])
    n = max((r["n"] for r in rows), default=None)
    return [r for r in rows if r["n"] == n and r["kind"] != "flat"]


def evaluate_goals(data: dict) -> list[dict]:
    b, a, api = data.get("build", {}), data.get("answering", {}), data.get("api", {})
    measured = {
        "warm_ask_vs_embedding": a.get("ratios", {}).get("ask_first_p50_vs_embedding_ratio"),
        "build_vs_baseline": b.get("ratios", {}).get("total_vs_baseline_ratio"),
        "incremental_of_full": b.get("incremental", {}).get("of_full_pct"),
        "serving_rss_vs_baseline": a.get("serving", {}).get("peak_rss_vs_baseline_ratio"),
        "api_overhead": api.get("overhead_p50_ms") if api.get("measured") else None,
    }
    ann = _largest_ann(data.get("scaling", {}))
    best = max(ann, key=lambda r: r["recall_at_10_frac"], default=None)
    ok = [r for r in ann if r["recall_at_10_frac"] >= 0.95 and r["query_p50_ms"] < 5.0]
    pick = min(ok, key=lambda r: r["query_p50_ms"]) if ok else best
    measured["ann_recall"] = pick["recall_at_10_frac"] if pick else None
    measured["ann_latency"] = pick["query_p50_ms"] if pick else None
    out = []
    for key, (label, target, op, unit) in GOALS.items():
        value = measured.get(key)
        met = (
            None
            if value is None
            else (value <= target if op == "≤" else value >= target if op == "≥" else value < target)
        )
        entry = {
            "goal": key,
            "label": label,
            "op": op,
            "target": target,
            "measured": value,
            "unit": unit,
            "met": met,
        }
        if key.startswith("ann") and pick:
            params = ", ".join(f"{k}={v}" for k, v in pick["params"].items())
            entry["index"] = f"{pick['kind']} ({pick['config']}: {params}) at n={pick['n']:,}"
        out.append(entry)
    return out


def index_advice(data: dict) -> dict:
    """Which dense index `qa index` picks, and what the scaling figures say about it."""
    from qa.config import Settings
    from qa.store import AUTO_HNSW_ABOVE

    rows = data.get("scaling", {}).get("results", [])
    flat = sorted((r for r in rows if r["kind"] == "flat"), key=lambda r: r["n"])
    advice = {"default_kind": Settings().dense_kind, "auto_hnsw_above_count": AUTO_HNSW_ABOVE}
    if flat:
        big = flat[-1]
        per_vector_ms = big["query_p50_ms"] / big["n"]
        advice["flat_under_5ms_up_to_count"] = int(5.0 / per_vector_ms) if per_vector_ms > 0 else None
        advice["flat_p50_at_threshold_ms"] = round(per_vector_ms * AUTO_HNSW_ABOVE, 3)
    n_max = max((r["n"] for r in rows), default=0)
    good = [
        s
        for s in data.get("scaling", {}).get("sweeps", [])
        if s["n"] == n_max and s["recall_at_10_frac"] >= 0.95 and s["query_p50_ms"] < 5.0
    ]
    if good:
        best = min(good, key=lambda s: s["query_p50_ms"])
        advice["fastest_meeting_goal_at_largest"] = {
            "kind": best["kind"],
            "params": best["params"],
            "query_p50_ms": best["query_p50_ms"],
            "recall_at_10_frac": best["recall_at_10_frac"],
        }
    return advice


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "not measured"
    if unit == "_bytes":
        return f"{v / 2**20:.1f} MiB"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def summary_markdown(data: dict) -> str:
    m, L = data["machine"], []
    L.append(f"# qa bench — {data['created'][:10]} on {m['host']}{' (quick)' if data['quick'] else ''}")
    th = data.get("threads", {})
    L.append(
        f"\n{m['cpu_model']}, {m['cpu_count']} cores; load average {m['loadavg_start']} at start, "
        f"{m.get('loadavg_end')} at end; faiss threads {th.get('faiss_omp_max_threads_count')}, torch "
        f"threads {th.get('torch_num_threads_count')}; torch {data['versions'].get('torch')}, faiss "
        f"{data['versions'].get('faiss-cpu')}, sentence-transformers "
        f"{data['versions'].get('sentence-transformers')}. Run took {data.get('duration_s')} s."
    )
    L.append("\n## Goals\n\n| goal | target | measured | met |\n|---|---|---|---|")
    for g in data["goals"]:
        met = {True: "yes", False: "**NO**", None: "not measured"}[g["met"]]
        where = f" ({g['index']})" if g.get("index") else ""
        L.append(f"| {g['label']} | {g['op']} {g['target']} | {_fmt(g['measured'])}{where} | {met} |")
    missed = [g["label"] for g in data["goals"] if g["met"] is False]
    L.append("\nMissed: " + ("; ".join(missed) if missed else "none") + ".")
    for name, err in data.get("errors", {}).items():
        L.append(f"\n**{name} failed**: {err}")
    b = data.get("build")
    if b:
        o, base, inc = b["ours"], b["baseline"], b["incremental"]
        L.append("\n## Build (fresh process each)\n\n| | ours | baseline |\n|---|---|---|")
        order = ["ingest_s", "chunk_s", "window_s", "references_s", "model_load_s", "embed_s", "write_s"]
        stages = [s for s in order if s in o["stages"] or s in base["stages"]] + ["other_s"]
        for s in stages:
            L.append(f"| {s[:-2]} s | {_fmt(o['stages'].get(s))} | {_fmt(base['stages'].get(s))} |")
        for key, label, unit in (
            ("total_s", "total s", ""),
            ("process_wall_s", "process wall s", ""),
            ("chunks_count", "chunks", ""),
            ("chunks_per_s", "chunks/s", ""),
            ("pages_per_s", "pages/s", ""),
            ("index_bytes", "index on disk", "_bytes"),
            ("peak_rss_bytes", "peak RSS", "_bytes"),
        ):
            L.append(f"| {label} | {_fmt(o.get(key), unit)} | {_fmt(base.get(key), unit)} |")
        L.append(
            f"\nIncremental update after appending a line to `{inc['touched']}`: {inc['total_s']} s "
            f"({inc['of_full_pct']} % of the full build; process wall {inc['process_wall_s']} s = "
            f"{inc['process_wall_of_full_pct']} %), {inc['embedded_count']} chunks embedded."
        )
    a = data.get("answering")
    if a:
        L.append(
            "\n## Answering (warm, in process)\n\n| | p50 ms | p95 ms | p50 / embedding |\n|---|---|---|---|"
        )
        for key, label in (
            ("embedding_floor", "query embedding (floor)"),
            ("search", "retrieval (Index.search)"),
            ("ask_first", "ask, new question"),
            ("ask_repeat", "ask, repeated question"),
        ):
            s = a[key]
            L.append(
                f"| {label} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} | "
                f"{_fmt(_ratio(s['p50_ms'], a['embedding_floor']['p50_ms']))} |"
            )
        bs = a["serving"]["baseline_search"]
        L.append(
            f"| baseline embed + flat search (own process) | {_fmt(bs['p50_ms'])} | {_fmt(bs['p95_ms'])} | "
            f"{_fmt(a['serving']['baseline_search_p50_vs_embedding_ratio'])} |"
        )
        c, s = a["cold_start"], a["serving"]
        L.append(
            f"\nCold start (new process → first answer): ours {c['ours_median_s']} s, baseline "
            f"{c['baseline_median_s']} s (×{c['vs_baseline_ratio']}). Serving peak RSS: ours "
            f"{_fmt(s['ours_peak_rss_bytes'], '_bytes')}, "
            f"baseline {_fmt(s['baseline_peak_rss_bytes'], '_bytes')}"
            f" (×{s['peak_rss_vs_baseline_ratio']}); after answering the question set: ours "
            f"{_fmt(s['ours_rss_after_bytes'], '_bytes')}, "
            f"baseline {_fmt(s['baseline_rss_after_bytes'], '_bytes')}"
            f" (×{s['rss_after_vs_baseline_ratio']})."
        )
    api = data.get("api")
    if api:
        if api.get("measured"):
            c, ci = api["concurrent"], api["in_process_concurrent"]
            L.append(
                f"\n## REST API\n\nPOST /api/ask p50 {api['api']['p50_ms']} ms / "
                f"p95 {api['api']['p95_ms']} ms "
                f"against in-process ask p50 {api['in_process']['p50_ms']} ms: overhead "
                f"{api['overhead_p50_ms']} ms at p50 (paired median {api['overhead_paired_median_ms']} ms). "
                f"{api['settings']['clients']} concurrent clients: {c['throughput_per_s']} req/s, p50 "
                f"{c['p50_ms']} ms, p95 {c['p95_ms']} ms (in process, same threads: "
                f"{ci['throughput_per_s']} /s). Answers match in-process: {api['answers_match']}."
            )
        else:
            L.append(f"\n## REST API\n\nNot measured: {api.get('reason')}.")
    sc = data.get("scaling")
    if sc:
        st = sc["settings"]
        L.append(
            f"\n## Scaling (synthetic, dim {st['dim']}, {st['queries_count']} queries, 1 search thread, "
            f"{st['build_threads']} build threads)\n\n| n | kind | params | build s | size | p50 ms | "
            "recall@10 |\n|---|---|---|---|---|---|---|"
        )
        for r in sc["results"]:
            params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
            L.append(
                f"| {r['n']:,} | {r['kind']} ({r['config']}) | {params} | {_fmt(r['build_s'])} | "
                f"{_fmt(r['index_bytes'], '_bytes')} | {_fmt(r['query_p50_ms'])} | {r['recall_at_10_frac']} |"
            )
        adv = data.get("index_advice", {})
        L.append(
            f"\n`qa index` uses `{adv.get('default_kind')}` by default; with `--dense auto` it picks hnsw "
            f"above {adv.get('auto_hnsw_above_count'):,} chunks. Flat stays under 5 ms p50 up to about "
            f"{_fmt(adv.get('flat_under_5ms_up_to_count'))} vectors here (extrapolated linearly from the "
            f"largest "
            f"size); at the threshold flat costs ≈ {_fmt(adv.get('flat_p50_at_threshold_ms'))} ms."
        )
        best = adv.get("fastest_meeting_goal_at_largest")
        if best:
            L.append(
                "Fastest configuration with recall@10 ≥ 0.95 and p50 < 5 ms at the largest size: "
                f"{best['kind']} "
                f"{best['params']} ({best['query_p50_ms']} ms, recall {best['recall_at_10_frac']})."
            )
        else:
            L.append("No configuration swept reached recall@10 ≥ 0.95 with p50 < 5 ms at the largest size.")
        L.append(f"\n_{st['note']}._")
    if data.get("plots"):
        L.append("\n" + "\n".join(f"![{k}]({v})" for k, v in data["plots"].items()))
    return "\n".join(L) + "\n"


def make_plots(data: dict, out: Path, stem: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    sc = data.get("scaling")
    if sc and sc["results"]:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        series = sorted({(r["kind"], r["config"]) for r in sc["results"]})
        for kind, config in series:
            rows = sorted(
                (r for r in sc["results"] if (r["kind"], r["config"]) == (kind, config)), key=lambda r: r["n"]
            )
            label = f"{kind} ({config})"
            ns = [r["n"] for r in rows]
            ax1.plot(ns, [r["query_p50_ms"] for r in rows], marker="o", label=label)
            ax2.plot(ns, [r["recall_at_10_frac"] for r in rows], marker="o", label=label)
        ax1.axhline(5.0, color="grey", ls="--", lw=1, label="goal 5 ms")
        ax2.axhline(0.95, color="grey", ls="--", lw=1, label="goal 0.95")
        ax1.set(
            xscale="log",
            yscale="log",
            xlabel="vectors",
            ylabel="query p50 (ms, 1 thread)",
            title="Query latency",
        )
        low = min(0.9, min(r["recall_at_10_frac"] for r in sc["results"]) - 0.02)
        ax2.set(xscale="log", xlabel="vectors", ylabel="recall@10 vs flat", title="Recall", ylim=(low, 1.005))
        for ax in (ax1, ax2):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        plots["scaling"] = _save(fig, out, f"{stem}-scaling.png")
        n_max = max(r["n"] for r in sc["results"])
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for (kind, config), knob in (
            (("hnsw", "tuned"), "efSearch"),
            (("hnsw", "store"), "efSearch"),
            (("ivf", None), "nprobe"),
        ):
            pts = [
                s
                for s in sc["sweeps"]
                if s["n"] == n_max and s["kind"] == kind and (config is None or s.get("config") == config)
            ]
            if pts:
                ax.plot(
                    [s["query_p50_ms"] for s in pts],
                    [s["recall_at_10_frac"] for s in pts],
                    marker="o",
                    label=f"{kind} {config or ''} ({knob})".replace("  ", " "),
                )
                for s in pts:
                    ax.annotate(
                        str(s["params"][knob]), (s["query_p50_ms"], s["recall_at_10_frac"]), fontsize=7
                    )
        ax.axhline(0.95, color="grey", ls="--", lw=1)
        ax.axvline(5.0, color="grey", ls="--", lw=1)
        ax.set(xscale="log", xlabel="query p50 (ms)", ylabel="recall@10", title=f"Trade-off at n={n_max:,}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        plots["tradeoff"] = _save(fig, out, f"{stem}-tradeoff.png")
    b = data.get("build")
    if b:
        fig, ax = plt.subplots(figsize=(9, 2.6))
        colours, seen = {}, set()
        for y, entry in enumerate((b["ours"], b["baseline"])):
            left = 0.0
            for stage, v in entry["stages"].items():
                name = stage[:-2]
                colour = colours.setdefault(name, f"C{len(colours)}")
                ax.barh(y, v, left=left, color=colour, label=None if name in seen else name)
                seen.add(name)
                if v > 0.06 * entry["total_s"]:
                    ax.text(left + v / 2, y, f"{name} {v:.1f}s", ha="center", va="center", fontsize=7)
                left += v
        ax.set(yticks=[0, 1], yticklabels=["ours", "baseline"], xlabel="seconds", title="Build time by stage")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        plots["build"] = _save(fig, out, f"{stem}-build.png")
    plt.close("all")
    return plots


def _save(fig, out: Path, name: str) -> str:
    fig.savefig(out / name, dpi=110, bbox_inches="tight")
    return name


def _strip_private(obj):
    if isinstance(obj, dict):
        return {k: _strip_private(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_strip_private(v) for v in obj]
    return obj


# ---------------------------------------------------------------- the run


def run_bench(
    corpus: Path,
    out: Path,
    questions_file: Path | None,
    quick: bool = False,
    sizes: tuple[int, ...] | None = None,
    command: str = "",
    sections: tuple[str, ...] = SECTIONS,
) -> tuple[dict, Path]:
    """Run the sections; one that fails is recorded under "errors" and the others still run."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    corpus, out = Path(corpus), Path(out)
    if not corpus.is_dir():
        raise UsageError(f"corpus folder not found: {corpus}")
    started = time.perf_counter()
    questions, source = load_questions(questions_file, limit=4 if quick else None)
    sizes = tuple(sizes or (QUICK_SIZES if quick else FULL_SIZES))
    data: dict = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "command": command,
        "units": UNITS,
        "machine": machine_info(),
        "versions": versions(),
        "settings": {
            "corpus": str(corpus),
            "questions_file": source,
            "questions": len(questions),
            "model": None,
            "dense_kind": None,
            "k": SEARCH_K,
        },
        "errors": {},
    }
    from qa.config import Settings

    data["settings"].update(model=Settings().model, dense_kind=Settings().dense_kind, sections=list(sections))
    idx = None
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        bench_corpus = tiny_corpus(corpus, work / "tiny") if quick else corpus
        data["settings"]["bench_corpus"] = "two files cut from the corpus (quick)" if quick else str(corpus)
        if "build" in sections:
            _section(data, "build", bench_build, bench_corpus, work)
        paths = data.get("build", {}).get("_paths")
        if paths and "answering" in sections:
            answering = _section(
                data,
                "answering",
                bench_answering,
                Path(paths["index"]),
                Path(paths["baseline"]),
                questions,
                quick,
            )
            if answering:
                data["answering"], idx = answering
        if "api" in sections:
            if idx is None:
                data["api"] = {"measured": False, "reason": "no index was built and loaded in this run"}
            elif not _section(data, "api", bench_api, idx, questions, quick):
                data["api"] = {"measured": False, "reason": data["errors"]["api"]}
        data["threads"] = thread_info()
        if "scaling" in sections:
            qtexts = [*load_questions(questions_file)[0], *BUILTIN_QUESTIONS][: 10 if quick else 50]
            embedder = idx.embedder if idx is not None else None
            _section(data, "scaling", _scaling_from_texts, qtexts, sizes, quick, embedder)
        idx = None
    data["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data["duration_s"] = round(time.perf_counter() - started, 1)
    data["goals"] = evaluate_goals(data)
    data["index_advice"] = index_advice(data)
    data = _strip_private(data)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now().strftime('%Y-%m-%d')}-{_safe(socket.gethostname())}{'-quick' if quick else ''}"
    try:
        data["plots"] = make_plots(data, out, stem)
    except Exception as e:
        data["errors"]["plots"] = f"{type(e).__name__}: {e}"
        data["plots"] = {}
    path = out / f"{stem}.json"
    tmp_path = out / f"{stem}.json.tmp"
    tmp_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp_path.replace(path)
    (out / f"{stem}.md").write_text(summary_markdown(data), encoding="utf-8")
    return data, path


def _section(data: dict, name: str, fn, *args):
    """Run one section into data[name] (a tuple result is returned whole); record a failure and go on."""
    try:
        result = fn(*args)
    except Exception as e:  # one broken section must not lose the others' figures
        data["errors"][name] = f"{type(e).__name__}: {e}"
        log(f"{name} failed: {data['errors'][name]}")
        return None
    if not isinstance(result, tuple):
        data[name] = result
    return result


def _scaling_from_texts(qtexts: list[str], sizes: tuple[int, ...], quick: bool, embedder=None) -> dict:
    if embedder is None:
        from qa.config import Settings
        from qa.embed import get_embedder

        embedder = get_embedder(Settings().model)
    return bench_scaling(embedder.encode(qtexts), sizes, quick)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:60] or "host"


def cmd_bench(args) -> int:
    sizes = None
    if args.sizes:
        try:
            sizes = tuple(int(float(s)) for s in args.sizes.split(","))
        except ValueError:
            raise UsageError(f"--sizes takes comma-separated numbers, not '{args.sizes}'") from None
    sections = tuple(x.strip() for x in (args.sections or ",".join(SECTIONS)).split(",") if x.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise UsageError(f"unknown --sections {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    corpus = Path(args.corpus or os.environ.get("QA_CORPUS", "corpus"))
    data, path = run_bench(
        corpus,
        Path(args.out),
        Path(args.questions) if args.questions else None,
        quick=args.quick,
        sizes=sizes,
        command=" ".join(["qa", *sys.argv[1:]]),
        sections=sections,
    )
    print(summary_markdown(data))
    print(f"qa bench: wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return 1 if data["errors"] else 0


def add_parser(sub) -> None:
    sp = sub.add_parser("bench", help="measure build, answering, API and index scaling against a baseline")
    sp.add_argument(
        "--quick", action="store_true", help="a tiny corpus and small sizes: checks it all runs (CI)"
    )
    sp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS)")
    sp.add_argument("--out", default="bench/results", help="folder for the JSON, markdown and plots")
    sp.add_argument(
        "--questions",
        default="eval/brief_dev.jsonl",
        help="question set, JSON lines (built-in questions when missing)",
    )
    sp.add_argument("--sizes", help="scaling sizes, comma-separated (default 1e4,1e5,1e6; quick 1e3,1e4)")
    sp.add_argument(
        "--sections",
        help=f"comma-separated subset of {','.join(SECTIONS)} (default all; answering and api need build)",
    )
    sp.set_defaults(func=cmd_bench)
