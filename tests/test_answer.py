"""Extractive answers: question validation and parsing, follow-ups, highlights, table rows and abstention on
small synthetic corpora (fake embedder); then real questions over the shipped corpus (real model).

Every answer this file produces goes through ``checked()``: each quote equals the stored page text at its
span, each highlight lies inside its citation and equals the page text at its offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qa
from contract import ANSWER_KEYS
from qa.answer import (
    MAX_QUESTION_CHARS,
    NO_ANSWER,
    classify,
    contextualise,
    norm_num,
    parse_question,
    terms,
    validate,
)
from qa.answer.model import load as load_model
from qa.errors import UsageError
from qa.evaluate import contains_gold, norm

REPO = Path(__file__).resolve().parents[1]
DEV = Path(__file__).resolve().parents[1] / "eval" / "brief_dev.jsonl"
BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
NITI_URL = (
    "https://www.niti.gov.in/sites/default/files/2023-03/National-Strategy-for-Artificial-Intelligence.pdf"
)
EMPTY = "the question is empty: type a question in words"


# ---------------------------------------------------------------- the span guarantee, for every answer


def check_answer(index, ans) -> None:
    """The product's promise, checked on one answer (raises AssertionError with the question)."""
    q = ans.question
    assert 0.0 <= ans.confidence <= 1.0, q
    assert ans.answered == (ans.confidence >= load_model().threshold), (q, ans.confidence)
    for c in (*ans.citations, *ans.related):
        page = index.pages[(c.doc, c.page)].text
        assert c.quote and c.quote == page[c.start : c.end], (q, c.doc, c.page, c.start, c.end)
        for e in c.evidence:
            assert index.pages[(e["doc"], e["page"])].text[e["start"] : e["end"]] == e["text"], (q, e)
    for h in ans.hits:
        assert index.pages[(h.chunk.doc, h.chunk.page)].text[h.chunk.start : h.chunk.end] == h.chunk.text
    if ans.abstained:
        assert ans.answer == "" and ans.citations == () and ans.highlights == (), q
        assert ans.message == NO_ANSWER, q
        return
    assert ans.citations, q
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1)), q
    assert ans.answer == " ".join(c.quote for c in ans.citations), q
    for h in ans.highlights:
        c = ans.citations[h["citation"] - 1]
        assert c.start <= h["start"] < h["end"] <= c.end, (q, h, c.start, c.end)
        assert index.pages[(c.doc, c.page)].text[h["start"] : h["end"]] == h["text"], (q, h)


def checked(index, question, **kw):
    ans = index.ask(question, **kw)
    check_answer(index, ans)
    return ans


# ---------------------------------------------------------------- validation (pure)


@pytest.mark.parametrize("q", ["", "   ", "\n\t  \n", "?", "?!...", " ... ? ", ".*+?[(", "—–-", None])
def test_empty_or_punctuation_only_question_is_refused(q):
    with pytest.raises(UsageError) as e:
        validate(q)
    assert str(e.value) == EMPTY


def test_too_long_question_is_refused_with_its_length():
    with pytest.raises(UsageError) as e:
        validate("a" * (MAX_QUESTION_CHARS + 1))
    assert str(e.value) == "the question is too long (2001 characters, at most 2000)"
    assert MAX_QUESTION_CHARS == 2000


def test_question_at_the_limit_is_accepted_and_stripped():
    q = "a" * MAX_QUESTION_CHARS
    assert validate(f"  {q}\n") == q  # surrounding whitespace does not count
    assert validate("  What is AI?  ") == "What is AI?"


