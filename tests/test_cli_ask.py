"""`qa ask` and `qa eval` through ``main([...])``: exit codes, human output, the --json contract, stderr."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from contract import ANSWER_KEYS, CITATION_KEYS, HIT_KEYS
from qa.cli import main

BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
ALLOC = "How much was allocated to the IndiaAI Mission in 2024–2025?"
NO_ANSWER = "The documents don't answer this question."

DOCS = {
    "ocean.txt": (
        "Whales migrate across cold oceans each winter. Coral reefs shelter thousands of fish species.\n"
    ),
    "budget.txt": (
        "Robotics Budget\n\nThe ministry allocated ₹ 500 crore to the robotics programme. "
        "The robotics programme began in March 2021 in Pune.\n"
    ),
}


@pytest.fixture
def fake_index(tmp_path, fake_corpus, build_fake) -> Path:
    corpus = fake_corpus(DOCS)
    build_fake(corpus, tmp_path / "index")
    return tmp_path / "index"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert out.count("\n") == 1  # one object on one line
    d = json.loads(out)
    if argv[0] == "ask":
        check_spans(Path(argv[argv.index("--index") + 1]), d)
    return d


def check_spans(index: Path, d: dict) -> None:
    """Every quote, highlight and hit of a JSON answer slices back out of the index's stored pages."""
    pages = {}
    for line in (index / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        pages[(p["doc"], p["page"])] = p["text"]
    for c in d["citations"] + d["related"]:
        assert pages[(c["doc"], c["page"])][c["start"] : c["end"]] == c["quote"]
    for h in d["highlights"]:
        c = d["citations"][h["citation"] - 1]
        assert c["start"] <= h["start"] < h["end"] <= c["end"]
        assert pages[(c["doc"], c["page"])][h["start"] : h["end"]] == h["text"]
    for h in d["hits"]:
        assert pages[(h["doc"], h["page"])][h["start"] : h["end"]] == h["text"]


# ---------------------------------------------------------------- qa ask, fake index


def test_ask_json_contract(capsys, fake_index):
    d = run_json(capsys, "ask", "When did the robotics programme begin?", "--index", fake_index)
    assert list(d) == ANSWER_KEYS
    assert d["question"] == "When did the robotics programme begin?"
    assert d["answer"] == d["display"] == "The robotics programme began in March 2021 in Pune."
    assert d["abstained"] is False and 0 < d["confidence"] <= 1 and d["message"] == ""
    (c,) = d["citations"]
    assert set(c) == CITATION_KEYS
    assert (c["n"], c["doc"], c["path"], c["page"]) == (1, "budget.txt", "budget.txt", 1)
    assert c["quote"] == d["answer"] and c["end"] - c["start"] == len(c["quote"])
    assert d["highlights"] == [
        {"citation": 1, "start": c["start"] + 32, "end": c["start"] + 42, "text": "March 2021"}
    ]
    assert d["related"] == []
    assert len(d["hits"]) == 2  # every chunk of the tiny corpus (k clamped)
    assert all(set(h) == HIT_KEYS for h in d["hits"])
    assert [h["rank"] for h in d["hits"]] == [1, 2]


def test_ask_human_output(capsys, fake_index):
    code, out, err = run(
        capsys, "ask", "How much was allocated to the robotics programme?", "--index", fake_index
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "The ministry allocated ₹ 500 crore to the robotics programme."
    assert re.fullmatch(r"confidence (0\.\d\d|1\.00)", lines[2])
    # A text file without form feeds has no pages: cited by its section, not "p. 1".
    assert re.fullmatch(r"\[1\] Robotics Budget, Robotics Budget \[budget\.txt:\d+-\d+\]", lines[3]), lines


def test_ask_abstention_human_and_json(capsys, fake_index):
    q = "How many submarines does the navy operate?"
    code, out, _ = run(capsys, "ask", q, "--index", fake_index)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == NO_ANSWER
    assert "Related reading (not an answer):" in lines
    related = [line for line in lines if line.startswith("  - ")]
    assert 1 <= len(related) <= 3
    d = run_json(capsys, "ask", q, "--index", fake_index)
    assert d["abstained"] is True and d["answer"] == "" and d["citations"] == [] and d["message"] == NO_ANSWER
    assert len(d["related"]) == len(related) and all(set(r) == CITATION_KEYS for r in d["related"])


def test_ask_k_and_retriever(capsys, fake_index):
    d = run_json(capsys, "ask", "Where do whales migrate?", "--index", fake_index, "--k", "1")
    assert len(d["hits"]) == 1 and d["hits"][0]["doc"] == "ocean.txt"
    d = run_json(capsys, "ask", "Where do whales migrate?", "--index", fake_index, "--retriever", "bm25")
    assert d["hits"] and all(h["dense"] is None and h["lexical"] > 0 for h in d["hits"])
    d = run_json(capsys, "ask", "Where do whales migrate?", "--index", fake_index, "--retriever", "dense")
    assert len(d["hits"]) == 2 and all(h["lexical"] is None for h in d["hits"])


def test_ask_doc_filter(capsys, fake_index):
    d = run_json(capsys, "ask", "Where do whales migrate?", "--index", fake_index, "--doc", "budget")
    assert {h["doc"] for h in d["hits"]} == {"budget.txt"}
    d = run_json(
        capsys,
        "ask",
        "Where do whales migrate?",
        "--index",
        fake_index,
        "--doc",
        "budget.txt",
        "--doc",
        "ocean",
    )
    assert {h["doc"] for h in d["hits"]} == {"budget.txt", "ocean.txt"}


def test_ask_unknown_doc(capsys, fake_index):
    code, out, err = run(
        capsys, "ask", "Where do whales migrate?", "--index", fake_index, "--doc", "nope.txt"
    )
    assert (code, out) == (2, "")
    assert err == "qa: error: unknown document 'nope.txt' (see: qa status --json for the documents)\n"


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "the question is empty: type a question in words"),
        ("   ", "the question is empty: type a question in words"),
        ("?!?", "the question is empty: type a question in words"),
        ("y" * 2001, "the question is too long (2001 characters, at most 2000)"),
    ],
)
def test_ask_bad_question(capsys, fake_index, q, message):
    code, out, err = run(capsys, "ask", q, "--index", fake_index)
    assert (code, out) == (2, "")
    assert err == f"qa: error: {message}\n"


