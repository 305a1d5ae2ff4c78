"""The markdown summary of a run."""

from __future__ import annotations

from qa.bench.common import _ratio


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "not measured"
    if unit == "_bytes":
        return f"{v / 2**20:.1f} MiB"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _build_table(title: str, b: dict) -> list[str]:
    o, base = b["ours"], b["baseline"]
    L = [f"\n## {title}\n\n| | ours ({o.get('backend')}) | baseline (torch) |\n|---|---|---|"]
    order = ["ingest_s", "extract_s", "ocr_s", "chunk_s", "window_s", "references_s", "model_load_s"]
    order += ["embed_s", "write_s"]
    stages = [s for s in order if s in o["stages"] or s in base["stages"]] + ["other_s"]
    for s in stages:
        L.append(f"| {s[:-2]} s | {_fmt(o['stages'].get(s))} | {_fmt(base['stages'].get(s))} |")
    for key, label, unit in (
        ("total_s", "total s", ""),
        ("process_wall_s", "process wall s", ""),
        ("pages_count", "pages", ""),
        ("chunks_count", "chunks", ""),
        ("chunks_per_s", "chunks/s", ""),
        ("pages_per_s", "pages/s", ""),
        ("index_bytes", "index on disk", "_bytes"),
        ("peak_rss_bytes", "peak RSS", "_bytes"),
    ):
        L.append(f"| {label} | {_fmt(o.get(key), unit)} | {_fmt(base.get(key), unit)} |")
    L.append(f"\nTotal (model load included) / baseline: {_fmt(b['ratios']['total_vs_baseline_ratio'])}.")
    return L


def summary_markdown(data: dict) -> str:
    m, L = data["machine"], []
    L.append(f"# qa bench — {data['created'][:10]} on {m['host']}{' (quick)' if data['quick'] else ''}")
    th = data.get("threads", {})
    L.append(
        f"\n{m['cpu_model']}, {m['cpu_count']} cores; load average {m['loadavg_start']} at start, "
        f"{m.get('loadavg_end')} at end; backend {data['settings'].get('backend')} "
        f"(ONNX Runtime: {th.get('onnx_parallel_runs_count')} runs side by side, "
        f"{th.get('onnx_intra_op_threads_count')} thread each); faiss threads "
        f"{th.get('faiss_omp_max_threads_count')}; torch {data['versions'].get('torch')}, onnxruntime "
        f"{data['versions'].get('onnxruntime')}, faiss "
        f"{data['versions'].get('faiss-cpu')}, sentence-transformers "
        f"{data['versions'].get('sentence-transformers')}. Run took {data.get('duration_s')} s."
    )
    export = data["settings"].get("onnx_export") or {}
    if export.get("made"):
        L.append(
            f"\nThe model's ONNX export was not cached: made before any timing ({export['export_s']} s, "
            "once per model; `make install` makes it)."
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
        inc = b["incremental"]
        L += _build_table("Build (fresh process each)", b)
        L.append(
            f"\nIncremental update after appending a line to `{inc['touched']}`: {inc['total_s']} s "
            f"({inc['of_full_pct']} % of the full build; process wall {inc['process_wall_s']} s = "
            f"{inc['process_wall_of_full_pct']} %), {inc['embedded_count']} chunks embedded."
        )
    if data.get("pdf"):
        p = data["pdf"]
        L += _build_table(f"PDF build: {p['corpus']}", p)
    a = data.get("answering")
    if a:
        L.append(
            "\n## Answering (warm, in process)\n\n| | p50 ms | p95 ms | p50 / torch embedding |"
            "\n|---|---|---|---|"
        )
        torch_p50 = a["embedding_floor_torch"]["p50_ms"]
        for key, label in (
            ("embedding_floor_torch", "query embedding, torch (the baseline's floor)"),
            ("embedding_floor", f"query embedding, {a['settings'].get('backend')} (the index's)"),
            ("search", "retrieval (Index.search)"),
            ("ask_first", "ask, new question"),
            ("ask_repeat", "ask, repeated question"),
        ):
            s = a[key]
            L.append(
                f"| {label} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} | "
                f"{_fmt(_ratio(s['p50_ms'], torch_p50))} |"
            )
        bs = a["serving"]["baseline_search"]
        L.append(
            f"| baseline embed + flat search (own process) | {_fmt(bs['p50_ms'])} | {_fmt(bs['p95_ms'])} | "
            f"{_fmt(_ratio(bs['p50_ms'], torch_p50))} |"
        )
        c, s = a["cold_start"], a["serving"]
        phases = ", ".join(f"{k[:-2].replace('_', ' ')} {v} s" for k, v in c["phases"].items())
        L.append(
            f"\nCold start (new process → first answer): ours {c['ours_median_s']} s, a process that only "
            f"loads the model and embeds the question {c['model_load_median_s']} s "
            f"(×{c['vs_model_load_ratio']}), baseline {c['baseline_median_s']} s "
            f"(×{c['vs_baseline_ratio']}). "
            f"In one process: {phases}. Serving peak RSS: ours "
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