# ---------------------------------------------------------------- question parsing


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("How much was allocated to the mission?", "quantity"),
        ("How many GPUs will the facility host?", "quantity"),
        ("What percentage of startups use AI?", "quantity"),
        ("What is the budget of the IndiaAI Mission?", "quantity"),
        ("When was the MoU signed?", "date"),
        ("In which month was the MoU signed?", "date"),
        ("What year did the strategy appear?", "date"),
        ("Who will lead infrastructure development?", "entity"),
        ("Which company supplies the equipment?", "entity"),
        ("Which countries are Quad members?", "entity"),
        ("What does iCET focus on?", "other"),
        ("Why does India need Japan?", "reason"),
    ],
)
def test_question_kinds(q, kind):
    assert classify(q) == kind
    assert parse_question(q).kind == kind


def test_parse_question_terms_numbers_and_names():
    q = parse_question("How much did the IndiaAI Mission receive in 2023-2024?")
    assert q.kind == "quantity"
    assert q.numbers == ("2023-2024",)
    assert q.names == ("indiaai", "mission")
    assert q.terms == ("indiaai", "mission", "receiv", "2023-2024")  # stop words gone, stemmed
    assert not q.about_sources
    assert parse_question("Which source does the brief cite for the MoU?").about_sources


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10,500", "10500"),
        ("2023-24", "2023-2024"),
        ("2023–24", "2023–2024"),
        ("2023-24", "2023–2024"),
    ],
)
def test_number_normalisation(a, b):
    assert parse_question(f"the figure {a} crore").numbers == parse_question(f"the figure {b} crore").numbers
    assert terms(f"₹{a} crore") == terms(f"₹{b} crore")


def testnorm_num():
    assert norm_num("10,500") == "10500"
    assert norm_num("1,183.56") == "1183.56"
    assert norm_num("2023-24") == "2023-2024"
    assert norm_num("2024-2025") == "2024-2025"
    assert norm_num("2018.") == "2018"


# ---------------------------------------------------------------- follow-ups


ALLOC = "How much was allocated to the IndiaAI Mission in 2024–2025?"


@pytest.mark.parametrize(
    ("history", "q", "expected"),
    [
        ([ALLOC], "And in 2023-2024?", "How much was allocated to the IndiaAI Mission in 2023-2024?"),
        ([ALLOC], "and for 2022–2023?", "How much was allocated to the IndiaAI Mission in 2022–2023?"),
        (["What is Rapidus developing?"], "What about Fujitsu?", "What is Fujitsu developing?"),
        (["How much did India invest in AI?"], "What about Japan?", "How much did Japan invest in AI?"),
        (["What is AIRAWAT?"], "What about it?", "What is AIRAWAT?"),  # the same question again
    ],
)
def test_contextualise_rewrites_follow_ups(history, q, expected):
    assert contextualise(q, history) == expected


@pytest.mark.parametrize(
    "history",
    [
        [ALLOC],
        ["an older question", ALLOC],  # the latest turn is the one referred to
        [{"role": "user", "content": ALLOC}, {"role": "assistant", "content": "2000"}],
        [{"question": ALLOC, "answer": "2000"}],
        [(ALLOC, "2000")],
    ],
)
def test_contextualise_accepts_history_shapes(history):
    assert contextualise("And in 2023-2024?", history) == ALLOC.replace("2024–2025", "2023-2024")


@pytest.mark.parametrize(
    ("history", "q"),
    [
        ([ALLOC], "Which Japanese company operates a data centre tailored to AI workloads in India?"),
        ([ALLOC], "When did Qure.ai and Fujifilm announce their partnership?"),
        ([], "And in 2023-2024?"),
        (None, "What about Japan?"),
        (["", "   "], "What about Japan?"),  # blank turns are not questions
    ],
)
def test_contextualise_leaves_full_questions_and_first_turns_alone(history, q):
    assert contextualise(q, history) == q


def test_japan_follow_up_swaps_the_entity():
    out = contextualise("What about Japan?", ["Which sectors does India prioritise for AI?"])
    assert out == "Which sectors does Japan prioritise for AI?"


def test_follow_up_replaces_a_whole_multi_word_name():
    prev = "How much was allocated to Centres of Excellence in 2023-2024?"
    assert contextualise("What about NM-ICPS?", [prev]) == "How much was allocated to NM-ICPS in 2023-2024?"


