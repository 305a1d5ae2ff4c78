"""Reports people and CI read: markdown (metrics, per type, calibration, failures) and JUnit XML (one test
case per question)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from qa.evaluation.baseline import summary_lines
from qa.evaluation.run import describe
from qa.evaluation.scoring import is_right

TYPE_COLUMNS = (
    "questions",
    "answer_accuracy",
    "exact_match",
    "f1",
    "page_accuracy",
    "abstention_rate",
    "ece",
)


def failures(records: list[dict]) -> list[dict]:
    return [r for r in records if not is_right(r)]


def failures_first(records: list[dict]) -> list[dict]:
    return failures(records) + [r for r in records if is_right(r)]


def _cell(value) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def report_markdown(result: dict, title: str = "qa eval") -> str:
    """A metrics table (then per type, calibration and the baseline comparison where known) and the failures,
    so a person can see why."""
    m = result["metrics"]
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]
    if result.get("by_type"):
        lines += ["", "## By question type", "", "| type | " + " | ".join(TYPE_COLUMNS) + " |"]
        lines.append("|---" * (len(TYPE_COLUMNS) + 1) + "|")
        for kind, tm in result["by_type"].items():
            lines.append(f"| {_cell(kind)} | " + " | ".join(str(tm[c]) for c in TYPE_COLUMNS) + " |")
    if result.get("reliability"):
        lines += ["", f"## Calibration (ECE {m.get('ece')})", ""]
        lines += ["| confidence bin | questions | mean confidence | right |", "|---|---|---|---|"]
        for b in result["reliability"]:
            if b["count"]:
                lines.append(
                    f"| {b['lo']:.1f}–{b['hi']:.1f} | {b['count']} | {b['confidence']} | {b['accuracy']} |"
                )
    if result.get("baseline"):
        lines += ["", "## Against the baseline", ""] + [f"- {x}" for x in summary_lines(result["baseline"])]
    fails = failures(result["questions"])
    lines += [
        "",
        f"## Failures ({len(fails)})",
        "",
        "| id | question | gold | answered | confidence |",
        "|---|---|---|---|---|",
    ]
    for r in fails:
        said = "(abstained)" if r["abstained"] else r["answer"][:300]
        if r.get("kind") == "evidence":
            said = f"(evidence, no answer) {said}"
        gold = "; ".join(r["gold"]) or "(unanswerable)"
        cells = [r["id"], r["question"], gold, said, r["confidence"]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def report_junit(result: dict, name: str = "qa eval") -> str:
    """JUnit XML: one ``testcase`` per question (its failure message says what was asked, expected, quoted and
    cited), the metrics as suite properties."""
    records = result["questions"]
    fails = failures(records)
    seconds = sum(r["latency_ms"] for r in records) / 1000
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(records)),
        failures=str(len(fails)),
        errors="0",
        skipped="0",
        time=f"{seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for k, v in result["metrics"].items():
        ET.SubElement(props, "property", name=k, value=str(v))
    for r in records:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{name}.{r.get('type') or 'question'}",
            name=r["id"],
            time=f"{r['latency_ms'] / 1000:.3f}",
        )
        text = describe(r)
        if not is_right(r):
            msg = "; ".join(text.splitlines())
            ET.SubElement(case, "failure", message=msg, type="WrongAnswer").text = text
        else:
            ET.SubElement(case, "system-out").text = text
    root = ET.Element("testsuites", name=name, tests=suite.get("tests"), failures=suite.get("failures"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
