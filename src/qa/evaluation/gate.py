"""Thresholds on metrics, for a CI gate: ``METRIC=VALUE`` (its direction from the flag), ``METRIC>=VALUE``
or ``METRIC<=VALUE``. A metric of one question type is ``TYPE/METRIC`` (``numeric/answer_accuracy``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.errors import UsageError
from qa.evaluation.metrics import LOWER_IS_BETTER

# Metrics a threshold can name (the ones that are rates, scores or times; not the counts).
GATED = (
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "mrr@10",
    "answer_accuracy",
    "exact_match",
    "f1",
    "page_accuracy",
    "abstention_recall",
    "false_abstention_rate",
    "abstention_rate",
    "ece",
    "median_answer_chars",
    "latency_ms_p50",
    "latency_ms_p95",
)
ALIASES = {"latency": "latency_ms_p95", "accuracy": "answer_accuracy", "em": "exact_match"}
_SPEC = re.compile(r"^\s*([^<>=\s]+)\s*(>=|<=|=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    metric: str  # a name of GATED
    op: str  # ">=" (the value is a floor) or "<=" (a ceiling)
    value: float
    kind: str | None = None  # a question type, or None for the whole set

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.metric}" if self.kind else self.metric

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def parse(spec: str, default_op: str) -> Threshold:
    """``METRIC=VALUE`` (with ``default_op``: ">=" for --fail-under, "<=" for --fail-over) or an explicit
    ``METRIC>=VALUE`` / ``METRIC<=VALUE``. An unknown metric or a bad value is a UsageError."""
    m = _SPEC.match(spec)
    if not m:
        raise UsageError(f"threshold {spec!r}: write METRIC=VALUE, METRIC>=VALUE or METRIC<=VALUE")
    name, op, raw = m.groups()
    kind, _, metric = name.rpartition("/")
    metric = ALIASES.get(metric, metric)
    if metric not in GATED:
        raise UsageError(f"threshold {spec!r}: unknown metric {metric!r}; known: {', '.join(GATED)}")
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"threshold {spec!r}: {raw!r} is not a number") from None
    return Threshold(metric, default_op if op == "=" else op, value, kind or None)


def parse_all(fail_under: list[str] | None, fail_over: list[str] | None) -> list[Threshold]:
    return [parse(s, ">=") for s in fail_under or ()] + [parse(s, "<=") for s in fail_over or ()]


def check_kinds(thresholds: list[Threshold], kinds: set[str]) -> None:
    """A threshold on a question type the set does not have is a usage error (found before running)."""
    for t in thresholds:
        if t.kind and t.kind not in kinds:
            known = ", ".join(sorted(kinds)) or "none: the set has no 'type' field"
            raise UsageError(f"threshold {t}: no question of type {t.kind!r} (types: {known})")


def measured(t: Threshold, result: dict) -> float | None:
    """The value of the threshold's metric in ``result`` (None where not measured)."""
    scope = result["by_type"].get(t.kind, {}) if t.kind else result["metrics"]
    return scope.get(t.metric)


def check(t: Threshold, result: dict) -> str | None:
    """The line saying how ``result`` breaks the threshold, or None when it holds."""
    got = measured(t, result)
    if got is None:
        return f"{t.name} not measured (no questions it applies to); required {t.op} {t.value:g}"
    if (t.op == ">=" and got < t.value) or (t.op == "<=" and got > t.value):
        return f"{t.name} = {got:g}, required {t.op} {t.value:g}"
    return None


def broken(thresholds: list[Threshold], result: dict) -> list[str]:
    """One line per threshold the result breaks (empty when all hold)."""
    return [line for t in thresholds if (line := check(t, result))]


def default_op(metric: str) -> str:
    """The direction in which a metric gets better: "<=" for lower-is-better metrics, else ">="."""
    return "<=" if ALIASES.get(metric, metric) in LOWER_IS_BETTER else ">="