def test_chained_follow_ups_keep_the_subject():
    history = [ALLOC, "And in 2023-2024?"]
    assert contextualise("And in 2022-2023?", history) == (
        "How much was allocated to the IndiaAI Mission in 2022-2023?"
    )


# ---------------------------------------------------------------- small synthetic corpora (fake embedder)

TABLE_DOC = (
    "Spending on Artificial Intelligence\n\n"
    "The ministry allocated ₹ 500 crore to the robotics programme. "
    "The robotics programme began in March 2021 in Pune. "
    "Dr Meera Rao leads the robotics programme.\n\n"
    "Table 1: Public Resource Allocation to AI Development in India (in ₹ crore)\n\n"
    "Initiative/Mission\t2022–2023\t2023–2024\t2024–2025\tConcerned Ministry\n"
    "IndiaAI Mission\t0\t173\t2000\tMeitY\n"
    "Centres of Excellence\t16\t110\t200\tEducation\n\n"
    "Source: Francis et al., 2025.\n"
)
PLAN_DOC = (
    "Harbour Plan\n\n"
    "The harbour plan proposes two broad areas:\n\n"
    "- First, dredging the northern channel.\n"
    "- Second, rebuilding the old lighthouse.\n\n"
    "The project involves an investment of ₹10,500 crore in Kochi. Fishermen welcomed the news.\n"
)
ZONE_DOC = (
    "Music Zones\n\n"
    "The Western Xylophone and Yodel Zone (WXYZ) opened beside the old quay. "
    "It hosts concerts every weekend.\n"
)
OCEAN_DOC = "Whales migrate across cold oceans each winter. Coral reefs shelter thousands of fish species.\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three small documents indexed with the bundled model: the answer model reads its similarities."""
    root = tmp_path_factory.mktemp("small")
    corpus = root / "corpus"
    corpus.mkdir()
    docs = {"budget.txt": TABLE_DOC, "plan.txt": PLAN_DOC, "ocean.txt": OCEAN_DOC, "zone.txt": ZONE_DOC}
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    qa.build_index(corpus, root / "index")
    return qa.load_index(root / "index")


def test_how_much_highlights_the_amount(small):
    ans = checked(small, "How much was allocated to the robotics programme?")
    assert ans.answer == "The ministry allocated ₹ 500 crore to the robotics programme."
    assert [h["text"] for h in ans.highlights] == ["₹ 500 crore"]
    assert ans.citations[0].doc == "budget.txt" and ans.citations[0].page == 1
    assert ans.display == ans.answer and ans.message == ""


def test_when_highlights_the_date(small):
    ans = checked(small, "When did the robotics programme begin?")
    assert ans.answer == "The robotics programme began in March 2021 in Pune."
    assert [h["text"] for h in ans.highlights] == ["March 2021"]


def test_other_questions_highlight_the_matching_words(small):
    ans = checked(small, "Where do whales migrate?")
    assert ans.answer == "Whales migrate across cold oceans each winter."
    assert len(ans.highlights) == 1 and "Whales migrate" in ans.highlights[0]["text"]


def test_table_row_answers_with_its_header(small):
    ans = checked(small, "How much was allocated to the IndiaAI Mission in 2024–2025?")
    assert ans.display == "IndiaAI Mission — 2024–2025: 2000 (₹ crore)"
    (cit,) = ans.citations
    assert cit.quote == ans.answer == "IndiaAI Mission\t0\t173\t2000\tMeitY"  # the row's exact span
    assert cit.section[-1] == "Table 1: Public Resource Allocation to AI Development in India (in ₹ crore)"
    assert [h["text"] for h in ans.highlights] == ["2000"]


def test_table_row_for_another_year_and_row(small):
    ans = checked(small, "What did the Centres of Excellence get in 2023-2024?")
    assert ans.display == "Centres of Excellence — 2023–2024: 110 (₹ crore)"
    assert ans.answer == "Centres of Excellence\t16\t110\t200\tEducation"


