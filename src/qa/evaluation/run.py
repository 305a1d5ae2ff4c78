"""Running a question set: each question through ``ask``, one record per question, then the metrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from qa.evaluation.metrics import summarise
from qa.evaluation.scoring import contains_gold, is_right, short_answer, span_scores

# Fields of a question row the evaluation reads; any other field is kept in the record's ``extra``.
KNOWN_FIELDS = ("id", "question", "answers", "doc", "docs", "pages", "type")

Progress = Callable[[int, int], None]


def ask_one(index, row: dict, retriever: str = "hybrid", k: int = 10) -> dict:
    """Ask one question and score the answer: its record."""
    t = time.perf_counter()
    ans = index.ask(row["question"], docs=row.get("docs"), k=k, retriever=retriever)
    return record(row, ans, (time.perf_counter() - t) * 1000)


def record(row: dict, ans, latency_ms: float) -> dict:
    """The record of one answered question (plain JSON): what was asked, said, cited, and how it scored."""
    golds = row["answers"]
    rank = next((h.rank for h in ans.hits if golds and contains_gold(h.chunk.text, golds)), None)
    short = short_answer(ans)
    em, f1 = span_scores(short, golds, not ans.answered)
    rec = {
        "id": row["id"],
        "question": row["question"],
        "type": row.get("type"),
        "doc": row.get("doc"),
        "pages": row.get("pages"),
        "gold": golds,
        "answerable": bool(golds),
        "answer": ans.answer,
        "short": short,
        "kind": ans.kind,
        "abstained": ans.abstained,
        "confidence": round(ans.confidence, 4),
        "highlights": [dict(h) for h in ans.highlights],
        "citations": [c.to_dict() for c in ans.citations],
        "hits": [{"doc": h.chunk.doc, "page": h.chunk.page, "text": h.chunk.text} for h in ans.hits],
        "latency_ms": round(latency_ms, 2),
        "gold_rank": rank,
        "correct": bool(golds) and ans.answered and contains_gold(ans.answer, golds),
        "exact_match": em,
        "f1": round(f1, 4),
        "extra": {k: v for k, v in row.items() if k not in KNOWN_FIELDS},
    }
    if row.get("pages") and golds:
        rec["page_correct"] = bool(ans.citations) and ans.citations[0].page in row["pages"]
    rec["ok"] = is_right(rec)
    return rec


def evaluate(
    index,
    questions: list[dict],
    retriever: str = "hybrid",
    k: int = 10,
    progress: Progress | None = None,
) -> dict:
    """Run every question through ``ask``; return ``{"metrics", "by_type", "reliability", "hit_curve",
    "questions"}`` (see ``summarise``). ``progress(done, total)`` is called after each question."""
    index.ask("warm-up question about the documents", retriever=retriever)
    records = []
    for n, row in enumerate(questions, start=1):
        records.append(ask_one(index, row, retriever=retriever, k=k))
        if progress:
            progress(n, len(questions))
    return {**summarise(records), "questions": records}


def progress_bar(quiet: bool, desc: str = "questions") -> Progress | None:
    """A tqdm bar on stderr when attached to a terminal and not quiet, as ``qa index`` shows."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="question", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def describe(rec: dict, expected: str | None = None) -> str:
    """A readable account of one question's outcome: the question, the gold strings (or ``expected``),
    what was quoted, its citation and confidence (the failure message of the plugin, JUnit and
    ``assert_answer``)."""
    gold = " | ".join(repr(g) for g in rec["gold"]) if rec["gold"] else "(unanswerable: should abstain)"
    lines = [f"question: {rec['question']}", f"expected: {expected}" if expected else f"gold: {gold}"]
    if rec["abstained"]:
        lines.append("quoted: (abstained)")
    else:
        said = "evidence (no answer stated)" if rec.get("kind") == "evidence" else "quoted"
        lines.append(f"{said}: {rec['answer']!r}")
        if rec["short"] != rec["answer"]:
            lines.append(f"highlight: {rec['short']!r}")
    lines.append(f"citation: {citation_text(rec)}")
    lines.append(f"confidence: {rec['confidence']}")
    return "\n".join(lines)


def citation_text(rec: dict) -> str:
    """The first citation of a record as ``doc, p. N`` (or a dash)."""
    if not rec["citations"]:
        return "-"
    c = rec["citations"][0]
    label = f" (printed {c['label']})" if c.get("label") and c["label"] != str(c["page"]) else ""
    return f"{c['doc']}, p. {c['page']}{label}"
