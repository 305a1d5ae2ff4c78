"""PNG plots of a run: scaling latency and recall, the recall / latency trade-off, build time by stage."""

from __future__ import annotations

from pathlib import Path


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