def test_table_row_without_a_named_column_shows_every_cell(small):
    ans = checked(small, "2000")  # numbers only
    assert not ans.abstained
    assert ans.display == (
        "IndiaAI Mission — 2022–2023: 0; 2023–2024: 173; 2024–2025: 2000; Concerned Ministry: MeitY (₹ crore)"
    )


def test_table_row_highlight_is_the_asked_cell(small):
    ans = checked(small, "How much was allocated to the IndiaAI Mission in 2023-2024?")
    assert ans.display == "IndiaAI Mission — 2023–2024: 173 (₹ crore)"
    assert [h["text"] for h in ans.highlights] == ["173"]


def test_lead_in_sentence_brings_its_list(small):
    ans = checked(small, "Which areas does the harbour plan propose?")
    assert ans.answer == (
        "The harbour plan proposes two broad areas:\n\n"
        "- First, dredging the northern channel.\n"
        "- Second, rebuilding the old lighthouse."
    )
    assert len(ans.citations) == 1  # adjacent sentences of one page merge into one citation


def test_a_count_asked_for_brings_that_many_list_items(small):
    ans = checked(small, "Which two broad areas does the harbour plan propose?")
    assert "dredging the northern channel" in ans.answer and "rebuilding the old lighthouse" in ans.answer


def test_acronym_question_highlights_the_expansion(small):
    ans = checked(small, "What does WXYZ stand for?")
    assert not ans.abstained and ans.citations[0].doc == "zone.txt"
    assert [h["text"] for h in ans.highlights] == ["Western Xylophone and Yodel Zone"]


def test_two_part_question_is_answered_part_by_part(small):
    ans = checked(small, "When did the robotics programme begin and how much was allocated to it?")
    assert not ans.abstained
    assert "March 2021" in ans.answer and "₹ 500 crore" in ans.answer
    assert {h["text"] for h in ans.highlights} >= {"March 2021", "₹ 500 crore"}


def test_yes_no_question_quotes_the_deciding_sentence(small):
    ans = checked(small, "Is it true that the robotics programme began in Pune?")
    assert not ans.abstained and "began in March 2021 in Pune" in ans.answer


def test_when_question_without_any_date_in_the_documents_abstains(small):
    ans = checked(small, "When did the coral reefs start to shelter fish?")
    assert ans.abstained and ans.related


def test_number_written_with_a_separator_matches_one_without(small):
    ans = checked(small, "Where is the 10500 crore investment?")
    assert ans.answer == "The project involves an investment of ₹10,500 crore in Kochi."
    how_much = checked(small, "How much is invested in Kochi?")
    assert [h["text"] for h in how_much.highlights] == ["₹10,500 crore"]


def test_clause_highlight_does_not_cut_a_number(small):
    ans = checked(small, "What does the project involve?")
    assert "₹10,500 crore" in ans.highlights[0]["text"]


def test_where_highlights_the_place(small):
    ans = checked(small, "Where is the 10500 crore investment?")
    assert [h["text"] for h in ans.highlights] == ["Kochi"]


def test_number_the_document_never_gives_abstains(small):
    ans = checked(small, "Where is the 12,000 crore investment?")
    assert ans.abstained and ans.message == NO_ANSWER
    assert ans.related  # the closest passages, as reading
    assert any("10,500" in c.quote for c in ans.related)


def test_unrelated_question_abstains_with_related_reading(small):
    ans = checked(small, "How many submarines does the navy operate?")
    assert ans.abstained and ans.answer == "" and ans.citations == ()
    assert ans.confidence < load_model().threshold
    assert 1 <= len(ans.related) <= 3
    assert len({(c.doc, c.start) for c in ans.related}) == len(ans.related)
    d = ans.to_dict()
    assert d["abstained"] is True and d["answer"] == "" and d["message"] == NO_ANSWER and d["related"]


