"""Question analysis and the evidence tests the features are made of, on small made-up texts."""

from __future__ import annotations

import pytest

from qa.answer import parse_question, split_parts
from qa.answer.candidates import _analyse
from qa.answer.features import FEATURES, expansion, typed_spans
from qa.records import Chunk


def unit(text: str, kind: str = "text"):
    chunk = Chunk(id="c", doc="d.txt", page=1, start=0, end=len(text), text=text, sentences=((0, len(text)),))
    return _analyse(chunk, text, 0, len(text))


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("What does WXYZ stand for?", "acronym"),
        ("What is the full name of QRST?", "acronym"),
        ("What is ABCD short for, the facility they run?", "acronym"),
        ("Is it true that the plan was approved?", "yesno"),
        ("Does the city have a harbour?", "yesno"),
        ("Why did the council close the bridge?", "reason"),
        ("Where is the new plant being built?", "place"),
        ("Which two areas does the plan propose?", "list"),
        ("What is a lighthouse?", "definition"),
        ("How many ships docked?", "quantity"),
        ("In what year was the harbour created?", "date"),
        ("Who rebuilt the lighthouse?", "entity"),
    ],
)
def test_question_kinds(q, kind):
    assert parse_question(q).kind == kind


def test_acronym_and_count_are_read_from_the_question():
    assert parse_question("What does WXYZ stand for?").acronym == "WXYZ"
    assert parse_question("What does the acronym iCET stand for?").acronym == "iCET"
    q = parse_question("Which three ports were expanded in 2020?")
    assert q.count == 3 and q.numbers == ("2020",)  # the count is not a number the evidence must hold
    assert parse_question("Which ports were expanded?").count == 0


def test_negated_questions_are_marked():
    assert parse_question("Which port was not expanded?").negated
    assert not parse_question("Which port was expanded?").negated


@pytest.mark.parametrize(
    ("q", "parts"),
    [
        (
            "Where will the plant be built and how much will it cost?",
            ["Where will the plant be built?", "how much will it cost?"],
        ),
        ("When was the port opened, and who opened it?", ["When was the port opened?", "who opened it?"]),
        ("What are the costs and benefits of the plan?", ["What are the costs and benefits of the plan?"]),
        ("How did trade and tourism grow?", ["How did trade and tourism grow?"]),
        ("Tell me about trade and what it means", ["Tell me about trade and what it means"]),
    ],
)
def test_two_part_questions_split_only_between_two_questions(q, parts):
    assert split_parts(q) == parts


@pytest.mark.parametrize(
    ("acronym", "text", "expected"),
    [
        ("WXYZ", "The Western Xylophone and Yodel Zone (WXYZ) opened.", "Western Xylophone and Yodel Zone"),
        ("AIBC", "It expands the AI Bridging Cloud, a shared resource.", "AI Bridging Cloud"),
        ("QRS", "A quick, rapid and slow plan.", None),
        ("QRS", "QRS is a name with no expansion here.", None),
    ],
)
def test_acronym_expansion(acronym, text, expected):
    span = expansion(acronym, text)
    assert (text[span[0] : span[1]] if span else None) == expected


def test_date_and_amount_questions_look_for_new_dates_and_amounts():
    when = parse_question("When did the harbour open?")
    assert typed_spans(when, unit("The harbour opened in March 2019 after delays."))
    assert not typed_spans(when, unit("The harbour opened after long delays."))
    much = parse_question("How much did the harbour cost in 2019?")
    held = unit("In 2019 the harbour cost $12 million to build.")
    spans = [held.text[a:b] for a, b in typed_spans(much, held)]
    assert "$12 million" in spans and "2019" not in spans  # the year the question names is not the answer


def test_a_year_is_not_an_answer_to_how_many():
    many = parse_question("How many hospitals use the scanners?")
    assert not typed_spans(many, unit("The scanner partnership was announced in May 2021."))
    held = unit("Since 2021 the scanners serve 340 hospitals.")
    assert [held.text[a:b] for a, b in typed_spans(many, held)] == ["340"]


def test_who_questions_look_for_names_the_question_does_not_give():
    who = parse_question("Who rebuilt the Old Lighthouse?")
    names = [
        u.text[a:b]
        for u in [unit("The Old Lighthouse was rebuilt by Maria Jones.")]
        for a, b in typed_spans(who, u)
    ]
    assert "Maria" in names and "Jones" in names and "Lighthouse" not in names


def test_feature_names_are_unique():
    assert len(set(FEATURES)) == len(FEATURES)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("What was the revenue in FY2022?", ("2022",)),
        ("Did it grow between FY20 and FY21?", ("2020", "2021")),
        ("Is it capital intensive based on FY 2022 data?", ("2022",)),
        ("What changed in FY'23?", ("2023",)),
        ("What does FYI stand for?", ()),
    ],
)
def test_a_fiscal_year_is_a_year_the_question_pins(text, numbers):
    assert parse_question(text).numbers == numbers
