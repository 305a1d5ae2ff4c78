"""A sentence that a page break cuts in two (the page ends without a stop, perhaps above its page number,
and the next page goes on in lower case): each half reads the whole sentence's terms, and a quote of one
half brings the other, each cited on its own page, in page order."""

from __future__ import annotations

import pytest

import qa
from qa.answer.candidates import Cand, other_half, units
from qa.answer.compose import select
from qa.answer.question import parse_question
from qa.answer.text import terms
from qa.records import Hit

CUT = (
    "Harbour Works\n\n"
    "The council met in spring to plan the works. Following a survey of the old piers, the council\n"
    "7\f"
    "approved the dredging of the northern channel in March 2021. Fishermen welcomed the news.\n"
)
# One sentence runs over three pages: the middle page's only unit continues one and goes on into the next.
RUN_ON = (
    "Harbour Works\n\nThe council met in spring. Following a survey of the old piers, the council\f"
    "approved the dredging of the northern channel and the repair of the quays of the inner harbour, while\f"
    "fishermen asked for the work to stop in the spawning season. The work starts in June.\n"
)
APART = CUT.replace("council\n7", "council\n\n12")  # the page number split off as a sentence of its own
WHOLE = (
    "Harbour Works\n\n"
    "The council met in spring to plan the works. The survey of the old piers took three weeks.\n\f"
    "Approved plans were posted at the town hall in March 2021. Fishermen welcomed the news.\n"
)
CAPITAL = (
    "Harbour Works\n\n"
    "The council met in spring to plan the works. A survey was made of the piers along the\f"
    "North Channel, the old ferry slip and the customs quay.\n"
)


@pytest.fixture
def index(tmp_path, fake_corpus, build_fake):
    docs = {"cut.txt": CUT, "apart.txt": APART, "whole.txt": WHOLE, "capital.txt": CAPITAL, "run.txt": RUN_ON}
    build_fake(fake_corpus(docs), tmp_path / "index")
    return qa.load_index(tmp_path / "index")


def unit_with(index, doc: str, words: str) -> tuple[Cand, object]:
    for chunk in index.chunks:
        if chunk.doc.startswith(doc):
            for pos, unit in enumerate(units(index, chunk)):
                if words in unit.text:
                    return Cand(Hit(chunk=chunk, score=0.6, rank=1), pos, unit, 0.6), unit
    raise AssertionError(f"no unit of {doc} holds {words!r}")


@pytest.mark.parametrize("doc", ["cut", "apart"])
def test_the_halves_are_marked_and_the_page_number_is_left_out(index, doc):
    first, unit = unit_with(index, doc, "Following a survey")
    assert unit.joins == "next"
    assert unit.text.endswith("the council")  # not "the council\n7"
    second, rest = unit_with(index, doc, "approved the dredging")
    assert rest.joins == "prev"
    assert (first.hit.chunk.page, second.hit.chunk.page) == (1, 2)
    # each half reads the terms of the whole sentence: the dredging on the first page, the survey on the next
    assert set(terms("dredging channel")) <= unit.own
    assert set(terms("survey piers")) <= rest.own


def test_other_half_finds_each_half_from_the_other(index):
    first, _ = unit_with(index, "cut", "Following a survey")
    second, _ = unit_with(index, "cut", "approved the dredging")
    found = other_half(index, first)
    assert (found.hit.chunk.id, found.pos) == (second.hit.chunk.id, second.pos)
    back = other_half(index, second)
    assert (back.hit.chunk.id, back.pos) == (first.hit.chunk.id, first.pos)


@pytest.mark.parametrize(
    "doc, words",
    [
        ("whole", "took three weeks"),  # the page's last sentence ends with a stop
        ("whole", "Approved plans"),  # the next page starts a new sentence
        ("capital", "A survey was made"),  # ... or goes on with a capital: not taken as the same sentence
    ],
)
def test_no_join_without_a_cut_sentence(index, doc, words):
    cand, unit = unit_with(index, doc, words)
    assert unit.joins == ""
    assert other_half(index, cand) is None


@pytest.mark.parametrize("words", ["Following a survey", "approved the dredging"])
def test_a_quote_of_either_half_brings_the_other_in_page_order(index, words):
    best, _ = unit_with(index, "cut", words)
    chosen = select(index, parse_question("When was the dredging approved?"), best, [best])
    assert [c.text for c in chosen] == [
        "Following a survey of the old piers, the council",
        "approved the dredging of the northern channel in March 2021.",
    ]
    assert [c.hit.chunk.page for c in chosen] == [1, 2]


def test_the_answer_cites_both_pages_with_exact_quotes(index):
    answer = index.ask("When did the council approve the dredging of the northern channel?")
    assert not answer.abstained
    pages = [(c.page, c.quote) for c in answer.citations]
    assert (1, "Following a survey of the old piers, the council") in pages
    assert (2, "approved the dredging of the northern channel in March 2021.") in pages
    for c in answer.citations:
        assert index.pages[(c.doc, c.page)].text[c.start : c.end] == c.quote


def test_a_sentence_over_three_pages_links_each_page_to_one_other(index):
    first, _ = unit_with(index, "run", "Following a survey")
    middle, unit = unit_with(index, "run", "approved the dredging")
    last, _ = unit_with(index, "run", "fishermen asked")
    assert unit.joins == "next"  # the middle page's one unit keeps its link forward ...
    assert set(terms("survey spawning")) <= unit.own  # ... and reads both neighbours' words
    assert other_half(index, first).text == middle.text
    assert other_half(index, middle).text == last.text
    assert other_half(index, last).text == middle.text
    chosen = select(index, parse_question("What did the council approve?"), middle, [middle])
    assert [c.hit.chunk.page for c in chosen] == [2, 3]
