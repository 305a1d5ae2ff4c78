"""Records → metrics: retrieval hit@k and MRR, answer and page accuracy, exact match and F1 of the short
span, abstention, expected calibration error, answer length, latency; overall and per question type."""

from __future__ import annotations

import statistics

from qa.evaluation.scoring import declined

KS = (1, 3, 5, 10)
CURVE_KS = tuple(range(1, 11))
BINS = 10

# Metrics where lower is better: a threshold on them is a ceiling.
LOWER_IS_BETTER = frozenset(
    {"false_abstention_rate", "ece", "latency_ms_p50", "latency_ms_p95", "median_answer_chars"}
)


def summarise(records: list[dict]) -> dict:
    """``metrics`` (overall), ``by_type`` (the same per ``type``, where the set has one), ``reliability``
    (the calibration bins) and ``hit_curve`` (hit@1..10)."""
    types = sorted({r["type"] for r in records if r.get("type")}, key=str)
    ans = [r for r in records if r["answerable"]]
    return {
        "metrics": metrics(records),
        "by_type": {t: metrics([r for r in records if r.get("type") == t]) for t in types},
        "reliability": reliability(records),
        "hit_curve": {str(k): _hit_at(ans, k) for k in CURVE_KS},
    }


def metrics(records: list[dict]) -> dict:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    m: dict = {"questions": len(records), "answerable": len(ans), "unanswerable": len(una)}
    for k in KS:
        m[f"hit@{k}"] = _hit_at(ans, k)
    m["mrr@10"] = _ratio(
        sum(1 / r["gold_rank"] for r in ans if r["gold_rank"] and r["gold_rank"] <= 10), len(ans)
    )
    m["answer_accuracy"] = _ratio(sum(r["correct"] for r in ans), len(ans))
    m["exact_match"] = _ratio(sum(r["exact_match"] for r in records), len(records))
    m["f1"] = _ratio(sum(r["f1"] for r in records), len(records))
    paged = [r for r in ans if "page_correct" in r]
    m["page_accuracy"] = _ratio(sum(r["page_correct"] for r in paged), len(paged)) if paged else None
    # Evidence without an answer counts as not answering (it claims no answer); bare abstentions apart.
    m["abstention_recall"] = _ratio(sum(declined(r) for r in una), len(una)) if una else None
    m["false_abstention_rate"] = _ratio(sum(declined(r) for r in ans), len(ans))
    m["abstention_rate"] = _ratio(sum(declined(r) for r in records), len(records))
    m["bare_abstention_rate"] = _ratio(sum(bool(r["abstained"]) for r in records), len(records))
    m["evidence_rate"] = _ratio(sum(r.get("kind") == "evidence" for r in records), len(records))
    m["ece"] = round(ece(records), 4)
    lengths = [len(r["answer"]) for r in records if not declined(r)]
    m["median_answer_chars"] = statistics.median(lengths) if lengths else 0
    lat = [r["latency_ms"] for r in records]
    m["latency_ms_p50"] = round(_pct(lat, 0.5), 2)
    m["latency_ms_p95"] = round(_pct(lat, 0.95), 2)
    return m


def calibration_event(rec: dict) -> bool:
    """What confidence predicts: that the answer given is right (an answerable question, answered
    correctly). Abstentions and unanswerable questions count too, as answers that are not right."""
    return bool(rec["answerable"] and rec["correct"])


def reliability(records: list[dict], bins: int = BINS) -> list[dict]:
    """Equal-width confidence bins over all records: ``lo, hi, count, confidence`` (mean predicted) and
    ``accuracy`` (observed rate of ``calibration_event``); empty bins have None for both."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [r for r in records if _bin(r["confidence"], bins) == b]
        n = len(inside)
        out.append(
            {
                "lo": round(lo, 4),
                "hi": round(hi, 4),
                "count": n,
                "confidence": round(sum(r["confidence"] for r in inside) / n, 4) if n else None,
                "accuracy": round(sum(calibration_event(r) for r in inside) / n, 4) if n else None,
            }
        )
    return out


def ece(records: list[dict], bins: int = BINS) -> float:
    """Expected calibration error of the records' confidence for ``calibration_event``."""
    events = [calibration_event(r) for r in records]
    return calibration_error([r["confidence"] for r in records], events, bins)


def calibration_error(confidences, events, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean gap between predicted and observed per bin."""
    groups: dict[int, list[tuple[float, bool]]] = {}
    for c, e in zip(confidences, events, strict=True):
        groups.setdefault(_bin(float(c), bins), []).append((float(c), bool(e)))
    gaps = (abs(sum(e for _, e in g) - sum(c for c, _ in g)) for g in groups.values())
    return sum(gaps) / len(confidences) if len(confidences) else 0.0


def _bin(confidence: float, bins: int) -> int:
    return min(bins - 1, max(0, int(confidence * bins)))


def _hit_at(ans: list[dict], k: int) -> float:
    return _ratio(sum(1 for r in ans if r["gold_rank"] and r["gold_rank"] <= k), len(ans))


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def _ratio(a: float, b: int) -> float:
    return round(a / b, 4) if b else 0.0
