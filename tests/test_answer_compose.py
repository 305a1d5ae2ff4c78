"""What ``compose.select`` quotes besides the best unit: the runner-up when the model can't tell the two
apart (its probability at least RUNNER_UP of the best's; for a date, amount or expansion, holding one), in
page order beside the best, never a heading, never beside a list that already fills the answer."""

from __future__ import annotations

import pytest

import qa
from qa.answer.candidates import Cand, units
from qa.answer.compose import MAX_SENTENCES, RUNNER_UP, compose, select
from qa.answer.question import parse_question
from qa.records import Hit

HARBOUR = (
    "Harbour Works\n\n"
    "The council met in spring. The northern channel will be dredged first. "
    "The old lighthouse will be rebuilt afterwards. Fishermen welcomed the news.\n"
)
BUDGET = (
    "Budgets\n\n"
    "Table 1: Spending on Parks (in crore)\n\n"
    "Programme\t2023\t2024\n"
    "Trail Repairs\t12\t15\n"
    "Harbour Lights\t40\t44\n\n"
    "Source: Parks Office, 2024.\n"
)
FERRY = (
    "Ferry Service\n\n"
    "The ferry service started in March 2019. Tickets are sold at the pier. "
    "The new terminal opened in May 2022.\n"
)
FOREST = "Forest Trails\n\nThe eastern trail reopens in June. Hikers need a permit from the ranger station.\n"


@pytest.fixture
def index(tmp_path, build_fake):
    root = tmp_path
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "forest.txt").write_text(FOREST, encoding="utf-8")
    (corpus / "budget.txt").write_text(BUDGET, encoding="utf-8")
    (corpus / "ferry.txt").write_text(FERRY, encoding="utf-8")
    build_fake(corpus, root / "index")
    return qa.load_index(root / "index")


def cand(index, doc: str, words: str, score: float) -> Cand:
    """The candidate unit of ``doc`` holding ``words``, with the model's probability ``score``."""
    for chunk in index.chunks:
        if chunk.doc.startswith(doc):
            for pos, unit in enumerate(units(index, chunk)):
                if words in unit.text:
                    return Cand(Hit(chunk=chunk, score=score, rank=1), pos, unit, score)
    raise AssertionError(f"no unit of {doc} holds {words!r}")


Q = parse_question("What will happen to the harbour?")


def texts(chosen) -> list[str]:
    return [c.text for c in chosen]


def test_a_close_runner_up_is_quoted_after_the_best(index):
    best = cand(index, "harbour", "dredged", 0.5)
    other = cand(index, "forest", "permit", 0.5 * RUNNER_UP + 0.01)
    assert texts(select(index, Q, best, [best, other])) == [best.text, other.text]


def test_a_distant_runner_up_is_not_quoted(index):
    best = cand(index, "harbour", "dredged", 0.5)
    other = cand(index, "forest", "permit", 0.5 * RUNNER_UP - 0.01)
    assert texts(select(index, Q, best, [best, other])) == [best.text]


def test_a_runner_up_beside_the_best_is_quoted_in_page_order(index):
    best = cand(index, "harbour", "lighthouse", 0.4)
    before = cand(index, "harbour", "dredged", 0.35)
    assert texts(select(index, Q, best, [best, before])) == [before.text, best.text]


def test_a_heading_is_never_the_runner_up(index):
    best = cand(index, "forest", "eastern trail", 0.5)
    heading = cand(index, "forest", "Forest Trails", 0.49)
    assert heading.unit.heading
    assert texts(select(index, Q, best, [best, heading])) == [best.text]


def test_the_runner_up_already_quoted_is_not_repeated(index):
    best = cand(index, "harbour", "dredged", 0.5)
    again = cand(index, "harbour", "dredged", 0.45)
    assert texts(select(index, Q, best, [best, again])) == [best.text]


def test_a_full_list_takes_no_runner_up(index):
    q = parse_question("Which three things will happen?")
    best = cand(index, "harbour", "council", 0.5)
    best.unit = best.unit.__class__(**{**best.unit.__dict__, "leadin": True})  # "…:" announces a list
    other = cand(index, "forest", "permit", 0.45)
    chosen = select(index, q, best, [best, other])
    assert len(chosen) >= MAX_SENTENCES  # the lead-in and the three things it announces
    assert texts(chosen)[0] == best.text
    assert other.text not in texts(chosen)


