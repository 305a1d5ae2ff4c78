"""Question sets → metrics: retrieval hit@k and MRR, answer and page accuracy, abstention, length, latency."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

from qa.errors import UsageError

KS = (1, 3, 5, 10)


def norm(text: str) -> str:
    """Matching form: lower case, markdown markers and backslashes gone, dashes unified, spaces collapsed."""
    text = text.lower().replace("\\", "").replace("*", "").replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip()


def contains_gold(text: str, golds: list[str]) -> bool:
    t = norm(text)
    return any(norm(g) in t for g in golds)


def load_questions(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"question file not found: {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{n}: not valid JSON") from None
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("question"), str)
            or not isinstance(row.get("answers", []), list)
        ):
            raise UsageError(f"{path}:{n}: each line needs 'question' (text) and 'answers' (list)")
        row.setdefault("id", f"q{n}")
        row.setdefault("answers", [])
        out.append(row)
    if not out:
        raise UsageError(f"{path} has no questions")
    return out


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def evaluate(index, questions: list[dict], retriever: str = "hybrid", k: int = 10) -> dict:
    """Run every question through ``ask``; return {"metrics": ..., "questions": [...]}."""
    index.ask("warm-up question about the documents", retriever=retriever)
    records = []
    for row in questions:
        t = time.perf_counter()
        ans = index.ask(row["question"], docs=row.get("docs"), k=k, retriever=retriever)
        ms = (time.perf_counter() - t) * 1000
        golds = row["answers"]
        rank = next((h.rank for h in ans.hits if golds and contains_gold(h.chunk.text, golds)), None)
        rec = {
            "id": row["id"],
            "question": row["question"],
            "gold": golds,
            "answerable": bool(golds),
            "answer": ans.answer,
            "abstained": ans.abstained,
            "confidence": round(ans.confidence, 4),
            "citations": [c.to_dict() for c in ans.citations],
            "hits": [{"doc": h.chunk.doc, "page": h.chunk.page, "text": h.chunk.text} for h in ans.hits],
            "latency_ms": round(ms, 2),
            "gold_rank": rank,
            "correct": bool(golds) and not ans.abstained and contains_gold(ans.answer, golds),
        }
        if row.get("pages") and golds:
            rec["page_correct"] = bool(ans.citations) and ans.citations[0].page in row["pages"]
        records.append(rec)
    return {"metrics": _metrics(records), "questions": records}


def _metrics(records: list[dict]) -> dict:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    m: dict = {"questions": len(records), "answerable": len(ans), "unanswerable": len(una)}
    for k in KS:
        m[f"hit@{k}"] = _ratio(sum(1 for r in ans if r["gold_rank"] and r["gold_rank"] <= k), len(ans))
    m["mrr@10"] = _ratio(
        sum(1 / r["gold_rank"] for r in ans if r["gold_rank"] and r["gold_rank"] <= 10), len(ans)
    )
    m["answer_accuracy"] = _ratio(sum(r["correct"] for r in ans), len(ans))
    paged = [r for r in ans if "page_correct" in r]
    m["page_accuracy"] = _ratio(sum(r["page_correct"] for r in paged), len(paged)) if paged else None
    m["abstention_recall"] = _ratio(sum(r["abstained"] for r in una), len(una)) if una else None
    m["false_abstention_rate"] = _ratio(sum(r["abstained"] for r in ans), len(ans))
    lengths = [len(r["answer"]) for r in records if not r["abstained"]]
    m["median_answer_chars"] = statistics.median(lengths) if lengths else 0
    lat = [r["latency_ms"] for r in records]
    m["latency_ms_p50"] = round(_pct(lat, 0.5), 2)
    m["latency_ms_p95"] = round(_pct(lat, 0.95), 2)
    return m


def _ratio(a: float, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def report_markdown(result: dict, title: str = "qa eval") -> str:
    """A metrics table and the failures, so a person can see why."""
    m = result["metrics"]
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]
    fails = [
        r
        for r in result["questions"]
        if (r["answerable"] and not r["correct"]) or (not r["answerable"] and not r["abstained"])
    ]
    lines += [
        "",
        f"## Failures ({len(fails)})",
        "",
        "| id | question | gold | answered | confidence |",
        "|---|---|---|---|---|",
    ]
    for r in fails:
        said = "(abstained)" if r["abstained"] else r["answer"].replace("\n", " ")[:300]
        gold = "; ".join(r["gold"]) or "(unanswerable)"
        cells = [r["id"], r["question"], gold, said, str(r["confidence"])]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
