"""`qa eval` end to end on a small fake index: the gate's exit codes and stderr lines, each input format,
the reports it writes, and the baseline comparison."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET

import pytest

import qa
from evalsets import PASSING, WRONG, write_jsonl
from qa.cli import main
from qa.evaluation.run import evaluate, progress_bar


@pytest.fixture
def index_dir(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus(), tmp_path / "index")
    return tmp_path / "index"


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["eval", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_passing_set_passes_its_thresholds(tmp_path, index_dir, capsys):
    q = write_jsonl(tmp_path / "q.jsonl", PASSING)
    rc, out, err = run(
        capsys,
        *("--questions", str(q), "--index", str(index_dir), "--json"),
        *("--fail-under", "answer_accuracy=1", "--fail-under", "abstention_recall>=1"),
        *("--fail-over", "false_abstention_rate=0", "--fail-under", "latency<=60000"),
    )
    assert rc == 0, err
    assert err == ""
    result = json.loads(out)
    assert result["gate"] == {
        "thresholds": [
            "answer_accuracy>=1",
            "abstention_recall>=1",
            "latency_ms_p95<=60000",  # an explicit <= in --fail-under is a ceiling; `latency` is p95
            "false_abstention_rate<=0",  # --fail-over thresholds come after the --fail-under ones
        ],
        "broken": [],
        "passed": True,
    }
    assert [r["ok"] for r in result["questions"]] == [True, True, True]
    assert set(result["by_type"]) == {"place", "fact"}


def test_a_wrong_answer_breaks_the_gate_one_line_per_threshold(tmp_path, index_dir, capsys):
    q = write_jsonl(tmp_path / "q.jsonl", [*PASSING, WRONG])
    rc, out, err = run(
        capsys,
        *("--questions", str(q), "--index", str(index_dir)),
        *("--fail-under", "answer_accuracy=0.9", "--fail-under", "place/answer_accuracy=0.75"),
        *("--fail-under", "fact/answer_accuracy=1", "--fail-over", "abstention_rate=0.5"),
    )
    assert rc == 1
    # 2 of 3 answerable right: 0.6667 overall; place: 1 of 2; fact holds; one abstention of 4 holds
    assert err.splitlines() == [
        "qa: threshold not met: answer_accuracy = 0.6667, required >= 0.9",
        "qa: threshold not met: place/answer_accuracy = 0.5, required >= 0.75",
    ]
    assert "gate: FAILED (2 broken)" in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["--fail-under", "accuracy_of_everything=0.5"], "unknown metric 'accuracy_of_everything'"),
        (["--fail-over", "ece=low"], "'low' is not a number"),
        (["--fail-under", "answer_accuracy"], "write METRIC=VALUE"),
        (["--fail-under", "trivia/f1=0.5"], "no question of type 'trivia' (types: fact, place)"),
    ],
)
def test_bad_thresholds_are_usage_errors_before_anything_runs(tmp_path, index_dir, capsys, spec, message):
    q = write_jsonl(tmp_path / "q.jsonl", PASSING)
    rc, out, err = run(capsys, "--questions", str(q), "--index", str(index_dir), *spec)
    assert rc == 2 and out == ""  # no question asked, nothing printed
    assert err.startswith("qa: error: threshold") and message in err


def test_bad_metric_name_is_found_before_the_index_is_opened(tmp_path, capsys):
    q = write_jsonl(tmp_path / "q.jsonl", PASSING)
    rc, _, err = run(
        capsys, "--questions", str(q), "--index", str(tmp_path / "none"), "--fail-over", "speed=1"
    )
    assert rc == 2 and "unknown metric 'speed'" in err


SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "fruit/mangoes.md",
            "paragraphs": [
                {
                    "context": "Alphonso mangoes ripen in the humid Konkan summer.",
                    "qas": [
                        {
                            "id": "s1",
                            "question": "Where do Alphonso mangoes ripen?",
                            "answers": [{"text": "Konkan", "answer_start": 36}],
                            "is_impossible": False,
                        },
                        {
                            "id": "s2",
                            "question": "Who won the football world cup in Qatar?",
                            "answers": [],
                            "plausible_answers": [{"text": "mangoes", "answer_start": 9}],
                            "is_impossible": True,
                        },
                    ],
                }
            ],
        }
    ],
}


@pytest.mark.parametrize("fmt", ["jsonl", "squad", "csv"])
def test_each_input_format_runs_end_to_end(tmp_path, index_dir, capsys, fmt):
    if fmt == "jsonl":
        q = write_jsonl(tmp_path / "q.jsonl", [PASSING[0], PASSING[2]])
    elif fmt == "squad":
        q = tmp_path / "q.json"
        q.write_text(json.dumps(SQUAD), encoding="utf-8")
    else:
        q = tmp_path / "q.csv"
        q.write_text(
            "question,answer,doc,pages\n"
            "Where do Alphonso mangoes ripen?,Konkan,fruit/mangoes.md,1\n"
            "Who won the football world cup in Qatar?,,,\n",
            encoding="utf-8",
        )
    rc, out, err = run(
        capsys, "--questions", str(q), "--index", str(index_dir), "--json", "--fail-under", "f1=0.5"
    )
    assert rc == 0, err
    result = json.loads(out)
    assert [r["answerable"] for r in result["questions"]] == [True, False]
    assert [r["ok"] for r in result["questions"]] == [True, True]
    assert result["metrics"]["questions"] == 2


def test_malformed_file_is_one_usage_error_naming_the_line(tmp_path, index_dir, capsys):
    q = tmp_path / "q.csv"
    q.write_text("question,answer,pages\nWhere?,x,1\nWhat?,y,three\n", encoding="utf-8")
    rc, out, err = run(capsys, "--questions", str(q), "--index", str(index_dir))
    assert rc == 2 and out == ""
    assert err.splitlines() == [f"qa: error: {q}:3: pages are numbers separated by ';' (\"3;4\")"]


def test_reports_and_baseline(tmp_path, index_dir, capsys):
    q = write_jsonl(tmp_path / "q.jsonl", [*PASSING, WRONG])
    rc, before, _ = run(capsys, "--questions", str(q), "--index", str(index_dir), "--json")
    assert rc == 0  # no thresholds: a report, not a gate
    # An earlier run where "scope" was wrong and "wrong" right and abstained, with another F1
    earlier = json.loads(before)
    for r in earlier["questions"]:
        if r["id"] == "scope":
            r.update(correct=False, ok=False)
        if r["id"] == "wrong":
            r.update(correct=True, ok=True)
        if r["id"] == "mango":
            r.update(abstained=False)
    earlier["metrics"]["f1"] = earlier["metrics"]["f1"] + 0.25
    base = tmp_path / "before.json"
    base.write_text(json.dumps(earlier), encoding="utf-8")
    md, xml, html = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "r.html"
    argv = ["--questions", str(q), "--index", str(index_dir), "--baseline", str(base), "--junit", str(xml)]
    rc, out, _ = run(capsys, *argv, "--report", str(md), "--json")
    result = json.loads(out)
    diff = result["baseline"]
    assert diff["newly_right"] == ["scope"] and diff["newly_wrong"] == ["wrong"]
    assert diff["deltas"]["f1"]["delta"] == -0.25 and diff["deltas"]["f1"]["better"] is False
    text = md.read_text(encoding="utf-8")
    assert "## Against the baseline" in text and "- newly right (1): scope" in text
    assert f"## Calibration (ECE {result['metrics']['ece']})" in text
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["wrong"]
    run(capsys, *argv, "--report", str(html))
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 4
    assert "Against the baseline" in page


def test_baseline_that_is_not_an_eval_output(tmp_path, index_dir, capsys):
    q = write_jsonl(tmp_path / "q.jsonl", PASSING)
    base = tmp_path / "b.json"
    base.write_text('{"metrics": {}}', encoding="utf-8")
    rc, _, err = run(capsys, "--questions", str(q), "--index", str(index_dir), "--baseline", str(base))
    assert rc == 2 and "no 'metrics' and 'questions'" in err


def test_progress_bar_only_in_a_terminal_and_not_quiet(tmp_path, index_dir, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_bar(quiet=False) is None  # not a terminal
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert progress_bar(quiet=True) is None
    rows = [{**PASSING[0], "id": f"m{n}"} for n in range(3)]
    evaluate(qa.load_index(index_dir), rows, progress=progress_bar(quiet=False))
    shown = term.getvalue()
    assert "questions" in shown and "3/3" in shown
