"""One self-contained HTML report (no script, nothing fetched): metrics, plots, and every question with its
quoted answer, highlight, citation and confidence, failures first."""

from __future__ import annotations

from html import escape

from qa.evaluation import svg
from qa.evaluation.baseline import summary_lines
from qa.evaluation.reports import TYPE_COLUMNS, failures, failures_first
from qa.evaluation.run import citation_text
from qa.evaluation.scoring import is_right

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left} .num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px} .plot{border:1px solid #ddd;background:#fff}
.plot text{font-size:11px;fill:#333} .plot .t{font-size:13px;font-weight:600} .plot .ax{stroke:#444}
tr.fail td:first-child{border-left:4px solid #b64a4a} tr.pass td:first-child{border-left:4px solid #5a9e52}
mark{background:#ffe58a} .muted{color:#777} .gold{color:#225a22}
"""


def _metrics_table(m: dict) -> str:
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="num">{escape(str(v))}</td></tr>' for k, v in m.items()
    )
    return f'<table class="metrics">{rows}</table>'


def _types_table(by_type: dict) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in ("type", *TYPE_COLUMNS))
    body = "".join(
        f"<tr><td>{escape(str(kind))}</td>"
        + "".join(f'<td class="num">{escape(str(tm[c]))}</td>' for c in TYPE_COLUMNS)
        + "</tr>"
        for kind, tm in by_type.items()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def marked_answer(rec: dict) -> str:
    """The quoted answer, escaped, with its short span (the first highlight) in <mark>."""
    if rec["abstained"]:
        return '<span class="muted">(abstained)</span>'
    if rec.get("kind") == "evidence":
        return '<span class="muted">(evidence, no answer)</span> ' + escape(rec["answer"])
    text, short = rec["answer"], rec["short"]
    at = text.find(short) if short and short != text else -1
    if at < 0:
        return escape(text)
    return escape(text[:at]) + "<mark>" + escape(short) + "</mark>" + escape(text[at + len(short) :])


def _question_rows(records: list[dict]) -> str:
    rows = []
    for r in failures_first(records):
        ok = is_right(r)
        gold = "; ".join(r["gold"]) if r["gold"] else "(unanswerable)"
        cells = [
            escape(str(r["id"])),
            "right" if ok else "<b>wrong</b>",
            escape(str(r.get("type") or "")),
            escape(r["question"]),
            f'<span class="gold">{escape(gold)}</span>',
            marked_answer(r),
            escape(citation_text(r)),
            f'<span class="num">{r["confidence"]}</span>',
            f'<span class="num">{r["f1"]}</span>',
        ]
        rows.append(
            f'<tr class="{"pass" if ok else "fail"}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "id",
            "outcome",
            "type",
            "question",
            "gold",
            "quoted answer",
            "citation",
            "confidence",
            "F1",
        )
    )
    return f'<table class="questions"><tr>{head}</tr>{"".join(rows)}</table>'


def report_html(result: dict, title: str = "qa eval") -> str:
    m, records = result["metrics"], result["questions"]
    plots = [
        svg.reliability_diagram(result["reliability"], m["ece"]),
        svg.confidence_histogram(
            [r["confidence"] for r in records if r["answerable"]],
            [r["confidence"] for r in records if not r["answerable"]],
        ),
        svg.hit_curve(result["hit_curve"]),
        svg.kind_bars(result["by_type"] or {"all questions": m}),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may leave the page: no script, no fetch, no external resource of any kind.
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{m['questions']} questions ({m['answerable']} answerable, {m['unanswerable']} unanswerable); "
        f"{len(failures(records))} wrong.</p>",
        "<h2>Metrics</h2>",
        _metrics_table(m),
        '<h2>Plots</h2><div class="plots">' + "".join(plots) + "</div>",
    ]
    if result["by_type"]:
        parts += ["<h2>By question type</h2>", _types_table(result["by_type"])]
    if result.get("baseline"):
        items = "".join(f"<li>{escape(x)}</li>" for x in summary_lines(result["baseline"]))
        parts += ["<h2>Against the baseline</h2>", f"<ul>{items}</ul>"]
    parts += ["<h2>Questions (failures first)</h2>", _question_rows(records), "</body></html>"]
    return "\n".join(parts) + "\n"
