"""Question files in each format (qa.evaluation.inputs): SQuAD 2.0 JSON, CSV and JSON lines; unknown fields
kept; one error naming the line for a malformed file."""

from __future__ import annotations

import json

import pytest

from qa.errors import UsageError
from qa.evaluate import load_questions


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def squad(qas, title="Mangoes"):
    return json.dumps(
        {"version": "v2.0", "data": [{"title": title, "paragraphs": [{"context": "c", "qas": qas}]}]}
    )


def test_squad_answerable_impossible_title_and_unknown_fields(tmp_path):
    qas = [
        {
            "id": "s1",
            "question": "Where?",
            "answers": [{"text": "Konkan", "answer_start": 1}] * 2
            + [{"text": "the Konkan", "answer_start": 0}],
            "is_impossible": False,
            "source": "crowd",
        },
        {
            "id": "s2",
            "question": "Who?",
            "answers": [],
            "is_impossible": True,
            "plausible_answers": [{"text": "x", "answer_start": 0}],
        },
    ]
    rows = load_questions(write(tmp_path, "dev.json", squad(qas)))
    assert rows == [
        {
            "id": "s1",
            "question": "Where?",
            "answers": ["Konkan", "the Konkan"],
            "doc": "Mangoes",
            "source": "crowd",
        },
        {
            "id": "s2",
            "question": "Who?",
            "answers": [],
            "doc": "Mangoes",
            "plausible_answers": [{"text": "x", "answer_start": 0}],
        },
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"data": [\n  {"title": "x",\n  "paragraphs": [}]}', ":3: not valid JSON"),
        ('{"version": "v2.0"}', 'a SQuAD file is {"data"'),
        ('{"data": [{"title": "x"}]}', r"data\[0\] needs 'paragraphs'"),
        (
            squad([{"id": "a", "question": "ok?", "answers": []}, {"id": "b"}]),
            r"data\[0\].paragraphs\[0\].qas\[1\]",
        ),
        (squad([{"id": "a", "question": "q?", "answers": ["Konkan"]}]), "'answers' must be a list of"),
    ],
)
def test_malformed_squad(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load_questions(write(tmp_path, "bad.json", text))


def test_csv_empty_answer_pages_and_extra_columns(tmp_path):
    p = write(
        tmp_path,
        "set.csv",
        "question,answer,doc,pages,type\n"
        "Where do mangoes ripen?,Konkan,fruit/mangoes.md,3;4,place\n"
        '"Who won, in the end?",,,,\n',
    )
    assert load_questions(p) == [
        {
            "question": "Where do mangoes ripen?",
            "answers": ["Konkan"],
            "doc": "fruit/mangoes.md",
            "pages": [3, 4],
            "type": "place",
            "id": "q2",
        },
        {"question": "Who won, in the end?", "answers": [], "id": "q3"},
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("query,reply\nWhere?,x\n", ":1: the header needs 'question' and 'answer'"),
        ("question,answer\nWhere?,x\nWhat?,y,extra\n", ":3: 2 columns expected"),
        ("question,answer,pages\nWhere?,x,1\nWhat?,y,two\n", ":3: pages are numbers"),
        ("question,answer\n ,x\n", ":2: the question is empty"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load_questions(write(tmp_path, "bad.csv", text))


def test_jsonl_keeps_unknown_fields_and_checks_types(tmp_path):
    p = write(tmp_path, "q.jsonl", '{"id": 7, "question": "Q?", "answers": ["a"], "difficulty": "hard"}\n')
    assert load_questions(p) == [{"id": "7", "question": "Q?", "answers": ["a"], "difficulty": "hard"}]
    bad = write(
        tmp_path, "bad.jsonl", '{"question": "Q?", "answers": []}\n{"question": "R?", "pages": "3"}\n'
    )
    with pytest.raises(UsageError, match=r"bad.jsonl:2: 'pages' must be a list of page numbers"):
        load_questions(bad)


def test_repeated_ids_and_explicit_format(tmp_path):
    p = write(tmp_path, "q.txt", '{"id": "a", "question": "Q?"}\n{"id": "a", "question": "R?"}\n')
    with pytest.raises(UsageError, match="question ids must be unique; repeated: a"):
        load_questions(p)
    c = write(tmp_path, "q.data", "question,answer\nWhere?,here\n")
    assert load_questions(c, "csv")[0]["answers"] == ["here"]


def test_shipped_sets_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "eval"
    squad_rows = load_questions(root / "squad2-train" / "questions.jsonl")
    assert len(squad_rows) > 4000 and any(not r["answers"] for r in squad_rows)
    assert all(r["pages"] for r in load_questions(root / "financebench-dev" / "questions.jsonl"))
