"""Example questions from the user's own documents: drawn from a corpus made here (or listed by the user in
``.qaexamples``), checked against the index at build time, kept in the index folder."""

from __future__ import annotations

import json

import pytest

import qa
from qa import examples

HARBOUR = (
    "Ports of Borovia\n\n"
    "The Borovian Harbour Authority (BHA) manages the three ports of Borovia. "
    "The BHA was founded in 1998 and employs 2,400 people. "
    "Quellmark is a shipping company based in Port Ardin. "
    "Quellmark operates twelve cargo vessels between Ardin and Velm. "
    "Ilsa Varron is a harbour pilot in Port Ardin. The Harbour Pilots Guild (HP) trains them.\n"
)
RAIL = (
    "# Rail in Borovia\n\n"
    "The Northern Rail Corridor (NRC) links Ardin to Velm over 340 kilometres. "
    "The NRC carries grain, timber and passengers. Electric trains replaced diesel ones on the NRC in 2019.\n"
)
GOOD = "Who manages the ports of Borovia?"
OUTSIDE = "What is the boiling point of mercury?"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A two-document corpus indexed with the bundled model (the answer model reads its similarities)."""
    root = tmp_path_factory.mktemp("examples")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "rail.md").write_text(RAIL, encoding="utf-8")
    report = qa.build_index(corpus, root / "index")
    return corpus, root / "index", report


def test_examples_are_drawn_from_the_corpus_and_answered_confidently(built):
    corpus, index, report = built
    drawn = examples.candidates(qa.load_index(index))
    assert drawn["What does BHA stand for?"] == "Borovian Harbour Authority (BHA)"
    assert drawn["What does NRC stand for?"] == "Northern Rail Corridor (NRC)"
    assert drawn["What is Quellmark?"] == "Quellmark"
    # Not drawn: a person's name asked with "What is", a two-letter acronym.
    assert not any("Ilsa" in q or "HP" in q for q in drawn), drawn
    assert report["examples"]["source"] == "corpus"
    questions = report["examples"]["questions"]
    assert questions and set(questions) <= set(drawn)
    assert {"What does BHA stand for?", "What does NRC stand for?"} <= set(questions)
    idx = qa.load_index(index)
    assert idx.examples() == questions
    stored = json.loads((index / examples.FILE).read_text(encoding="utf-8"))
    assert stored["questions"] == questions
    for q in questions:
        ans = idx.ask(q)
        assert not ans.abstained and ans.confidence >= examples.CONFIDENT
    assert "Borovian Harbour Authority" in idx.ask("What does BHA stand for?").answer


def test_examples_listed_by_the_user_replace_the_drawn_ones(built):
    corpus, index, _ = built
    listed = corpus / examples.USER_FILE
    listed.write_text(f"# questions for the chat\n{GOOD}\n\n{OUTSIDE}\n", encoding="utf-8")
    try:
        report = qa.build_index(corpus, index)  # nothing else changed: the index is not rebuilt
        assert report["updated"] is False
        assert report["examples"] == {"source": "file", "questions": [GOOD], "dropped": [OUTSIDE]}
        idx = qa.load_index(index)
        assert idx.examples() == [GOOD]
        assert examples.USER_FILE not in idx.documents  # the list is not a document
    finally:
        listed.unlink()
    report = qa.build_index(corpus, index)
    assert report["examples"]["source"] == "corpus" and GOOD not in report["examples"]["questions"]


def test_a_corpus_that_defines_nothing_has_no_examples(fake_corpus, build_fake):
    corpus = fake_corpus()
    report = build_fake(corpus, corpus.parent / "index")
    assert report["examples"] == {"source": "corpus", "questions": [], "dropped": []}
    assert qa.load_index(corpus.parent / "index").examples() == []


def test_an_index_without_examples_offers_none(tmp_path):
    assert examples.load(tmp_path) == []
    (tmp_path / examples.FILE).write_text("{not json", encoding="utf-8")
    assert examples.load(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("to train large language models (LLMs)", "large language models (LLMs)"),
        (
            "have initiated the Transforming Relationship Utilizing Strategic Technology (TRUST)",
            "Transforming Relationship Utilizing Strategic Technology (TRUST)",
        ),
        (
            "at the National Institute of Information and Communications Technology (NICT)",
            "National Institute of Information and Communications Technology (NICT)",
        ),
        ("as the annual report says (PDF)", None),
    ],
)
def test_an_acronym_counts_as_defined_only_when_the_words_before_spell_it(text, spelled):
    at = text.rindex("(")
    start = examples._spelled(text[at + 1 : -1], text, at)
    assert (None if start is None else text[start:]) == spelled
