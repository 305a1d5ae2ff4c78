"""Small inline SVG charts for the HTML report, drawn by hand (no plotting library, nothing fetched)."""

from __future__ import annotations

from html import escape

W, H = 420, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 14, 30, 44
COLORS = ("#3b6fb6", "#d9822b", "#5a9e52", "#b64a4a")


class Frame:
    """A plot area mapping data coordinates (x in [x0, x1], y in [y0, y1]) to SVG pixels."""

    def __init__(self, title: str, x0=0.0, x1=1.0, y0=0.0, y1=1.0, xlabel: str = "", ylabel: str = ""):
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1
        self.parts = [
            f'<text x="{W / 2}" y="18" text-anchor="middle" class="t">{escape(title)}</text>',
            f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" class="ax"/>',
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" class="ax"/>',
            f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>',
            f'<text x="12" y="{H / 2}" text-anchor="middle" transform="rotate(-90 12 {H / 2})">'
            f"{escape(ylabel)}</text>",
        ]

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / ((self.x1 - self.x0) or 1) * (W - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return H - BOTTOM - (y - self.y0) / ((self.y1 - self.y0) or 1) * (H - TOP - BOTTOM)

    def yticks(self, ticks) -> None:
        for t in ticks:
            y = self.py(t)
            self.parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" class="ax"/>')
            self.parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')

    def xtick(self, x: float, label: str) -> None:
        self.parts.append(
            f'<text x="{self.px(x):.1f}" y="{H - BOTTOM + 14}" text-anchor="middle">{escape(label)}</text>'
        )

    def rect(self, x: float, width: float, y: float, color: str, tip: str, opacity: float = 1.0) -> None:
        left, right = self.px(x), self.px(x + width)
        top, base = self.py(y), self.py(self.y0)
        self.parts.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(right - left, 0.5):.1f}" '
            f'height="{max(base - top, 0):.1f}" fill="{color}" fill-opacity="{opacity}">'
            f"<title>{escape(tip)}</title></rect>"
        )

    def line(self, points, color: str, dashed: bool = False, dots: bool = True) -> None:
        path = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        if dots:
            self.parts += [
                f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" fill="{color}"/>'
                for x, y in points
            ]

    def legend(self, items) -> None:
        for n, (label, color) in enumerate(items):
            y = TOP + 4 + 16 * n
            self.parts.append(f'<rect x="{LEFT + 10}" y="{y}" width="10" height="10" fill="{color}"/>')
            self.parts.append(f'<text x="{LEFT + 25}" y="{y + 9}">{escape(label)}</text>')

    def svg(self, name: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="{name}" width="{W}" '
            f'height="{H}" viewBox="0 0 {W} {H}" role="img">' + "".join(self.parts) + "</svg>"
        )


def reliability_diagram(bins: list[dict], ece: float) -> str:
    """Observed accuracy against mean confidence per bin, with the diagonal of perfect calibration."""
    f = Frame(f"Reliability (ECE {ece:.3f})", xlabel="confidence", ylabel="share right")
    f.yticks((0, 0.25, 0.5, 0.75, 1))
    for t in (0, 0.5, 1):
        f.xtick(t, f"{t:g}")
    f.line([(0, 0), (1, 1)], "#999", dashed=True, dots=False)
    for b in bins:
        if b["count"]:
            tip = f"{b['lo']:.1f}-{b['hi']:.1f}: {b['count']} questions, right {b['accuracy']}"
            f.rect(b["lo"], b["hi"] - b["lo"], b["accuracy"], COLORS[0], tip, opacity=0.75)
    f.line([(b["confidence"], b["accuracy"]) for b in bins if b["count"]], COLORS[1])
    f.legend([("observed per bin", COLORS[0]), ("mean confidence vs right", COLORS[1])])
    return f.svg("reliability")


def confidence_histogram(answerable: list[float], unanswerable: list[float], bins: int = 10) -> str:
    """Counts of confidence per bin, answerable and unanswerable questions side by side."""
    counts = [[0] * bins, [0] * bins]
    for side, values in enumerate((answerable, unanswerable)):
        for v in values:
            counts[side][min(bins - 1, max(0, int(v * bins)))] += 1
    top = max([1] + counts[0] + counts[1])
    f = Frame("Confidence", y1=top, xlabel="confidence", ylabel="questions")
    f.yticks(sorted({0, top // 2, top}))
    for t in (0, 0.5, 1):
        f.xtick(t, f"{t:g}")
    width = 1 / bins / 2
    for side, label in enumerate(("answerable", "unanswerable")):
        for b, n in enumerate(counts[side]):
            if n:
                f.rect(b / bins + side * width, width, n, COLORS[side], f"{label} {b / bins:.1f}: {n}")
    f.legend([("answerable", COLORS[0]), ("unanswerable", COLORS[1])])
    return f.svg("confidence")


def hit_curve(curve: dict[str, float]) -> str:
    """Share of answerable questions with a gold passage in the top k, for k = 1..10."""
    ks = [int(k) for k in curve]
    f = Frame("Gold passage in the top k", x0=min(ks) - 0.5, x1=max(ks) + 0.5, xlabel="k", ylabel="hit@k")
    f.yticks((0, 0.25, 0.5, 0.75, 1))
    for k in ks:
        f.xtick(k, str(k))
    f.line([(int(k), v) for k, v in curve.items()], COLORS[2])
    return f.svg("hit-curve")


def kind_bars(by_type: dict[str, dict], metrics=("answer_accuracy", "f1")) -> str:
    """Per question type, a bar per metric."""
    kinds = list(by_type) or ["(all)"]
    f = Frame("By question type", x0=0, x1=len(kinds), y1=1.25, ylabel="score")  # room for the legend
    f.yticks((0, 0.5, 1))
    width = 0.8 / len(metrics)
    for n, kind in enumerate(kinds):
        f.xtick(n + 0.5, kind[:12])
        for j, name in enumerate(metrics):
            value = by_type.get(kind, {}).get(name) or 0
            f.rect(n + 0.1 + j * width, width, value, COLORS[j], f"{kind} {name}: {value}")
    f.legend([(name, COLORS[j]) for j, name in enumerate(metrics)])
    return f.svg("kinds")
