"""Extractive answers: the best verbatim sentences inside the top hits, with citations, or an abstention.

One module per step: ``question`` (what is asked), ``followup`` (reading a question in its conversation),
``candidates`` (the quotable units of the hits), ``features`` (what the model reads), ``model`` (the
learned scorer and calibrator, loaded from ``model.json``), ``compose`` (quotes, short span, citations),
``pipeline`` (the step end to end) and ``train`` (``qa train``: fits the model on question sets).
"""

from qa.answer.compose import NO_ANSWER
from qa.answer.followup import contextualise
from qa.answer.pipeline import ask
from qa.answer.question import MAX_QUESTION_CHARS, classify, parse_question, split_parts, validate
from qa.answer.text import norm_num, terms

__all__ = [
    "MAX_QUESTION_CHARS",
    "NO_ANSWER",
    "ask",
    "classify",
    "contextualise",
    "norm_num",
    "parse_question",
    "split_parts",
    "terms",
    "validate",
]
