"""Evaluation: gold matching, question files, metrics on hand-made answers, the markdown report, and the
issue's targets on the dev set with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import UsageError
from qa.evaluate import contains_gold, evaluate, load_questions, norm, report_junit, report_markdown
from qa.evaluation import baseline, gate
from qa.evaluation.scoring import exact_match, short_answer, span_scores, squad_norm, token_f1
from qa.records import Answer, Chunk, Citation, Hit

DEV = Path(__file__).resolve().parents[1] / "eval" / "brief_dev.jsonl"


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello World", "hello world"),
        ("**LLM development**, *AI governance*", "llm development, ai governance"),
        ("US\\$ 68 billion", "us$ 68 billion"),
        ("  a \n\n b\t\tc  ", "a b c"),
        ("2023–2024 — done", "2023-2024 - done"),
    ],
)
def test_norm(text, expected):
    assert norm(text) == expected


@pytest.mark.parametrize(
    ("text", "golds", "expected"),
    [
        ("Japan's leadership in ROBOTICS, semiconductor fabrication", ["robotics, semiconductor"], True),
        (
            "engineers contributing to **LLM development, AI governance**",
            ["LLM development, AI governance"],
            True,
        ),
        ("pledged US\\$ 68 billion", ["US$ 68 billion"], True),
        ("liquid cooling,\nultra-pure   water", ["liquid cooling, ultra-pure water"], True),
        ("allocated in 2023–2024", ["2023-2024"], True),
        ("IndiaAI Mission\t0\t173\t2000", ["173"], True),  # substring: any occurrence counts
        ("the strategy", ["strategy paper"], False),  # the whole gold must be inside
        ("robotics", ["robotics, semiconductor"], False),
        ("anything", [], False),  # unanswerable: nothing to contain
        ("weather prediction models", ["precision farming sensors", "weather prediction models"], True),
    ],
)
def test_contains_gold(text, golds, expected):
    assert contains_gold(text, golds) is expected


# ---------------------------------------------------------------- question files


def write(tmp_path: Path, lines: list[str], name: str = "q.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_load_questions_defaults_and_blank_lines(tmp_path):
    p = write(
        tmp_path,
        [
            '{"id": "a", "question": "Q1?", "answers": ["x"], "pages": [3], "doc": "d.txt"}',
            "",
            '{"question": "Q2?"}',
        ],
    )
    rows = load_questions(p)
    assert rows == [
        {"id": "a", "question": "Q1?", "answers": ["x"], "pages": [3], "doc": "d.txt"},
        {"id": "q3", "question": "Q2?", "answers": []},  # id from its line number; no answers = unanswerable
    ]


def test_missing_question_file(tmp_path):
    with pytest.raises(UsageError) as e:
        load_questions(tmp_path / "nope.jsonl")
    assert str(e.value) == f"question file not found: {tmp_path / 'nope.jsonl'}"


def test_bad_json_line_names_its_line(tmp_path):
    p = write(tmp_path, ['{"question": "ok?", "answers": []}', "", '{"question": "broken"'])
    with pytest.raises(UsageError) as e:
        load_questions(p)
    assert str(e.value) == f"{p}:3: not valid JSON"


@pytest.mark.parametrize(
    "line",
    [
        '{"answers": ["x"]}',  # no question
        '{"question": 42, "answers": []}',  # question not text
        '{"question": "Q?", "answers": "x"}',  # answers not a list
        '["Q?", ["x"]]',  # not an object
    ],
)
def test_missing_or_wrong_fields(tmp_path, line):
    p = write(tmp_path, ['{"question": "fine?", "answers": []}', line])
    with pytest.raises(UsageError) as e:
        load_questions(p)
    assert str(e.value) == f"{p}:2: each line needs 'question' (text) and 'answers' (list)"


def test_empty_question_file(tmp_path):
    p = write(tmp_path, ["", "  "])
    with pytest.raises(UsageError, match="has no questions"):
        load_questions(p)


def test_dev_set_loads():
    rows = load_questions(DEV)
    assert len(rows) == 40
    assert sum(1 for r in rows if r["answers"]) == 32 and sum(1 for r in rows if not r["answers"]) == 8


# ---------------------------------------------------------------- metrics on hand-made answers


def _hit(text: str, rank: int) -> Hit:
    chunk = Chunk(id=f"d.txt#p1:{rank}", doc="d.txt", page=1, start=0, end=len(text), text=text)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


def _hits(gold_at: int | None, n: int = 12, gold: str = "GOLD") -> tuple[Hit, ...]:
    return tuple(_hit(f"passage {r} {gold if r == gold_at else 'filler'}", r) for r in range(1, n + 1))


def _answer(q: str, text: str, hits, page: int = 1) -> Answer:
    if not text:
        return Answer(question=q, answer="", abstained=True, confidence=0.1, hits=hits)
    cit = Citation(
        n=1, doc="d.txt", title="D", page=page, label=None, section=(), start=0, end=len(text), quote=text
    )
    return Answer(question=q, answer=text, abstained=False, confidence=0.9, citations=(cit,), hits=hits)


QUESTIONS = [
    # id, gold, pages, answer text (empty = abstain), gold rank in hits, first citation's page
    ("a1", ["gold"], [1], "ten chars GOLD", 2, 1),  # correct, gold 2nd, right page
    ("a2", ["gold"], [2], "wrong answer here xx", 1, 1),  # wrong, gold 1st, wrong page
    ("a3", ["**Gold**"], None, "", 12, 1),  # abstained though answerable; gold only at rank 12
    ("a4", ["gold"], None, "a correct answer: gold, and it is longer" * 2, 4, 1),  # correct, gold 4th
    ("u1", [], None, "", None, 1),  # unanswerable, abstained
    ("u2", [], None, "an answer to the unanswerable, 40 chars!", None, 1),  # unanswerable, answered
]


class StubIndex:
    """Answers each question as scripted; records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.scripted = {}
        for qid, _, _, text, gold_at, page in QUESTIONS:
            self.scripted[f"question {qid}?"] = (text, gold_at, page)

    def ask(self, question, history=None, docs=None, k=8, retriever="hybrid"):
        self.calls.append((question, docs, k, retriever))
        if question not in self.scripted:  # the warm-up
            return _answer(question, "", ())
        text, gold_at, page = self.scripted[question]
        return _answer(question, text, _hits(gold_at), page)