@pytest.mark.parametrize(
    ("q", "outcome"),
    [
        ("天气怎么样", "abstain"),  # CJK
        ("Où migrent les baleines ?", "abstain"),  # another language, no shared word
        ("12345", "abstain"),  # numbers only, none in the corpus
        ("2000", "answer"),  # numbers only, in the table
        ("🐋 Where do whales migrate? 🌊", "answer"),  # emoji around words
        ("SELECT * FROM chunks WHERE 1=1; DROP TABLE chunks; --", "abstain"),
        ("^(a|b)*$ \\d+ [[:alpha:]] (?P<x>.*)", "abstain"),  # regex syntax
        ("<script>alert('robotics programme')</script>", "either"),
        ("<b>robotics</b> programme?", "either"),
        ("$(rm -rf /) && echo whales", "either"),
        ("%s %d {0} {question} \x00 \\N", "either"),
        (
            # a pasted paragraph, long but under the limit
            "The ministry allocated money to a programme that began in a city in western India, and a doctor "
            "leads it; whales migrate across cold oceans each winter while coral reefs shelter thousands of "
            "fish species. " * 8 + "Who is in charge of the robotics work?",
            "either",
        ),
    ],
)
def test_any_other_text_answers_or_abstains(small, q, outcome):
    ans = checked(small, q)
    assert ans.question == q.strip()
    if outcome != "either":
        assert ans.abstained == (outcome == "abstain"), (ans.confidence, ans.answer)


def test_emoji_only_question_is_not_called_empty(small):
    ans = checked(small, "🐋🌊?")
    assert ans.abstained or ans.citations


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", EMPTY),
        ("  \n ", EMPTY),
        ("?!", EMPTY),
        ("x" * 2001, "the question is too long (2001 characters, at most 2000)"),
    ],
)
def test_ask_refuses_bad_questions(small, q, message):
    with pytest.raises(UsageError) as e:
        small.ask(q)
    assert str(e.value) == message


def test_follow_up_through_ask_says_how_it_was_understood(small):
    first = checked(small, ALLOC)
    assert first.display == "IndiaAI Mission — 2024–2025: 2000 (₹ crore)"
    ans = checked(small, "And in 2023-2024?", history=[ALLOC])
    assert ans.question == "And in 2023-2024?"
    assert ans.message == "Understood as: How much was allocated to the IndiaAI Mission in 2023-2024?"
    assert ans.display == "IndiaAI Mission — 2023–2024: 173 (₹ crore)"


def test_document_filter_restricts_the_answer(small):
    ans = checked(small, "Where do whales migrate?", docs=["budget.txt"])
    assert all(h.chunk.doc == "budget.txt" for h in ans.hits)
    assert all(c.doc == "budget.txt" for c in (*ans.citations, *ans.related))
    with pytest.raises(UsageError, match="unknown document 'nope'"):
        small.ask("Where do whales migrate?", docs=["nope"])


def test_k_limits_the_hits_returned(small):
    assert len(checked(small, "Where do whales migrate?", k=2).hits) == 2
    assert len(checked(small, "Where do whales migrate?", k=100).hits) == len(small.chunks)


def test_to_dict_is_the_json_contract(small):
    d = checked(small, "When did the robotics programme begin?").to_dict()
    assert list(d) == ANSWER_KEYS
    json.dumps(d)  # serialisable as is
    (c,) = d["citations"]
    assert c["quote"] == d["answer"] and c["path"] == c["doc"] == "budget.txt"
    assert {"n", "title", "page", "label", "section", "start", "end", "url", "references", "evidence"} <= set(
        c
    )
    assert d["highlights"] == [
        {"citation": 1, "start": c["start"] + 32, "end": c["start"] + 42, "text": "March 2021"}
    ]


# ---------------------------------------------------------------- the shipped corpus (real model)


def dev_rows() -> list[dict]:
    assert DEV.is_file(), f"dev question set missing at {DEV} (the repo ships eval/)"
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def brief_text() -> str:
    return (REPO / "corpus" / BRIEF).read_text(encoding="utf-8")


