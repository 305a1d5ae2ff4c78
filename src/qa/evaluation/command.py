"""The ``qa eval`` command: run a question set, write the reports, compare with a baseline, and gate on
thresholds (exit 1 and one stderr line per broken threshold)."""

from __future__ import annotations

import sys
from pathlib import Path

from qa.errors import UsageError

RETRIEVERS = ("dense", "bm25", "hybrid")


def add_parser(sub) -> None:
    from qa.cli import milvus_options

    sp = sub.add_parser(
        "eval",
        help="measure retrieval and answers against a question set; gate CI on thresholds",
        description="Run a question set (JSON lines, SQuAD 2.0 JSON or CSV) through `qa ask` and report "
        "metrics. With --fail-under / --fail-over, exit 1 when a threshold is broken.",
    )
    sp.add_argument(
        "--questions",
        required=True,
        help="question file: JSON lines {id, question, answers[, doc, pages, type]}, SQuAD 2.0 .json, "
        "or .csv with question,answer[,doc,pages]",
    )
    sp.add_argument(
        "--format", choices=["jsonl", "squad", "csv"], help="question file format (default: suffix)"
    )
    sp.add_argument("--index", help="index folder (default: index/, or $QA_INDEX)")
    milvus_options(sp)
    sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sp.add_argument("--retriever", choices=RETRIEVERS, default="hybrid")
    sp.add_argument("--k", type=int, default=10, help="hits to retrieve per question (default 10)")
    sp.add_argument("--compare", action="store_true", help="dense / bm25 / hybrid side by side")
    sp.add_argument("--report", help="write a report: FILE.html (self-contained, with plots) or FILE.md")
    sp.add_argument("--junit", help="write JUnit XML, one test case per question, to this file")
    sp.add_argument("--baseline", help="a previous `qa eval --json` output: what got better and worse")
    sp.add_argument(
        "--fail-under",
        action="append",
        metavar="METRIC=VALUE",
        help="exit 1 when METRIC is below VALUE (repeatable; TYPE/METRIC for one question type; "
        "METRIC<=VALUE is a ceiling)",
    )
    sp.add_argument(
        "--fail-over",
        action="append",
        metavar="METRIC=VALUE",
        help="exit 1 when METRIC is above VALUE (for lower-is-better metrics: false_abstention_rate, ece, "
        "latency_ms_p95 / latency, median_answer_chars; repeatable)",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from qa.cli import _out, _settings
    from qa.evaluation import baseline, gate
    from qa.evaluation.inputs import load_questions
    from qa.evaluation.run import evaluate, progress_bar
    from qa.index import load_index

    thresholds = gate.parse_all(args.fail_under, args.fail_over)
    if args.compare and (thresholds or args.baseline or args.report or args.junit):
        raise UsageError("--compare prints a table only; run without it to gate, compare or write reports")
    before = baseline.load(args.baseline) if args.baseline else None
    idx = load_index(_settings(args).index)
    questions = load_questions(args.questions, args.format)
    gate.check_kinds(thresholds, {str(q["type"]) for q in questions if q.get("type")})
    if args.compare:
        results = {r: evaluate(idx, questions, retriever=r, k=args.k)["metrics"] for r in RETRIEVERS}
        keys = list(results["hybrid"])
        table = ["| metric | dense | bm25 | hybrid |", "|---|---|---|---|"]
        table += [f"| {k} | " + " | ".join(str(results[r][k]) for r in results) + " |" for k in keys]
        _out(args, {"compare": results}, "\n".join(table))
        return 0
    result = evaluate(idx, questions, retriever=args.retriever, k=args.k, progress=progress_bar(args.quiet))
    if before is not None:
        result["baseline"] = baseline.compare(result, before)
    broken = gate.broken(thresholds, result)
    result["gate"] = {"thresholds": [str(t) for t in thresholds], "broken": broken, "passed": not broken}
    _write_reports(args, result)
    _out(args, result, _human(result))
    for line in broken:
        print(f"qa: threshold not met: {line}", file=sys.stderr)
    return 1 if broken else 0


def _write_reports(args, result: dict) -> None:
    from qa.evaluation.html_report import report_html
    from qa.evaluation.reports import report_junit, report_markdown

    title = f"qa eval: {args.questions}"
    if args.report:
        html = Path(args.report).suffix.lower() in (".html", ".htm")
        text = report_html(result, title) if html else report_markdown(result, title)
        Path(args.report).write_text(text, encoding="utf-8")
    if args.junit:
        Path(args.junit).write_text(
            report_junit(result, name=f"qa eval {Path(args.questions).name}"), "utf-8"
        )


def _human(result: dict) -> str:
    from qa.evaluation.baseline import summary_lines

    lines = [f"{k:>22}: {v}" for k, v in result["metrics"].items()]
    for kind, m in result["by_type"].items():
        lines.append(
            f"{'type ' + str(kind):>22}: {m['questions']} questions, accuracy {m['answer_accuracy']}, "
            f"EM {m['exact_match']}, F1 {m['f1']}"
        )
    if "baseline" in result:
        lines += ["", "against the baseline:"] + [f"  {x}" for x in summary_lines(result["baseline"])]
    g = result["gate"]
    if g["thresholds"]:
        verdict = "passed" if g["passed"] else f"FAILED ({len(g['broken'])} broken)"
        lines.append(f"\ngate: {verdict}: {', '.join(g['thresholds'])}")
    return "\n".join(lines)