def _rows() -> list[dict]:
    rows = []
    for qid, gold, pages, *_ in QUESTIONS:
        row = {"id": qid, "question": f"question {qid}?", "answers": gold}
        if pages:
            row["pages"] = pages
        rows.append(row)
    return rows


@pytest.fixture
def result():
    stub = StubIndex()
    res = evaluate(stub, _rows(), retriever="bm25", k=10)
    res["stub"] = stub
    return res


def test_metrics_on_hand_made_records(result):
    m = result["metrics"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (6, 4, 2)
    # gold ranks of the answerable: a1 2, a2 1, a3 12 (beyond the top 10), a4 4
    assert m["hit@1"] == 0.25
    assert m["hit@3"] == 0.5
    assert m["hit@5"] == 0.75
    assert m["hit@10"] == 0.75
    assert m["mrr@10"] == round((1 / 2 + 1 / 1 + 1 / 4) / 4, 4) == 0.4375
    assert m["answer_accuracy"] == 0.5  # a1, a4
    assert m["page_accuracy"] == 0.5  # a1 right, a2 wrong; a3, a4 give no pages
    assert m["abstention_recall"] == 0.5  # u1 abstained, u2 answered
    assert m["false_abstention_rate"] == 0.25  # a3
    lengths = sorted(len(t) for _, _, _, t, _, _ in QUESTIONS if t)
    assert lengths == [14, 20, 40, 80]
    assert m["median_answer_chars"] == 30  # median of the non-abstained answers
    assert m["latency_ms_p50"] >= 0 and m["latency_ms_p95"] >= m["latency_ms_p50"]


def test_records_per_question(result):
    recs = {r["id"]: r for r in result["questions"]}
    assert list(recs) == ["a1", "a2", "a3", "a4", "u1", "u2"]
    a1 = recs["a1"]
    assert a1["gold_rank"] == 2 and a1["correct"] is True and a1["page_correct"] is True
    assert a1["answer"] == "ten chars GOLD" and a1["abstained"] is False and a1["answerable"] is True
    assert a1["citations"][0]["quote"] == "ten chars GOLD" and a1["citations"][0]["page"] == 1
    assert a1["hits"][1] == {"doc": "d.txt", "page": 1, "text": "passage 2 GOLD"}
    assert recs["a2"]["correct"] is False and recs["a2"]["page_correct"] is False
    assert recs["a3"]["gold_rank"] == 12 and recs["a3"]["correct"] is False  # markdown gold still matches
    assert "page_correct" not in recs["a3"] and "page_correct" not in recs["u1"]
    assert recs["u1"]["correct"] is False and recs["u1"]["gold_rank"] is None and recs["u1"]["abstained"]
    assert recs["u2"]["answerable"] is False and not recs["u2"]["abstained"]
    for r in recs.values():
        assert set(r) >= {"id", "question", "gold", "answer", "abstained", "confidence", "citations", "hits"}
        assert isinstance(r["latency_ms"], float) and r["latency_ms"] >= 0
    json.dumps(result["questions"])


def test_evaluate_passes_retriever_and_k_and_warms_up(result):
    calls = result["stub"].calls
    assert len(calls) == 7  # one warm-up, then each question once
    assert calls[0][0] not in {f"question {q[0]}?" for q in QUESTIONS}
    assert all(c[2] == 10 and c[3] == "bm25" for c in calls[1:])
    assert [c[0] for c in calls[1:]] == [f"question {q[0]}?" for q in QUESTIONS]


def test_metrics_without_unanswerables_or_pages():
    stub = StubIndex()
    rows = [{"id": "a1", "question": "question a1?", "answers": ["gold"]}]
    m = evaluate(stub, rows)["metrics"]
    assert m["abstention_recall"] is None and m["page_accuracy"] is None
    assert m["answer_accuracy"] == 1.0 and m["hit@1"] == 0.0 and m["hit@3"] == 1.0 and m["mrr@10"] == 0.5


def test_report_lists_the_failures(result):
    md = report_markdown(result, title="dev run")
    lines = md.splitlines()
    assert lines[0] == "# dev run"
    assert "| hit@5 | 0.75 |" in lines and "| answer_accuracy | 0.5 |" in lines
    assert "## Failures (3)" in lines  # a2 wrong, a3 abstained, u2 answered though unanswerable
    at = lines.index("## Failures (3)")
    assert lines[at + 2 : at + 4] == [
        "| id | question | gold | answered | confidence |",
        "|---|---|---|---|---|",
    ]
    fails = lines[at + 4 :]
    assert [f.split(" | ")[0] for f in fails] == ["| a2", "| a3", "| u2"]
    assert fails[0] == "| a2 | question a2? | gold | wrong answer here xx | 0.9 |"
    assert fails[1] == "| a3 | question a3? | **Gold** | (abstained) | 0.1 |"
    assert fails[2].startswith("| u2 | question u2? | (unanswerable) | an answer to the unanswerable")
    assert md.endswith("\n")


def test_report_escapes_pipes_and_newlines():
    rec = {
        "id": "t|1",
        "question": "a | b?",
        "gold": ["x|y"],
        "answerable": True,
        "correct": False,
        "abstained": False,
        "answer": "row\tone | two\nnext line",
        "confidence": 0.5,
    }
    md = report_markdown({"metrics": {"questions": 1}, "questions": [rec]})
    row = md.splitlines()[-1]
    assert row == "| t\\|1 | a \\| b? | x\\|y | row\tone \\| two next line | 0.5 |"


def test_report_with_no_failures():
    md = report_markdown({"metrics": {"questions": 0}, "questions": []})
    assert "## Failures (0)" in md


# ---------------------------------------------------------------- the short span, exact match and F1


def test_short_answer_is_the_first_highlight_else_the_answer():
    hl = ({"citation": 1, "start": 5, "end": 11, "text": "Konkan"}, {"citation": 1, "text": "summer"})
    ans = Answer(question="q", answer="ripen in the Konkan summer", abstained=False, confidence=0.5)
    assert short_answer(ans) == "ripen in the Konkan summer"
    assert short_answer(Answer(**{**ans.__dict__, "highlights": hl})) == "Konkan"
    assert short_answer(Answer(question="q", answer="", abstained=True, confidence=0.1)) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Cat, sat!", "cat sat"),
        ("an  apple a day", "apple day"),
        ("Theatre", "theatre"),
        ("US$ 68", "us 68"),
    ],
)
def test_squad_normalisation(text, expected):
    assert squad_norm(text) == expected