def table1() -> dict[str, dict[str, str]]:
    """Table 1 of the brief, read from the source text: {row label: {column: cell}}."""
    lines = brief_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Initiative/Mission\t"))
    header = lines[head].split("\t")
    rows = {}
    for line in lines[head + 1 :]:
        if "\t" not in line:
            break
        cells = line.split("\t")
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


DEV_TEN = ["d01", "d02", "d03", "d04", "d14", "d18", "d20", "d22", "d27", "d30"]
UNANSWERABLE = ["u106", "u108"]  # u102 is answered: see tests/test_dev_set.py (issue 12)


@pytest.mark.slow
@pytest.mark.parametrize("qid", DEV_TEN)
def test_dev_question_is_answered_from_the_brief(real_index, qid):
    row = next(r for r in dev_rows() if r["id"] == qid)
    page = real_index.pages[(BRIEF, 1)].text
    assert any(norm(g) in norm(page) for g in row["answers"])  # the gold really is in the brief
    ans = checked(real_index, row["question"])
    assert not ans.abstained, (ans.confidence, ans.related)
    assert contains_gold(ans.answer, row["answers"]), ans.answer
    assert all((c.doc, c.page) == (BRIEF, 1) for c in ans.citations)
    gold_cit = [c for c in ans.citations if contains_gold(c.quote, row["answers"])]
    assert gold_cit and gold_cit[0].title == "Indo-Japanese Collaboration on Artificial Intelligence"


@pytest.mark.slow
@pytest.mark.parametrize("qid", UNANSWERABLE)
def test_unanswerable_dev_question_abstains(real_index, qid):
    row = next(r for r in dev_rows() if r["id"] == qid)
    assert row["answers"] == []
    ans = checked(real_index, row["question"])
    assert ans.abstained and ans.message == "The documents don't answer this question."
    assert ans.answer == "" and ans.related


@pytest.mark.slow
def test_every_dev_answer_keeps_the_span_promise(real_index):
    rows = dev_rows()
    assert len(rows) == 40
    for row in rows:
        check_answer(real_index, real_index.ask(row["question"]))


def _display_for(label: str, year: str) -> str:
    return f"{label} — {year}: {table1()[label][year]} (₹ crore)"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "first_year", "next_q", "next_year"),
    [
        ("IndiaAI Mission", "2024–2025", "And in 2023-2024?", "2023–2024"),
        (
            "National Mission on Interdisciplinary Cyber Physical Systems (NM-ICPS)",
            "2022–2023",
            "And in 2024-2025?",
            "2024–2025",
        ),
    ],
)
def test_year_follow_up_changes_the_table_answer(real_index, label, first_year, next_q, next_year):
    subject = "the IndiaAI Mission" if label.startswith("IndiaAI") else "NM-ICPS"
    first_q = f"How much was allocated to {subject} in {first_year}?"
    first = checked(real_index, first_q)
    assert first.display == _display_for(label, first_year)
    ans = checked(real_index, next_q, history=[first_q])
    assert (
        ans.message == f"Understood as: How much was allocated to {subject} in {next_year.replace('–', '-')}?"
    )
    assert ans.display == _display_for(label, next_year)
    assert ans.display != first.display
    assert ans.citations[0].quote.startswith(label + "\t")


def test_table1_values_read_from_the_source():
    t = table1()
    assert t["IndiaAI Mission"]["2024–2025"] == "2000" and t["IndiaAI Mission"]["2023–2024"] == "173"
    assert t["National Mission on Interdisciplinary Cyber Physical Systems (NM-ICPS)"]["2024–2025"] == "900"


