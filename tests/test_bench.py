"""`qa bench`: the pure pieces (baseline windows, recall, synthetic corpora, goals) exactly, and one quick run
of the whole benchmark whose JSON, units, summary and plots are checked. Timings are never asserted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qa.bench.baseline import window_starts, windows
from qa.bench.common import UNITLESS_KEYS, UNITS, _pinned_faiss, latency_summary
from qa.bench.goals import GOALS, evaluate_goals
from qa.bench.run import run_bench
from qa.bench.scaling import PLANTED_SIMS, faiss_bytes, recall_at_k, synthetic_vectors

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "eval" / "brief_dev.jsonl"

# ---------------------------------------------------------------- baseline windows


@pytest.mark.parametrize(
    ("n", "starts"),
    [
        (0, []),
        (1, [0]),
        (199, [0]),
        (200, [0]),
        (201, [0, 150]),
        (350, [0, 150]),
        (351, [0, 150, 300]),
        (1000, [0, 150, 300, 450, 600, 750, 900]),
    ],
)
def test_window_starts_are_exact(n, starts):
    assert window_starts(n) == starts


@pytest.mark.parametrize("n", [1, 50, 200, 201, 349, 350, 351, 999, 1000, 1001, 4321])
def test_windows_cover_every_word_with_50_overlap(n):
    words = [f"w{i}" for i in range(n)]
    wins = windows(" ".join(words))
    spans = [(s, min(s + 200, n)) for s in window_starts(n)]
    assert [w.split() for w in wins] == [words[a:b] for a, b in spans]
    assert spans[-1][1] == n  # the last window reaches the end
    assert all(b - a == 200 for a, b in spans[:-1])  # only the last may be short
    for (a1, b1), (a2, _) in zip(spans, spans[1:], strict=False):
        assert a2 - a1 == 150 and b1 - a2 == 50  # consecutive windows share exactly 50 words
    if len(spans) > 1:
        assert spans[-2][1] < n  # no window is wholly inside the one before


def test_windows_split_on_any_whitespace_and_custom_sizes():
    assert windows("a  b\tc\nd e\f f", size=4, overlap=2) == ["a b c d", "c d e f"]
    assert windows("   ") == []
    with pytest.raises(ValueError):
        window_starts(10, size=5, overlap=5)
    with pytest.raises(ValueError):
        window_starts(10, size=0, overlap=0)


# ---------------------------------------------------------------- recall and summaries


def test_recall_at_k():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(truth, truth, k=4) == 1.0
    assert recall_at_k(truth[:, ::-1], truth, k=4) == 1.0  # order inside the top k does not matter
    assert recall_at_k(np.array([[1, 2, 9, 9], [8, 0, 0, 0]]), truth, k=4) == pytest.approx(
        (2 / 4 + 1 / 4) / 2
    )
    assert (
        recall_at_k(np.array([[4, 3, 2, 1]]), np.array([[1, 2, 3, 4]]), k=2) == 0.0
    )  # only the first k count
    # padding (-1) never matches, and a truth row shorter than k is scored against what it has
    assert recall_at_k(np.array([[1, -1, -1]]), np.array([[1, 2, -1]]), k=3) == 0.5
    assert recall_at_k(np.array([1, 2]), np.array([2, 1]), k=2) == 1.0  # one query as a flat array
    assert math.isnan(recall_at_k(np.array([[-1]]), np.array([[-1]]), k=1))
    with pytest.raises(ValueError):
        recall_at_k(np.zeros((2, 3)), np.zeros((3, 3)), k=3)


def test_latency_summary_in_milliseconds():
    s = latency_summary([0.001 * i for i in range(1, 101)])
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p95_ms"] == pytest.approx(95.05)
    assert s["min_ms"] == pytest.approx(1.0)
    assert s["samples_count"] == 100
    assert latency_summary([])["p50_ms"] is None


# ---------------------------------------------------------------- synthetic corpora


def test_synthetic_vectors_plant_copies_at_the_given_cosines():
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((5, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    x, rows = synthetic_vectors(3000, queries, plant_within=1000)
    assert x.shape == (3000, 384) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert rows.shape == (5, len(PLANTED_SIMS)) and rows.max() < 1000 and len(np.unique(rows)) == rows.size
    cos = np.einsum("qsd,qd->qs", x[rows], queries)
    assert np.allclose(cos, np.array(PLANTED_SIMS)[None, :], atol=1e-5)
    # the planted copies are exactly each query's top 10, so recall against flat measures the index
    top = np.argsort(-(x @ queries.T), axis=0)[:10].T
    assert [set(t) for t in top] == [set(r) for r in rows]
    x2, rows2 = synthetic_vectors(3000, queries, plant_within=1000)
    assert np.array_equal(x, x2) and np.array_equal(rows, rows2)  # seeded
    with pytest.raises(ValueError):
        synthetic_vectors(20, queries)


def test_faiss_bytes_counts_the_serialised_index():
    faiss = _pinned_faiss()
    index = faiss.IndexFlatIP(8)
    index.add(np.ones((10, 8), dtype=np.float32))
    assert faiss_bytes(index) == faiss.serialize_index(index).size


def test_child_peak_rss_is_its_own_not_the_parents():
    """ru_maxrss of a spawned child starts at the parent's high-water mark; the bench must not report that."""
    import subprocess
    import sys

    ballast = np.ones(300 * 2**20 // 8)  # 300 MiB resident in this process
    code = "from qa.bench.common import _peak_rss_bytes; print(_peak_rss_bytes())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 0 < int(out) < 200 * 2**20
    assert ballast.sum() > 0


# ---------------------------------------------------------------- goals


def _data(**over) -> dict:
    data = {
        "build": {"ratios": {"total_vs_baseline_ratio": 0.6}, "incremental": {"of_full_pct": 4.0}},
        "pdf": {"ratios": {"total_vs_baseline_ratio": 0.5}},
        "answering": {
            "ratios": {
                "ask_first_p50_vs_torch_embedding_ratio": 1.5,
                "ask_first_p50_vs_embedding_ratio": 9.0,
            },
            "serving": {"peak_rss_vs_baseline_ratio": 1.1},
            "cold_start": {"vs_model_load_ratio": 1.6},
        },
        "api": {"measured": False},
        "scaling": {
            "results": [
                {
                    "n": 10,
                    "kind": "hnsw",
                    "config": "store",
                    "params": {},
                    "recall_at_10_frac": 1.0,
                    "query_p50_ms": 1.0,
                },
                {
                    "n": 100,
                    "kind": "flat",
                    "config": "store",
                    "params": {},
                    "recall_at_10_frac": 1.0,
                    "query_p50_ms": 9.0,
                },
                {
                    "n": 100,
                    "kind": "ivf",
                    "config": "store",
                    "params": {"nprobe": 8},
                    "recall_at_10_frac": 0.97,
                    "query_p50_ms": 6.0,
                },
                {
                    "n": 100,
                    "kind": "hnsw",
                    "config": "tuned",
                    "params": {"M": 16},
                    "recall_at_10_frac": 0.96,
                    "query_p50_ms": 2.0,
                },
            ]
        },
    }
    data.update(over)
    return data


def test_goals_compare_measured_with_targets():
    goals = {g["goal"]: g for g in evaluate_goals(_data())}
    assert set(goals) == set(GOALS)
    assert goals["warm_ask_vs_embedding"]["met"] is True  # 1.5 ≤ 1.5: against the torch embedding
    assert goals["build_vs_baseline"]["met"] is False  # 0.6 > 0.5
    assert goals["pdf_build_vs_baseline"]["met"] is True  # 0.5 ≤ 0.5
    assert goals["cold_start_vs_model_load"]["met"] is False  # 1.6 > 1.5
    assert goals["incremental_of_full"]["met"] is True
    assert goals["serving_rss_vs_baseline"]["met"] is True
    assert goals["api_overhead"]["met"] is None and goals["api_overhead"]["measured"] is None
    # the approximate index judged at the largest size: the fastest one meeting both goals (not flat)
    assert goals["ann_recall"]["measured"] == 0.96 and goals["ann_latency"]["measured"] == 2.0
    assert goals["ann_latency"]["met"] is True and "hnsw (tuned" in goals["ann_latency"]["index"]


def test_goals_when_no_index_meets_both_report_the_best_recall():
    data = _data()
    data["scaling"]["results"][3]["recall_at_10_frac"] = 0.5
    goals = {g["goal"]: g for g in evaluate_goals(data)}
    assert goals["ann_recall"]["measured"] == 0.97 and goals["ann_recall"]["met"] is True
    assert goals["ann_latency"]["measured"] == 6.0 and goals["ann_latency"]["met"] is False


def test_unknown_section_is_a_usage_error(capsys):
    from qa.cli import main

    assert main(["bench", "--sections", "build,nope"]) == 2
    assert "unknown --sections nope" in capsys.readouterr().err


# ---------------------------------------------------------------- the quick run


def _numeric_keys(obj, path=""):
    """(path, key) of every number (or list of numbers) in the JSON."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, bool):
                continue
            if isinstance(v, int | float) or (
                isinstance(v, list) and v and all(isinstance(x, int | float) for x in v)
            ):
                yield f"{path}.{k}", k
            else:
                yield from _numeric_keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numeric_keys(v, f"{path}[{i}]")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    data, path = run_bench(REPO / "corpus", out, QUESTIONS, quick=True, command="test")
    return data, path, out


@pytest.mark.slow
def test_quick_bench_writes_valid_json_with_units(quick_run):
    data, path, out = quick_run
    assert path.parent == out and path.name.endswith("-quick.json")
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(data))
    assert on_disk["schema"] == "qa-bench/1" and on_disk["quick"] is True
    assert on_disk["errors"] == {}
    for key in (
        "machine",
        "versions",
        "threads",
        "settings",
        "build",
        "pdf",
        "answering",
        "api",
        "scaling",
        "goals",
        "index_advice",
        "plots",
        "duration_s",
    ):
        assert key in on_disk, key
    bad = [p for p, k in _numeric_keys(on_disk) if k not in UNITLESS_KEYS and not k.endswith(tuple(UNITS))]
    assert bad == [], f"numbers without a unit suffix: {bad}"
    assert not any(k.startswith("_") for p, k in _numeric_keys(on_disk))
    th = on_disk["threads"]
    assert th["faiss_omp_max_threads_count"] >= 1 and th["onnx_intra_op_threads_count"] >= 1
    assert th["onnx_parallel_runs_count"] >= 1
    assert on_disk["versions"]["faiss-cpu"] and on_disk["versions"]["torch"]
    assert on_disk["settings"]["backend"] == on_disk["build"]["ours"]["backend"]
    assert on_disk["machine"]["cpu_count"] >= 1 and on_disk["machine"]["cpu_model"]


@pytest.mark.slow
def test_quick_bench_build_and_incremental_figures(quick_run):
    build = quick_run[0]["build"]
    ours, base, inc = build["ours"], build["baseline"], build["incremental"]
    assert ours["documents_count"] == base["documents_count"] == 2
    assert ours["chunks_count"] > 0 and base["chunks_count"] > 0 and ours["index_bytes"] > 0
    assert sum(ours["stages"].values()) == pytest.approx(ours["total_s"], abs=0.01 + 0.01 * ours["total_s"])
    assert ours["peak_rss_bytes"] > 50 * 2**20  # the model alone is bigger; a process-wide figure, not a time
    # appending one line re-embeds that one file only
    assert inc["changed"] == [inc["touched"]]
    assert 0 < inc["embedded_count"] < ours["chunks_count"]
    assert set(build["ratios"]) >= {"total_vs_baseline_ratio", "peak_rss_vs_baseline_ratio"}
    assert build["baseline"]["settings"]["backend"] == "torch"


@pytest.mark.slow
def test_quick_bench_pdf_build_splits_extraction_ocr_and_embedding(quick_run):
    pdf = quick_run[0]["pdf"]
    ours = pdf["ours"]
    assert ours["documents_count"] == pdf["baseline"]["documents_count"] == 1 and ours["pages_count"] == 4
    assert {"extract_s", "ocr_s", "embed_s", "model_load_s"} <= set(ours["stages"])
    assert ours["stages"]["extract_s"] > 0 and ours["stages"]["embed_s"] > 0
    assert sum(ours["stages"].values()) == pytest.approx(ours["total_s"], abs=0.01 + 0.01 * ours["total_s"])


@pytest.mark.slow
def test_quick_bench_answering_and_api(quick_run):
    a = quick_run[0]["answering"]
    for key in ("embedding_floor", "embedding_floor_torch", "search", "ask_first", "ask_repeat"):
        assert a[key]["samples_count"] > 0 and a[key]["p95_ms"] >= a[key]["p50_ms"] > 0
    cold = a["cold_start"]
    assert (
        cold["ours_median_s"] > 0
        and cold["model_load_median_s"] > 0
        and a["serving"]["ours_peak_rss_bytes"] > 0
    )
    assert set(cold["phases"]) == {"import_s", "load_index_s", "model_load_s", "first_ask_s", "second_ask_s"}
    api = quick_run[0]["api"]
    import qa.server

    if callable(getattr(qa.server, "create_app", None)):
        assert api["measured"] is True and api["answers_match"] is True
        assert api["concurrent"]["samples_count"] == api["settings"]["requests_count"]
    else:
        assert api == {"measured": False, "reason": api["reason"]}


@pytest.mark.slow
def test_quick_bench_scaling_rows(quick_run):
    sc = quick_run[0]["scaling"]
    sizes = sc["settings"]["sizes"]
    kinds = {(r["n"], r["kind"]) for r in sc["results"]}
    assert kinds >= {(n, k) for n in sizes for k in ("flat", "ivf", "hnsw")}
    for r in sc["results"]:
        assert 0.0 <= r["recall_at_10_frac"] <= 1.0
        assert r["index_bytes"] >= r["n"] * sc["settings"]["dim"] * 4
        if r["kind"] == "flat":
            # the exact top 10 are planted near-duplicates, never random noise: recall measures something
            assert r["recall_at_10_frac"] == 1.0 and r["top10_planted_any_frac"] == 1.0
            assert r["planted_in_top10_frac"] > 0.5
    assert {s["kind"] for s in sc["sweeps"]} == {"ivf", "hnsw"}


@pytest.mark.slow
def test_quick_bench_summary_and_plots(quick_run):
    data, path, out = quick_run
    md = path.with_suffix(".md").read_text(encoding="utf-8")
    assert "## Goals" in md and "## Scaling" in md and "## Build" in md
    assert {g["goal"] for g in data["goals"]} == set(GOALS)
    assert set(data["plots"]) == {"scaling", "tradeoff", "build"}
    for name in data["plots"].values():
        png = out / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f"]({name})" in md