def test_exact_match_and_f1():
    assert exact_match("the Konkan.", "Konkan") == 1.0 and exact_match("humid Konkan", "Konkan") == 0.0
    assert token_f1("humid Konkan summer", "Konkan summer coast") == pytest.approx(2 / 3)  # p = r = 2/3
    assert token_f1("Konkan", "humid Konkan summer") == pytest.approx(0.5)  # p 1, r 1/3
    assert token_f1("monsoon", "Konkan") == 0.0
    assert token_f1("the", "a") == 1.0  # both empty after normalisation


def test_span_scores_best_gold_and_unanswerable():
    assert span_scores("Konkan summer", ["Goa", "Konkan summer"], declined=False) == (1.0, 1.0)
    assert span_scores("", ["Konkan"], declined=True) == (0.0, 0.0)
    assert span_scores("", [], declined=True) == (1.0, 1.0)
    assert span_scores("anything", [], declined=False) == (0.0, 0.0)


def test_em_f1_and_calibration_on_hand_made_records(result):
    recs = {r["id"]: r for r in result["questions"]}
    # no highlights: the short span is the whole answer
    assert recs["a1"]["short"] == "ten chars GOLD"
    assert recs["a1"]["exact_match"] == 0.0 and recs["a1"]["f1"] == 0.5  # 1 of 3 tokens, the only gold token
    assert recs["u1"]["exact_match"] == recs["u1"]["f1"] == 1.0  # unanswerable, abstained
    assert recs["u2"]["f1"] == 0.0 and recs["a3"]["f1"] == 0.0
    m = result["metrics"]
    assert m["exact_match"] == round(1 / 6, 4)  # only u1
    assert m["abstention_rate"] == round(2 / 6, 4)  # a3, u1
    # confidence 0.9 when answered (a1 a2 a4 u2: 2 right), 0.1 when abstained (a3 u1: none right)
    assert m["ece"] == pytest.approx((4 * abs(0.5 - 0.9) + 2 * abs(0.0 - 0.1)) / 6, abs=1e-4)
    bins = result["reliability"]
    assert [b["count"] for b in bins] == [0, 2, 0, 0, 0, 0, 0, 0, 0, 4]
    assert (bins[9]["confidence"], bins[9]["accuracy"]) == (0.9, 0.5) and bins[0]["accuracy"] is None
    curve = [0.25, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75]  # gold ranks 1, 2, 4 and 12
    assert result["hit_curve"] == {str(k): v for k, v in enumerate(curve, start=1)}