@pytest.mark.slow
def test_company_follow_up_changes_the_answer(real_index):
    first = checked(real_index, "What is Rapidus developing?")
    assert "Rapidus: Developing 2nm AI chips." in first.answer
    ans = checked(real_index, "What about Fujitsu?", history=["What is Rapidus developing?"])
    assert ans.message == "Understood as: What is Fujitsu developing?"
    assert "Fujitsu: Developing supercomputing in Japan and already operates a GCC in India." in ans.answer
    assert "Rapidus" not in ans.answer
    assert "Fujitsu: Developing supercomputing in Japan" in brief_text()


@pytest.mark.slow
def test_follow_up_with_chat_history_shape(real_index):
    history = [{"role": "user", "content": ALLOC}, {"role": "assistant", "content": "2000"}]
    ans = checked(real_index, "And in 2023-2024?", history=history)
    assert ans.display == _display_for("IndiaAI Mission", "2023–2024")


@pytest.mark.slow
def test_third_turn_follow_up(real_index):
    ans = checked(real_index, "And in 2022-2023?", history=[ALLOC, "And in 2023-2024?"])
    assert ans.display == _display_for("IndiaAI Mission", "2022–2023")


@pytest.mark.slow
def test_entity_follow_up_with_a_multi_word_name(real_index):
    prev = "How much was allocated to Centres of Excellence in 2023-2024?"
    label = "National Mission on Interdisciplinary Cyber Physical Systems (NM-ICPS)"
    ans = checked(real_index, "What about NM-ICPS?", history=[prev])
    assert ans.display == _display_for(label, "2023–2024")


@pytest.mark.slow
def test_follow_up_highlights_the_new_cell(real_index):
    ans = checked(real_index, "And in 2023-2024?", history=[ALLOC])
    assert [h["text"] for h in ans.highlights] == [table1()["IndiaAI Mission"]["2023–2024"]]


@pytest.mark.slow
def test_question_about_a_cited_source_quotes_the_references(real_index):
    src = brief_text()
    assert "Source: *The Times of India* (2025); *ETGovernment* (2025)." in src  # Case Study 1's sources
    ans = checked(
        real_index, "Which source does the brief cite for the Tata Electronics and Tokyo Electron MoU?"
    )
    assert not ans.abstained
    assert [c.section for c in ans.citations] == [("References",)] * 2
    assert ans.citations[0].quote.startswith("The Times of India. (2025, June 17). Tata Electronics builds")
    assert ans.citations[1].quote.startswith("ETGovernment.com. (2025, April 19). NTT DATA to invest")
    assert ans.message.startswith("The document cites these for: ")
    assert "Tata Electronics and Tokyo Electron Limited (TEL) signed an MoU" in ans.message


@pytest.mark.slow
def test_when_was_the_niti_paper_published(real_index):
    ans = checked(real_index, "When was the NITI Aayog discussion paper published?")
    assert not ans.abstained
    # the References entry ("NITI Aayog. (2018, June). National strategy ...") or the brief's timeline
    # ("June 2018 / #AIforAll National Strategy Released by NITI Aayog") both date it
    assert "June" in ans.answer and "2018" in ans.answer and "NITI Aayog" in ans.answer


@pytest.mark.slow
def test_when_highlight_is_the_publication_date_not_the_url(real_index):
    ans = checked(real_index, "When was the NITI Aayog discussion paper published?")
    assert "2018" in ans.highlights[0]["text"]


def _assert_niti_reference(real_index, cit):
    refs = {r["key"]: r for r in cit.references}
    assert "niti-aayog-2018" in refs, cit.references
    assert refs["niti-aayog-2018"]["url"] == NITI_URL == real_index.documents[NITI]["url"]
    ev = [e for e in cit.evidence if e["reference"] == "niti-aayog-2018"]
    assert len(ev) == 1
    e = ev[0]
    assert e["doc"] == NITI and isinstance(e["page"], int) and 1 <= e["page"] <= 115
    assert real_index.pages[(NITI, e["page"])].text[e["start"] : e["end"]] == e["text"]


