"""The third kind of reply: evidence without an answer. A question about figures whose answer no sentence
states gets the quoted rows or sentences that hold them, under a message of its own, with ``kind`` =
"evidence" and ``abstained`` false; ``qa eval`` counts it as not answering."""

from __future__ import annotations

from dataclasses import replace

import pytest

import qa
from qa.answer.evidence import MESSAGE, asks_figures
from qa.answer.model import load as load_model
from qa.answer.pipeline import ask
from qa.answer.question import parse_question
from qa.evaluation.metrics import metrics
from qa.evaluation.run import record
from qa.records import Answer, Citation

FILING = (
    "Harbour Freight Company Annual Report\n\n"
    "Harbour Freight Company moves containers along the western coast.\n\n"
    "Consolidated Balance Sheets (in $ millions)\n\n"
    "Item\t2022\t2023\n"
    "Cash and cash equivalents\t1,200\t950\n"
    "Total current assets\t4,600\t4,850\n"
    "Total current liabilities\t5,000\t5,600\n\n"
    "The company employs 3,100 dock workers. Its chief executive is Dana Whitfield.\n"
)


@pytest.fixture(scope="module")
def filing(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    (root / "corpus").mkdir()
    (root / "corpus" / "annual-report.txt").write_text(FILING, encoding="utf-8")
    qa.build_index(root / "corpus", root / "index")
    return qa.load_index(root / "index")


@pytest.fixture(scope="module")
def strict():
    """The shipped model with a threshold no answer reaches: every question goes to the fallbacks."""
    return replace(load_model(), threshold=1.01)


@pytest.mark.parametrize(
    ("question", "figures"),
    [
        ("How much cash did the company hold?", True),
        ("Did total current liabilities grow between 2022 and 2023?", True),
        ("Who is the chief executive?", False),
        ("Why does the company move containers?", False),
    ],
)
def test_questions_about_figures(question, figures):
    assert asks_figures(parse_question(question)) is figures


def _slices_back(index, ans) -> None:
    assert ans.citations and ans.answer == " ".join(c.quote for c in ans.citations)
    for c in ans.citations:
        assert index.pages[(c.doc, c.page)].text[c.start : c.end] == c.quote


def test_figures_without_a_stating_sentence_are_quoted_as_evidence(filing, strict):
    ans = ask(filing, "Did total current liabilities grow between 2022 and 2023?", model=strict)
    assert ans.kind == "evidence" and not ans.abstained and not ans.answered
    assert ans.message == MESSAGE
    assert ans.confidence < strict.threshold
    _slices_back(filing, ans)
    assert "Total current liabilities\t5,000\t5,600" in ans.answer  # the row itself, verbatim
    d = ans.to_dict()
    assert d["kind"] == "evidence" and d["abstained"] is False and d["citations"]


def test_no_evidence_is_a_bare_abstention(filing, strict):
    # Not about figures; and about figures, but for a year the document never gives.
    for q in ("Who is the chief executive?", "How much cash did the company hold in 2031?"):
        ans = ask(filing, q, model=strict)
        assert ans.kind == "abstain" and ans.abstained and ans.citations == (), q
        assert ans.to_dict()["kind"] == "abstain"


def test_a_confident_answer_stays_an_answer(filing):
    ans = filing.ask("How many dock workers does the company employ?")
    assert ans.kind == "answer" and ans.answered and "3,100" in ans.answer
    assert ans.to_dict()["kind"] == "answer"


def test_kind_and_abstained_agree():
    assert Answer(question="q", answer="", abstained=True, confidence=0.1).kind == "abstain"
    assert Answer(question="q", answer="x", abstained=False, confidence=0.9).kind == "answer"
    with pytest.raises(ValueError, match="cannot have abstained"):
        Answer(question="q", answer="", abstained=True, confidence=0.1, kind="evidence")
    with pytest.raises(ValueError, match="unknown answer kind"):
        Answer(question="q", answer="x", abstained=False, confidence=0.9, kind="summary")


def _evidence_answer(question: str, text: str) -> Answer:
    cit = Citation(
        n=1, doc="d.txt", title="D", page=1, label=None, section=(), start=0, end=len(text), quote=text
    )
    return Answer(
        question=question, answer=text, abstained=False, confidence=0.1, citations=(cit,), kind="evidence"
    )


def test_eval_counts_evidence_as_not_answering():
    gold_row = {"id": "a", "question": "How much?", "answers": ["950"]}
    none_row = {"id": "u", "question": "How much else?", "answers": []}
    recs = [
        record(gold_row, _evidence_answer("How much?", "Cash\t1,200\t950"), 1.0),
        record(none_row, _evidence_answer("How much else?", "Cash\t1,200\t950"), 1.0),
        record(none_row, Answer(question="q", answer="", abstained=True, confidence=0.0), 1.0),
    ]
    assert [r["kind"] for r in recs] == ["evidence", "evidence", "abstain"]
    # The gold string is quoted, but evidence is not an answer: not correct, no span credit.
    assert recs[0]["correct"] is False and recs[0]["exact_match"] == 0.0 and recs[0]["short"] == ""
    assert recs[1]["ok"] is True and recs[1]["exact_match"] == 1.0  # no answer to an unanswerable one
    m = metrics(recs)
    assert m["false_abstention_rate"] == 1.0 and m["abstention_recall"] == 1.0
    assert m["evidence_rate"] == round(2 / 3, 4) and m["bare_abstention_rate"] == round(1 / 3, 4)