def test_metrics_per_question_type():
    rows = _rows()
    for row in rows:
        row["type"] = "first" if row["id"] in ("a1", "a2", "u1") else "second"
    res = evaluate(StubIndex(), rows)
    assert set(res["by_type"]) == {"first", "second"}
    first, second = res["by_type"]["first"], res["by_type"]["second"]
    assert (first["questions"], first["answer_accuracy"], first["abstention_recall"]) == (3, 0.5, 1.0)
    assert (second["questions"], second["answer_accuracy"], second["abstention_recall"]) == (3, 0.5, 0.0)
    assert evaluate(StubIndex(), _rows())["by_type"] == {}  # no type field: no breakdown


# ---------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("spec", "flag_op", "expected"),
    [
        ("answer_accuracy=0.85", ">=", ("answer_accuracy", ">=", 0.85, None)),
        ("ece=0.1", "<=", ("ece", "<=", 0.1, None)),
        ("latency<=800", ">=", ("latency_ms_p95", "<=", 800.0, None)),  # the operator wins over the flag
        (" hit@5 >= 0.97 ", "<=", ("hit@5", ">=", 0.97, None)),
        ("numeric/f1=0.5", ">=", ("f1", ">=", 0.5, "numeric")),
    ],
)
def test_threshold_forms(spec, flag_op, expected):
    t = gate.parse(spec, flag_op)
    assert (t.metric, t.op, t.value, t.kind) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonsense=1", "unknown metric 'nonsense'"),
        ("questions=3", "unknown metric 'questions'"),  # a count, not a quality
        ("f1=high", "'high' is not a number"),
        ("f1>0.5", "write METRIC=VALUE, METRIC>=VALUE or METRIC<=VALUE"),
    ],
)
def test_bad_thresholds(spec, message):
    with pytest.raises(UsageError, match=message):
        gate.parse(spec, ">=")


def test_broken_thresholds_one_line_each(result):
    ts = gate.parse_all(
        ["answer_accuracy=0.5", "hit@1=0.3", "page_accuracy=0.5"], ["false_abstention_rate=0.2", "ece=0.5"]
    )
    assert gate.broken(ts, result) == [
        "hit@1 = 0.25, required >= 0.3",
        "false_abstention_rate = 0.25, required <= 0.2",
    ]
    none = {"metrics": {"abstention_recall": None}, "by_type": {}}
    assert gate.broken([gate.parse("abstention_recall=0.9", ">=")], none) == [
        "abstention_recall not measured (no questions it applies to); required >= 0.9"
    ]


