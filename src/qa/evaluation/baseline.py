"""Comparing a run with a previous one (``qa eval --json`` output): question by question and metric deltas."""

from __future__ import annotations

import json
from pathlib import Path

from qa.errors import UsageError
from qa.evaluation.gate import GATED, default_op
from qa.evaluation.scoring import is_right


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"baseline not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{path}: not a JSON file (give the output of `qa eval --json`)") from None
    qs = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(qs, list) or not isinstance(data.get("metrics"), dict):
        raise UsageError(f"{path}: no 'metrics' and 'questions' (give the output of `qa eval --json`)")
    for n, r in enumerate(qs):
        if not isinstance(r, dict) or not {"id", "answerable", "abstained", "correct"} <= set(r):
            raise UsageError(f"{path}: questions[{n}] lacks id, answerable, abstained or correct")
    return data


def compare(result: dict, before: dict) -> dict:
    """``newly_right``, ``newly_wrong``, ``newly_abstained`` (ids, in the run's order), ``added`` and
    ``dropped`` questions, and ``deltas``: per metric ``before, after, delta, better``."""
    old = {str(r["id"]): r for r in before["questions"]}
    now = {str(r["id"]): r for r in result["questions"]}
    both = [i for i in now if i in old]
    deltas = {}
    for name in GATED:
        a, b = before["metrics"].get(name), result["metrics"].get(name)
        if isinstance(a, int | float) and isinstance(b, int | float):
            d = round(b - a, 4)
            better = None if d == 0 else (d < 0) == (default_op(name) == "<=")
            deltas[name] = {"before": a, "after": b, "delta": d, "better": better}
    return {
        "newly_right": [i for i in both if is_right(now[i]) and not is_right(old[i])],
        "newly_wrong": [i for i in both if not is_right(now[i]) and is_right(old[i])],
        "newly_abstained": [i for i in both if now[i]["abstained"] and not old[i]["abstained"]],
        "added": [i for i in now if i not in old],
        "dropped": [i for i in old if i not in now],
        "deltas": deltas,
    }


def summary_lines(diff: dict) -> list[str]:
    """The comparison for people: the changed questions, then the metrics that moved."""
    lines = []
    for key in ("newly_right", "newly_wrong", "newly_abstained", "added", "dropped"):
        ids = diff[key]
        if ids:
            lines.append(f"{key.replace('_', ' ')} ({len(ids)}): {', '.join(ids)}")
    for name, d in diff["deltas"].items():
        if d["delta"]:
            word = "better" if d["better"] else "worse"
            lines.append(f"{name}: {d['before']:g} -> {d['after']:g} ({d['delta']:+g}, {word})")
    return lines or ["no change from the baseline"]