def test_ask_missing_index(capsys, tmp_path):
    missing = tmp_path / "nowhere"
    code, out, err = run(capsys, "ask", "Where do whales migrate?", "--index", missing)
    assert (code, out) == (2, "")
    assert err == f"qa: error: no index at {missing}; build it with: qa index --index {missing}\n"


def test_ask_bad_arguments(capsys, fake_index):
    code, _, err = run(capsys, "ask", "q?", "--index", fake_index, "--retriever", "splade")
    assert code == 2 and "invalid choice: 'splade'" in err
    code, _, err = run(capsys, "ask", "q?", "--index", fake_index, "--k", "many")
    assert code == 2 and "invalid int value: 'many'" in err
    code, _, err = run(capsys, "ask")
    assert code == 2 and "the following arguments are required: question" in err


# ---------------------------------------------------------------- qa ask, real index


@pytest.mark.slow
def test_ask_real_table_question_human(capsys, real_index_path):
    code, out, err = run(capsys, "ask", ALLOC, "--index", real_index_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "IndiaAI Mission — 2024–2025: 2000 (₹ crore)"
    cite = next(line for line in lines if line.startswith("[1] "))
    m = re.fullmatch(
        # The brief has no pages: cited by its section alone.
        r"\[1\] Indo-Japanese Collaboration on Artificial Intelligence, "
        r"4\. Building India's AI Ecosystem: Seeking Global Collaboration › "
        r"Table 1: Public Resource Allocation to AI Development in India \(in ₹ crore\) "
        rf"\[{re.escape(BRIEF)}:(\d+)-(\d+)\]",
        cite,
    )
    assert m, cite
    d = run_json(capsys, "ask", ALLOC, "--index", real_index_path)
    c = d["citations"][0]
    assert (int(m[1]), int(m[2])) == (c["start"], c["end"])
    assert (
        c["quote"]
        == "IndiaAI Mission\t0\t173\t2000\tMinistry of Electronics and Information Technology (MeitY)"
    )
    assert any(
        line.startswith("    The document cites: Francis et al. (2025), Union Budget 2025-26")
        for line in lines
    )


@pytest.mark.slow
def test_ask_real_json(capsys, real_index_path):
    d = run_json(capsys, "ask", "Who is the largest customer of SMIC?", "--index", real_index_path)
    assert list(d) == ANSWER_KEYS
    assert "Huawei as its largest customer" in d["answer"]
    assert d["citations"][0]["doc"] == BRIEF and d["citations"][0]["page"] == 1
    assert d["citations"][0]["title"] == "Indo-Japanese Collaboration on Artificial Intelligence"
    assert len(d["hits"]) == 8  # the default k
    assert [h["rank"] for h in d["hits"]] == list(range(1, 9))
    scores = [h["score"] for h in d["hits"]]
    assert all(isinstance(s, float) for s in scores)


@pytest.mark.slow
def test_ask_real_history(capsys, real_index_path):
    code, out, err = run(capsys, "ask", "And in 2023-2024?", "--history", ALLOC, "--index", real_index_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "(Understood as: How much was allocated to the IndiaAI Mission in 2023-2024?)"
    assert lines[1] == "IndiaAI Mission — 2023–2024: 173 (₹ crore)"
    d = run_json(capsys, "ask", "And in 2023-2024?", "--history", ALLOC, "--index", real_index_path)
    assert d["question"] == "And in 2023-2024?" and d["display"] == lines[1]


@pytest.mark.slow
def test_ask_real_doc_filter(capsys, real_index_path):
    q = "How many petaflops of AI computing infrastructure is proposed, like Japan's ABCI facility?"
    d = run_json(
        capsys, "ask", q, "--index", real_index_path, "--doc", "niti-aayog-national-strategy-for-ai-2018.txt"
    )
    assert {h["doc"] for h in d["hits"]} == {NITI}
    assert d["citations"][0]["doc"] == NITI and d["citations"][0]["page"] == 59
    d = run_json(capsys, "ask", q, "--index", real_index_path, "--doc", "brief", "--k", "3")
    assert {h["doc"] for h in d["hits"]} == {BRIEF} and len(d["hits"]) == 3
    assert all(c["doc"] == BRIEF for c in d["citations"] + d["related"])


# ---------------------------------------------------------------- qa eval


def write_questions(tmp_path: Path) -> Path:
    rows = [
        {"id": "w1", "question": "Where do whales migrate?", "answers": ["cold oceans"]},
        {
            "id": "w2",
            "question": "When did the robotics programme begin?",
            "answers": ["March 2021"],
            "pages": [1],
        },
        {"id": "u1", "question": "How many submarines does the navy operate?", "answers": []},
    ]
    p = tmp_path / "questions.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return p


def test_eval_json_shape(capsys, tmp_path, fake_index):
    qfile = write_questions(tmp_path)
    d = run_json(capsys, "eval", "--questions", qfile, "--index", fake_index)
    assert {"metrics", "questions"} <= set(d)  # then by_type, reliability, hit_curve, gate (README)
    m = d["metrics"]
    assert {
        "questions",
        "answerable",
        "unanswerable",
        "hit@1",
        "hit@3",
        "hit@5",
        "hit@10",
        "mrr@10",
        "answer_accuracy",
        "page_accuracy",
        "abstention_recall",
        "false_abstention_rate",
        "median_answer_chars",
        "latency_ms_p50",
        "latency_ms_p95",
    } <= set(m)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (3, 2, 1)
    assert (m["answer_accuracy"], m["abstention_recall"], m["page_accuracy"]) == (1.0, 1.0, 1.0)
    assert [r["id"] for r in d["questions"]] == ["w1", "w2", "u1"]
    for r in d["questions"]:
        assert {
            "id",
            "answer",
            "abstained",
            "confidence",
            "citations",
            "hits",
            "latency_ms",
            "correct",
        } <= set(r)
        assert all(set(h) == {"doc", "page", "text"} for h in r["hits"])
    assert d["questions"][1]["page_correct"] is True


def test_eval_human_output_and_report(capsys, tmp_path, fake_index):
    qfile = write_questions(tmp_path)
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    code, out, err = run(capsys, "eval", "--questions", qfile, "--index", fake_index, "--report", report)
    assert code == 0, err
    assert "       answer_accuracy: 1.0" in out.splitlines()
    md = report.read_text(encoding="utf-8")
    assert md.startswith(f"# qa eval: {qfile}\n")
    assert "| answer_accuracy | 1.0 |" in md and "## Failures (0)" in md


def test_eval_report_lists_a_failure(capsys, tmp_path, fake_index):
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "x1", "question": "Where do whales migrate?", "answers": ["warm seas"]}\n', "utf-8")
    report = tmp_path / "r.md"
    code, _, err = run(capsys, "eval", "--questions", p, "--index", fake_index, "--report", report)
    assert code == 0, err
    md = report.read_text(encoding="utf-8")
    assert "## Failures (1)" in md
    assert (
        "| x1 | Where do whales migrate? | warm seas | Whales migrate across cold oceans each winter." in md
    )


def test_eval_compare_prints_three_columns(capsys, tmp_path, fake_index):
    qfile = write_questions(tmp_path)
    code, out, err = run(capsys, "eval", "--questions", qfile, "--index", fake_index, "--compare")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["| metric | dense | bm25 | hybrid |", "|---|---|---|---|"]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert {"hit@1", "mrr@10", "answer_accuracy", "abstention_recall"} <= set(rows)
    assert rows["questions"] == "| questions | 3 | 3 | 3 |"
    assert all(line.count(" | ") == 3 for line in lines[2:])
    d = run_json(capsys, "eval", "--questions", qfile, "--index", fake_index, "--compare")
    assert set(d) == {"compare"} and set(d["compare"]) == {"dense", "bm25", "hybrid"}


def test_eval_errors(capsys, tmp_path, fake_index):
    missing = tmp_path / "none.jsonl"
    code, out, err = run(capsys, "eval", "--questions", missing, "--index", fake_index)
    assert (code, out, err) == (2, "", f"qa: error: question file not found: {missing}\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": []}\nnot json\n', encoding="utf-8")
    code, out, err = run(capsys, "eval", "--questions", bad, "--index", fake_index)
    assert (code, out, err) == (2, "", f"qa: error: {bad}:2: not valid JSON\n")
    code, _, err = run(capsys, "eval", "--questions", bad, "--index", tmp_path / "noindex")
    assert code == 2 and err.startswith("qa: error: no index at ")
    code, _, err = run(capsys, "eval", "--index", fake_index)
    assert code == 2 and "--questions" in err


@pytest.mark.slow
def test_eval_real_dev_subset(capsys, tmp_path, real_index_path):
    dev = Path(__file__).resolve().parents[1] / "eval" / "brief_dev.jsonl"
    rows = [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    subset = [r for r in rows if r["id"] in {"d03", "d27", "u108"}]
    p = tmp_path / "subset.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in subset) + "\n", encoding="utf-8")
    d = run_json(capsys, "eval", "--questions", p, "--index", real_index_path)
    m = d["metrics"]
    assert (m["questions"], m["answer_accuracy"], m["abstention_recall"]) == (3, 1.0, 1.0)
    recs = {r["id"]: r for r in d["questions"]}
    assert recs["d03"]["correct"] and "8,192" in recs["d03"]["answer"]
    assert recs["d03"]["citations"][0]["doc"] == BRIEF
    assert recs["u108"]["abstained"] and recs["u108"]["answer"] == ""