# ---------------------------------------------------------------- baseline


def test_baseline_comparison(result, tmp_path):
    earlier = json.loads(json.dumps({"metrics": result["metrics"], "questions": result["questions"]}))
    qs = {r["id"]: r for r in earlier["questions"]}
    qs["a1"].update(correct=False)  # was wrong, now right
    qs["u1"].update(abstained=False, kind="answer")  # was answered, now abstained: newly right and abstained
    qs["a3"].pop("kind")  # a record from before the kind field: read from ``abstained``
    qs["a4"].update(correct=True)  # unchanged: right before and now
    earlier["questions"] = [q for q in earlier["questions"] if q["id"] != "a2"]  # a2 is new
    earlier["questions"].append({**qs["a1"], "id": "gone"})
    earlier["metrics"]["answer_accuracy"] = 0.75
    earlier["metrics"]["ece"] = 0.1
    path = tmp_path / "before.json"
    path.write_text(json.dumps(earlier), encoding="utf-8")
    diff = baseline.compare(result, baseline.load(path))
    assert diff["newly_right"] == ["a1", "u1"] and diff["newly_wrong"] == []
    assert diff["newly_abstained"] == ["u1"] and diff["added"] == ["a2"] and diff["dropped"] == ["gone"]
    assert diff["deltas"]["answer_accuracy"] == {
        "before": 0.75,
        "after": 0.5,
        "delta": -0.25,
        "better": False,
    }
    assert diff["deltas"]["ece"]["better"] is False  # ECE went up: lower is better
    assert diff["deltas"]["hit@5"]["better"] is None  # unchanged
    lines = baseline.summary_lines(diff)
    assert "newly right (2): a1, u1" in lines and "answer_accuracy: 0.75 -> 0.5 (-0.25, worse)" in lines


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON file"),
        ('{"metrics": {}}', "no 'metrics' and 'questions'"),
        ('{"metrics": {}, "questions": [{"id": "x"}]}', r"questions\[0\] lacks"),
    ],
)
def test_bad_baseline(tmp_path, content, message):
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        baseline.load(path)


# ---------------------------------------------------------------- JUnit


def test_junit_one_case_per_question(result):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(report_junit(result, name="dev"))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("6", "3")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["a1", "a2", "a3", "a4", "u1", "u2"]
    failed = sorted(n for n, c in cases.items() if c.find("failure") is not None)
    assert failed == ["a2", "a3", "u2"]
    msg = cases["a2"].find("failure").get("message")
    assert msg == (
        "question: question a2?; gold: 'gold'; quoted: 'wrong answer here xx'; citation: d.txt, p. 1; "
        "confidence: 0.9"
    )
    assert "quoted: (abstained)" in cases["a3"].find("failure").text
    assert "gold: (unanswerable: should abstain)" in cases["u2"].find("failure").text
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["answer_accuracy"] == "0.5"


# ---------------------------------------------------------------- the targets on the dev set


# The targets themselves are asserted through the pytest plugin: tests/test_dev_set.py.


@pytest.fixture(scope="module")
def dev_result(real_index):
    return evaluate(real_index, load_questions(DEV))


@pytest.mark.slow
def test_dev_set_records_are_consistent(dev_result):
    m, recs = dev_result["metrics"], dev_result["questions"]
    assert len(recs) == 40
    ans = [r for r in recs if r["answerable"]]
    assert m["answer_accuracy"] == round(sum(r["correct"] for r in ans) / len(ans), 4)
    for r in recs:
        if r["correct"]:
            assert contains_gold(r["answer"], r["gold"])
        if r["abstained"]:
            assert r["answer"] == "" and r["citations"] == []
        assert len(r["hits"]) <= 10
    assert m["hit@1"] <= m["hit@3"] <= m["hit@5"] <= m["hit@10"]
    assert m["mrr@10"] <= m["hit@10"]


def test_unknown_question_fields_are_kept_in_the_record():
    rows = [{"id": "a1", "question": "question a1?", "answers": ["gold"], "difficulty": "hard", "type": "t"}]
    rec = evaluate(StubIndex(), rows)["questions"][0]
    assert rec["extra"] == {"difficulty": "hard"} and rec["type"] == "t"
