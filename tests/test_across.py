"""Questions across documents: detected from the question and the documents, answered with each relevant
document's own quotes side by side, each cited."""

from __future__ import annotations

import json

import pytest

import qa
from contract import CITATION_KEYS
from qa.answer import across
from qa.cli import main

BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
JAPAN_2019 = "related/japan-ai-strategy-2019.pdf"
JAPAN_2017 = "related/japan-ai-technology-strategy-2017.txt"
TALENT = "How do India's and Japan's strategies differ on talent?"
SEMICONDUCTORS = "What do the documents say about semiconductors?"


def _columns_hold(index, ans) -> None:
    """One column per document, each quote cited from its own document at its exact span, numbered once
    across the answer, and every column's citations among the answer's."""
    docs = [col["doc"] for col in ans.by_document]
    assert len(docs) == len(set(docs)) >= 2
    assert not ans.abstained
    numbers = [c.n for col in ans.by_document for c in col["citations"]]
    assert numbers == sorted(set(numbers)) and set(numbers) == {c.n for c in ans.citations}
    for col in ans.by_document:
        assert col["title"] == index.documents[col["doc"]]["title"]
        assert col["citations"]
        for c in col["citations"]:
            assert c.doc == col["doc"]
            assert index.pages[(c.doc, c.page)].text[c.start : c.end] == c.quote


def test_a_comparison_of_two_countries_quotes_each_side(real_index):
    cross = across.plan(real_index, TALENT)
    # India's strategy and Japan's two are about one subject each; the brief is about both.
    assert set(cross.queries) == {BRIEF, NITI, JAPAN_2019, JAPAN_2017}
    assert "Japan" not in cross.queries[NITI] and "India" not in cross.queries[JAPAN_2019]
    ans = real_index.ask(TALENT)
    _columns_hold(real_index, ans)
    by_doc = {col["doc"]: col for col in ans.by_document}
    assert JAPAN_2019 in by_doc and BRIEF in by_doc
    assert "talent" in " ".join(c.quote for c in by_doc[JAPAN_2019]["citations"])
    assert "talent" in " ".join(c.quote for c in by_doc[BRIEF]["citations"])
    unanswered = [real_index.documents[d]["title"] for d in cross.queries if d not in by_doc]
    for title in unanswered:  # a document searched that gave no confident quote is named
        assert title in ans.message


def test_a_question_about_the_documents_quotes_each_one_on_the_topic(real_index):
    ans = real_index.ask(SEMICONDUCTORS)
    _columns_hold(real_index, ans)
    assert len(ans.by_document) >= 3
    for col in ans.by_document:
        assert "semiconductor" in " ".join(c.quote for c in col["citations"]).lower()


def test_the_document_filter_limits_the_columns(real_index):
    ans = real_index.ask(SEMICONDUCTORS, docs=[BRIEF, NITI])
    assert [col["doc"] for col in ans.by_document] == [BRIEF, NITI]
    assert across.plan(real_index, SEMICONDUCTORS, docs=[NITI]) is None  # one document: an ordinary answer


@pytest.mark.parametrize(
    "q",
    [
        "How does the IndiaAI Mission differ from NM-ICPS?",  # both in one document only
        "What does IOWN stand for?",
        "Which Japanese company operates a data centre tailored to AI workloads in India?",
        "Why is India a different partner from the US?",  # an adjective, not a comparison asked
    ],
)
def test_questions_about_one_place_are_answered_as_before(real_index, q):
    assert across.plan(real_index, q) is None
    ans = real_index.ask(q)
    assert ans.by_document == ()
    assert "by_document" not in ans.to_dict()


def test_a_follow_up_can_ask_across_the_documents(real_index):
    ans = real_index.ask("What about talent?", history=[SEMICONDUCTORS])
    assert ans.message.startswith("Understood as: What do the documents say about talent?")
    _columns_hold(real_index, ans)


def test_json_and_human_output_carry_the_columns(real_index_path, capsys):
    assert main(["ask", TALENT, "--index", str(real_index_path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [set(col) for col in d["by_document"]] == [{"doc", "title", "confidence", "citations"}] * len(
        d["by_document"]
    )
    cited = {c["n"]: c for c in d["citations"]}
    for col in d["by_document"]:
        for c in col["citations"]:
            assert set(c) == CITATION_KEYS and cited[c["n"]] == c
    assert main(["ask", TALENT, "--index", str(real_index_path)]) == 0
    out = capsys.readouterr().out
    for col in d["by_document"]:
        head = out.index(f"{col['title']} ({col['doc']}):")
        first = col["citations"][0]
        assert out.index(f"  [{first['n']}] {first['quote'][:40]}") > head


def test_subjects_are_matched_to_documents_by_what_they_are_about(fake_corpus, build_fake):
    """A corpus made here, with invented names: two documents about one country each, one about both."""
    ports = "Borovia built three new ports. Borovia trains dock workers. Borovia exports grain.\n"
    roads = "Quellin paves mountain roads. Quellin trains road engineers. Quellin exports timber.\n"
    both = (
        "Borovia and Quellin signed a trade pact. Borovia ships grain to Quellin. Quellin sends timber to "
        "Borovia.\n"
    )
    corpus = fake_corpus({"borovia.txt": ports, "quellin.txt": roads, "pact.txt": both})
    build_fake(corpus, corpus.parent / "index")
    index = qa.load_index(corpus.parent / "index")
    cross = across.plan(index, "How do Borovia and Quellin compare on training?")
    assert list(cross.queries) == ["borovia.txt", "pact.txt", "quellin.txt"]
    assert cross.queries["borovia.txt"] == "How do Borovia and compare on training?"
    assert cross.queries["pact.txt"] == "How do Borovia and Quellin compare on training?"
    # Both subjects in every document that names them: a comparison inside one place.
    assert across.plan(index, "How do Borovia's ports differ from Borovia's farms?") is None
    assert across.plan(index, "What do the documents say about timber?").queries.keys() == {
        "borovia.txt",
        "pact.txt",
        "quellin.txt",
    }
    assert across.plan(index, "What does Borovia export?") is None
