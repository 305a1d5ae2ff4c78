"""Follow-up questions: rewritten from the conversation only when they lack their own subject, always into a
grammatical question; fresh questions (also those starting with "And") stand alone."""

from __future__ import annotations

import re

import pytest

from qa.answer.followup import contextualise

ALLOC = "How much was allocated to the IndiaAI Mission in 2024–2025?"
IOWN = "What does IOWN stand for?"

# (history, follow-up, how it reads): pairs, then chains (the history holds earlier follow-ups).
REWRITES = [
    # a date for the date
    ([ALLOC], "And in 2023-2024?", "How much was allocated to the IndiaAI Mission in 2023-2024?"),
    (["What is Rapidus developing?"], "And in 2023?", "What is Rapidus developing in 2023?"),
    # a name for the name of the same shape (a country for a country, an acronym for an acronym)
    ([IOWN], "What about NTT?", "What does NTT stand for?"),
    (["How is AI used in Japan?"], "What about India?", "How is AI used in India?"),
    (["What is India's AI budget?"], "And Japan's?", "What is Japan's AI budget?"),
    (["What is India's AI budget?"], "What about Japan?", "What is Japan's AI budget?"),
    (["What is Rapidus developing?"], "Fujitsu?", "What is Fujitsu developing?"),
    # a noun phrase for a prepositional object
    (
        [ALLOC],
        "What about the robotics programme?",
        "How much was allocated to the robotics programme in 2024–2025?",
    ),
    (
        ["What does the brief say about semiconductors?"],
        "And what about talent?",
        "What does the brief say about talent?",
    ),
    (
        ["What does the brief say about semiconductors?"],
        "And about Rapidus?",
        "What does the brief say about Rapidus?",
    ),
    (["What is the role of NITI Aayog?"], "What about the ministry?", "What is the role of the ministry?"),
    # the previous subject for a pronoun (subject, object, possessive, demonstrative)
    (["What is Rapidus developing?"], "And when was it founded?", "When was Rapidus founded?"),
    ([ALLOC], "Who runs it?", "Who runs the IndiaAI Mission?"),
    ([ALLOC], "What is its budget?", "What is the IndiaAI Mission's budget?"),
    ([ALLOC], "How much does this mission cost?", "How much does the IndiaAI Mission cost?"),
    (["What are the risks of AI?"], "How can they be reduced?", "How can the risks of AI be reduced?"),
    (["What does the brief say about semiconductors?"], "Who makes them?", "Who makes semiconductors?"),
    (["Who is Dr Meera Rao?"], "What is her role?", "What is Dr Meera Rao's role?"),
    ([IOWN], "And what does it aim to achieve?", "What does IOWN aim to achieve?"),
    ([IOWN], "What does that mean?", "What does IOWN mean?"),
    (["What is AIRAWAT?"], "Why is it important to India?", "Why is AIRAWAT important to India?"),
    (["What is AIRAWAT?"], "Is it true that it is fast?", "Is it true that AIRAWAT is fast?"),
    (["What is AIRAWAT?"], "What about it?", "What is AIRAWAT?"),
    # chains: each turn read after the one before, itself rewritten
    (
        [ALLOC, "And in 2023-2024?"],
        "What about Centres of Excellence?",
        "How much was allocated to Centres of Excellence in 2023-2024?",
    ),
    (
        [ALLOC, "And in 2023-2024?", "What about Centres of Excellence?"],
        "And in 2022-2023?",
        "How much was allocated to Centres of Excellence in 2022-2023?",
    ),
    (["What is Rapidus developing?", "What about Fujitsu?"], "Where is it based?", "Where is Fujitsu based?"),
    ([IOWN, "What about NTT?"], "And what does it plan to build?", "What does NTT plan to build?"),
]

# Questions with their own subject, or whose fragment fits no slot of the previous question: unchanged.
STAND_ALONE = [
    ([IOWN], "And what about Japan's pledged investment?"),  # the reported bad case
    ([IOWN], "What about Japan?"),  # "What does Japan stand for?" asks no acronym
    (["What is Rapidus developing?"], "And which companies build data centres in India?"),
    (["What is Rapidus developing?"], "And how does the brief define sovereign AI?"),
    (
        ["What is Rapidus developing?"],
        "Is it true that Japan leads in robotics?",
    ),  # "it" stands for what follows
    ([ALLOC], "When did Qure.ai and Fujifilm announce their partnership?"),  # "their" has its own antecedent
    ([ALLOC], "Why did the government set it up?"),
    (["What is Rapidus developing?"], "semiconductor supply chains in Japan and India"),  # a keyword query
    (["What is Rapidus developing?"], "What about chips?"),  # no prepositional object to swap
    (["Why is it important to invest in AI?"], "What is Japan's pledged investment?"),
    ([], "And in 2023-2024?"),  # nothing to follow
    (["What is Rapidus developing?"], "What about " + "Ab " * 600 + ")"),  # no slot (read in linear time)
]


def _grammatical(text: str) -> bool:
    """What a rewrite must never show: no question inside a question, no connector left mid-sentence, no
    doubled word, a capital first letter and one question mark at the end."""
    return (
        text[:1].isupper()
        and text.endswith("?")
        and text.count("?") == 1
        and not re.search(r"\b(?:what|how) about\b|\bwhat of\b", text[1:], re.I)
        and not re.search(r"\b(\w+)\s+\1\b", text, re.I)
        and not re.search(r"\b(?:the|a|an)\s+(?:the|a|an)\b", text, re.I)
    )


@pytest.mark.parametrize(("history", "q", "expected"), REWRITES)
def test_follow_up_lacking_its_subject_is_rewritten_grammatically(history, q, expected):
    out = contextualise(q, history)
    assert out == expected
    assert _grammatical(out)


@pytest.mark.parametrize(("history", "q"), STAND_ALONE)
def test_question_with_its_own_subject_stands_alone(history, q):
    assert contextualise(q, history) == q


def test_the_rule_is_grammar_not_the_words_of_one_corpus():
    """The same frames with invented names: a name swaps only into a slot of its shape and kind."""
    prev = "What does ZQX stand for?"
    assert contextualise("What about WVB?", [prev]) == "What does WVB stand for?"
    assert contextualise("And what about Borovia's pledged investment?", [prev]) == (
        "And what about Borovia's pledged investment?"
    )
    assert contextualise("And Quellin?", ["How much did Borovia spend on ports?"]) == (
        "How much did Quellin spend on ports?"
    )


def test_ask_shows_understood_as_only_for_a_rewrite(real_index):
    """The reported case on the shipped corpus: the fresh "And what about ...?" is answered as asked."""
    fresh = real_index.ask("And what about Japan's pledged investment?", history=[IOWN])
    assert "Understood as" not in fresh.message
    follow = real_index.ask("And when was it founded?", history=["What is Rapidus developing?"])
    assert follow.message.startswith("Understood as: When was Rapidus founded?")