@pytest.mark.slow
def test_sentence_citing_niti_carries_the_reference_and_evidence(real_index):
    ans = checked(real_index, "What risks have the Trump administration's tariff measures underscored?")
    cit = next(c for c in ans.citations if "(NITI Aayog, 2018)" in c.quote)
    assert "over-reliance on a single partner" in cit.quote
    _assert_niti_reference(real_index, cit)


@pytest.mark.slow
def test_table_under_a_niti_source_line_carries_the_reference_and_evidence(real_index):
    page = real_index.pages[(BRIEF, 1)].text
    ans = checked(real_index, "What are the focus areas of Microsoft and Forus Health?")
    (cit,) = ans.citations
    assert "Microsoft and Forus Health" in cit.quote and "diabetic retinopathy" in cit.quote
    # the row sits in Table 2, whose source line is NITI Aayog (2018)
    assert (
        page.index("Table 2: India-US Collaboration") < cit.start < page.index("Source: NITI Aayog (2018).")
    )
    _assert_niti_reference(real_index, cit)


def _niti_page_of(phrase: str) -> int:
    raw = (REPO / "corpus" / NITI).read_text(encoding="utf-8")
    at = raw.index(phrase)
    assert raw.count(phrase) == 1
    return raw.count("\f", 0, at) + 1  # one form feed ends every page


@pytest.mark.slow
@pytest.mark.parametrize(
    ("q", "phrase", "in_answer"),
    [
        (
            "How many petaflops of AI computing infrastructure is proposed, like Japan's ABCI facility?",
            "100-AI  petaflop",
            "100-AI petaflop",
        ),
        ("What is the proposed two-tiered structure for AI research?", "two-tiered structure", "two-tiered"),
    ],
)
def test_niti_question_cites_the_right_page(real_index, q, phrase, in_answer):
    ans = checked(real_index, q)
    assert not ans.abstained
    c = ans.citations[0]
    assert c.doc == NITI and c.page == _niti_page_of(phrase)
    assert norm(in_answer) in norm(ans.answer)
    assert c.title == "Discussion Paper National Strategy for Artificial Intelligence" and c.url == NITI_URL


@pytest.mark.slow
def test_petaflop_question_highlights_the_amount(real_index):
    ans = checked(
        real_index,
        "How many petaflops of AI computing infrastructure is proposed, like Japan's ABCI facility?",
    )
    assert [h["text"] for h in ans.highlights] == ["100"]


@pytest.mark.slow
def test_niti_question_naming_niti_aayog(real_index):
    ans = checked(
        real_index, "How large a computing infrastructure does NITI Aayog propose to set up for AIRAWAT?"
    )
    assert not ans.abstained
    assert ans.citations[0].doc == NITI and ans.citations[0].page == _niti_page_of("100-AI  petaflop")


@pytest.mark.slow
def test_real_abstention_lists_related_reading_that_slices_back(real_index):
    # no 2031 in the documents
    ans = checked(real_index, "What is the yield rate of Rapidus 2nm chips in 2031?")
    assert ans.abstained and ans.related
    assert any("Rapidus" in c.quote for c in ans.related)


# ---------------------------------------------------------------- citations of OCR'd pages say so


def test_a_quote_from_an_ocrd_page_is_cited_as_ocr(tmp_path, build_fake):
    from test_ingest_ocr import LINES, needs_tesseract, scanned_pdf

    if needs_tesseract.args[0]:
        pytest.skip("Debian's tesseract-ocr is not installed (.ci/run installs it)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    scanned_pdf(corpus / "scan.pdf", [LINES])
    (corpus / "notes.txt").write_text("Notes about harbours and their cranes.\n")
    build_fake(corpus, tmp_path / "index")
    ans = qa.load_index(tmp_path / "index").ask("Where do herons wade?")
    cited = [c for c in (*ans.citations, *ans.related) if c.doc == "scan.pdf"]
    assert cited and all(c.ocr for c in cited)
    assert all(c["ocr"] is (c["doc"] == "scan.pdf") for c in ans.to_dict()["citations"])