@pytest.mark.parametrize(
    "question, best_at, other_at",
    [
        # The runner-up lacks the name the question gives and the best holds: the names tell them apart.
        ("When does the Eastern Trail reopen?", ("forest", "eastern trail"), ("harbour", "lighthouse")),
        # Another row of the table whose row was chosen answers for another row.
        ("How much was spent in 2024?", ("budget", "Trail Repairs"), ("budget", "Harbour Lights")),
    ],
)
def test_a_close_runner_up_the_question_tells_apart_is_not_quoted(index, question, best_at, other_at):
    best = cand(index, *best_at, 0.5)
    other = cand(index, *other_at, 0.45)
    assert texts(select(index, parse_question(question), best, [best, other])) == [best.text]


def test_the_table_rows_are_rows(index):
    assert {cand(index, "budget", w, 0.5).hit.chunk.kind for w in ("Trail Repairs", "Harbour Lights")} == {
        "table_row"
    }


@pytest.mark.parametrize(
    "other_words, quoted",
    [("Tickets", False), ("May 2022", True)],  # a date question: the runner-up must hold a date too
)
def test_a_date_questions_runner_up_is_quoted_only_with_a_date(index, other_words, quoted):
    q = parse_question("When did the ferry service start?")
    best = cand(index, "ferry", "March 2019", 0.5)
    other = cand(index, "ferry", other_words, 0.45)
    assert texts(select(index, q, best, [best, other])) == [best.text] + [other.text] * quoted


PLAN = (
    "Town Plan\n\n"
    "The plan has two parts. First, the coast road is widened along the bay. The work takes a year and a "
    "half, with lanes closed at night. Second, a new bridge is built over the river mouth. Three schools "
    "took part. Fifth and sixth graders visited the site.\n"
)


@pytest.fixture
def plan(tmp_path, build_fake):
    """A paragraph whose prose list runs over a chunk boundary (chunks of a few word pieces)."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "plan.txt").write_text(PLAN, encoding="utf-8")
    build_fake(tmp_path / "corpus", tmp_path / "index", max_tokens=30)
    return qa.load_index(tmp_path / "index")


def test_a_prose_list_after_its_announcement_is_quoted_item_by_item(plan):
    assert len([c for c in plan.chunks if c.kind == "text"]) > 1  # the list crosses a chunk boundary
    best = cand(plan, "plan", "two parts", 0.6)
    assert texts(select(plan, Q, best, [best])) == [
        best.text,
        "First, the coast road is widened along the bay.",
        "Second, a new bridge is built over the river mouth.",
    ]


def test_ordinal_words_are_list_items_only_right_after_an_announcement(plan):
    best = cand(plan, "plan", "takes a year", 0.6)  # announces nothing; "Second, …" follows
    assert texts(select(plan, Q, best, [best])) == [best.text]
    best = cand(plan, "plan", "Three schools", 0.6)  # announces, but "Fifth and …" (no comma) is no item
    assert texts(select(plan, Q, best, [best])) == [best.text]


NUMBERED = (
    "Harbour Plan\n\n"
    "The council will fund the works in the following three areas\n"
    "1. Dredging of the northern channel\n"
    "2. Repair of the old piers\n"
    "3. A new ferry terminal\n\n"
    "Ferries will keep running during the works.\n"
)


@pytest.fixture
def numbered(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus({"numbered.txt": NUMBERED}), tmp_path / "index")
    return qa.load_index(tmp_path / "index")


ITEMS = ["Dredging of the northern channel", "Repair of the old piers", "A new ferry terminal"]


def test_an_item_after_its_number_split_off_is_a_list_item(numbered):
    found = {u.text.strip(): u for c in numbered.chunks for u in units(numbered, c)}
    assert found["2."].heading  # the number alone is no quote ...
    assert all(found[item].bullet for item in ITEMS)  # ... and what follows it is an item
    assert not found["Ferries will keep running during the works."].bullet


def test_a_numbered_list_is_quoted_item_by_item_under_one_citation(numbered):
    q = parse_question("Which three areas will the council fund?")
    best = cand(numbered, "numbered", "following three areas", 0.6)
    chosen = select(numbered, q, best, [best])
    assert [c.text.strip() for c in chosen[1:]] == ITEMS  # the numbers take no item's place
    answer = compose(numbered, [(q, chosen)], q.text, 0.6, [best.hit], "")
    (cited,) = answer.citations  # items and their numbers quoted as one passage
    assert "\n".join(f"{n}. {item}" for n, item in enumerate(ITEMS, 1)) in cited.quote
    assert numbered.pages[(cited.doc, cited.page)].text[cited.start : cited.end] == cited.quote
