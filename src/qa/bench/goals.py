"""The targets a run is judged by (never asserted in tests), and the dense-index advice."""

from __future__ import annotations

GOALS = {
    "warm_ask_vs_embedding": ("warm ask p50 / one torch query embedding p50", 1.5, "≤", "_ratio"),
    "build_vs_baseline": ("build time / baseline build time (200-word windows, torch)", 0.5, "≤", "_ratio"),
    "pdf_build_vs_baseline": ("PDF corpus build time / baseline build time", 0.5, "≤", "_ratio"),
    "incremental_of_full": ("incremental update of one file, % of full build", 10.0, "≤", "_pct"),
    "cold_start_vs_model_load": ("cold start / loading the model alone (new processes)", 1.5, "≤", "_ratio"),
    "serving_rss_vs_baseline": ("serving peak RSS / baseline serving peak RSS", 1.25, "≤", "_ratio"),
    "api_overhead": ("API POST /api/ask p50 − in-process ask p50", 20.0, "≤", "_ms"),
    "ann_recall": ("approximate index recall@10 at the largest size", 0.95, "≥", "_frac"),
    "ann_latency": ("approximate index query p50 at the largest size", 5.0, "<", "_ms"),
}


def _largest_ann(scaling: dict) -> list[dict]:
    """Approximate-index rows at the largest size (store parameters, and the bench's tuned HNSW build)."""
    rows = scaling.get("results", [])
    n = max((r["n"] for r in rows), default=None)
    return [r for r in rows if r["n"] == n and r["kind"] != "flat"]


def evaluate_goals(data: dict) -> list[dict]:
    b, a, api = data.get("build", {}), data.get("answering", {}), data.get("api", {})
    measured = {
        "warm_ask_vs_embedding": a.get("ratios", {}).get("ask_first_p50_vs_torch_embedding_ratio"),
        "build_vs_baseline": b.get("ratios", {}).get("total_vs_baseline_ratio"),
        "pdf_build_vs_baseline": data.get("pdf", {}).get("ratios", {}).get("total_vs_baseline_ratio"),
        "incremental_of_full": b.get("incremental", {}).get("of_full_pct"),
        "cold_start_vs_model_load": a.get("cold_start", {}).get("vs_model_load_ratio"),
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
