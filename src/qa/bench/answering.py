"""The answering section: the query-embedding floor (with the index's backend and with torch, the floor a
user of the baseline pays), warm retrieval and ask latency in this process; cold start and serving memory in
fresh processes, against the baseline's."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from qa.bench.baseline import BACKEND as BASELINE_BACKEND
from qa.bench.common import BUILTIN_QUESTIONS, SEARCH_K, _child_env, _ratio, _timed, latency_summary, log
from qa.bench.workers import run_worker
from qa.errors import QAError

MODEL_ONLY = (
    "import sys; from qa.embed import get_embedder; "
    "get_embedder({model!r}, {backend!r}).encode([sys.argv[1]])"
)


def bench_answering(
    index_dir: Path, baseline_dir: Path, questions: list[str], quick: bool
) -> tuple[dict, object]:
    """Latency in this process (embedding floor, search, ask), cold starts and serving RSS in fresh ones."""
    from qa.embed import get_embedder
    from qa.index import load_index

    passes = 2 if quick else 3
    log("answering: warm-up, then the question set")
    idx, load_s = _timed(load_index, index_dir)
    for q in BUILTIN_QUESTIONS[: 2 if quick else 5]:
        idx.ask(q)  # loads the model; other questions, so the measured ones meet a cold sentence cache
    torch = get_embedder(idx.manifest["model"]["id"], BASELINE_BACKEND)
    torch.encode(["warm up"])
    embed, torch_embed, search, ask_first, ask_repeat = [], [], [], [], []
    for p in range(passes):
        for q in questions:
            embed.append(_timed(idx.embed_query, q)[1])
            torch_embed.append(_timed(torch.encode, [q])[1])
            search.append(_timed(idx.search, q, k=SEARCH_K)[1])
            (ask_first if p == 0 else ask_repeat).append(_timed(idx.ask, q)[1])
    floor, torch_floor = latency_summary(embed), latency_summary(torch_embed)
    out = {
        "settings": {
            "questions": len(questions),
            "passes": passes,
            "k": SEARCH_K,
            "retriever": "hybrid",
            "backend": idx.backend,
        },
        "index_load_s": round(load_s, 3),
        "embedding_floor": floor,
        "embedding_floor_torch": torch_floor,
        "search": latency_summary(search),
        "ask_first": latency_summary(ask_first),
        "ask_repeat": latency_summary(ask_repeat),
        "note": "ask_first: each question asked for the first time in a warm process (its sentences not yet "
        "in the index's sentence-vector cache); ask_repeat: the same questions again (cache hot).",
    }
    out["ratios"] = {
        "ask_first_p50_vs_torch_embedding_ratio": _ratio(out["ask_first"]["p50_ms"], torch_floor["p50_ms"]),
        "ask_first_p50_vs_embedding_ratio": _ratio(out["ask_first"]["p50_ms"], floor["p50_ms"]),
        "ask_repeat_p50_vs_embedding_ratio": _ratio(out["ask_repeat"]["p50_ms"], floor["p50_ms"]),
        "search_p50_vs_embedding_ratio": _ratio(out["search"]["p50_ms"], floor["p50_ms"]),
    }
    out["cold_start"] = cold_start(index_dir, baseline_dir, idx, questions[0], runs=1 if quick else 3)
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


def _wall(args: list[str]) -> float:
    """Wall time of a new Python process running ``args``; its failure is an error naming its stderr."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=_child_env(), timeout=600
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise QAError(f"cold-start run {args[:2]} failed: {proc.stderr.strip()[-800:]}")
    return wall


def cold_start(index_dir: Path, baseline_dir: Path, idx, question: str, runs: int) -> dict:
    """New process → first answer (`python -m qa ask --json`), against a new process that only loads the
    model and embeds the question, and the baseline's; medians of ``runs``; where the time goes."""
    model = MODEL_ONLY.format(model=idx.manifest["model"]["id"], backend=idx.backend)
    log(f"cold start: {runs} x `qa ask --json` in a new process, loading the model alone, the baseline")
    ours, model_only, base = [], [], []
    for _ in range(runs):
        ours.append(_wall(["-m", "qa", "ask", question, "--index", str(index_dir), "--json"]))
        model_only.append(_wall(["-c", model, question]))
        base.append(run_worker("baseline_serve", baseline=str(baseline_dir), questions=[question])[1])
    phases, _ = run_worker("cold_phases", index=str(index_dir), question=question)
    med = {
        k: round(statistics.median(v), 3) for k, v in (("ours", ours), ("model", model_only), ("base", base))
    }
    return {
        "ours_median_s": med["ours"],
        "ours_runs_s": [round(x, 3) for x in ours],
        "model_load_median_s": med["model"],
        "model_load_runs_s": [round(x, 3) for x in model_only],
        "baseline_median_s": med["base"],
        "baseline_runs_s": [round(x, 3) for x in base],
        "vs_model_load_ratio": _ratio(med["ours"], med["model"]),
        "vs_baseline_ratio": _ratio(med["ours"], med["base"]),
        "phases": phases["phases"],
        "note": "new process to first answer, files in the page cache; ours: python -m qa ask --json; "
        "model load: a process that imports qa.embed, loads the model and embeds the question; baseline: a "
        "process that loads the torch model, flat index and windows and searches once; phases: one process "
        "timing each step",
    }
