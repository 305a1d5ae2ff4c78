"""Evidence without an answer: a question about figures ("Has the quick ratio improved between 2022 and
2023?") whose answer no sentence states, while the retrieved rows or sentences hold the figures it is about.
Those are quoted as evidence, under "The documents don't state this directly; the evidence is:", distinct
from an answer and from an abstention. Nothing is computed or paraphrased: the units are quoted as they
are."""

from __future__ import annotations

from qa.answer.candidates import Cand, chunk_terms
from qa.answer.question import Question
from qa.answer.text import matches

MESSAGE = "The documents don't state this directly; the evidence is:"
MAX_UNITS = 3  # quoted
SCAN = 8  # leading candidates (by the model's score) looked at
FIGURES = 2  # distinct figures in a unit beyond the question's own: a row of values, not one number
COVERAGE = 0.5  # of the question's names, and of its other content words, in the unit and its passage


_NOT_FIGURES = ("date", "definition", "acronym", "reason")


def asks_figures(q: Question) -> bool:
    """An amount is asked for, or the question pins a year or number the figures are read at (and asks
    neither a date, a definition, an expansion nor a reason)."""
    return q.kind == "quantity" or (bool(q.numbers) and q.kind not in _NOT_FIGURES)


def _figures(q: Question, text: str, spans) -> set[str]:
    found = {text[a:b].replace(",", "") for a, b in spans}
    return {f for f in found if any(ch.isdigit() for ch in f) and f not in q.numbers}


def holds_figures(index, q: Question, cand: Cand) -> bool:
    """The unit holds figures beyond the numbers the question pins, every pinned number is in it or its
    passage (a table row's header gives its year), and it and its passage cover enough of what the question
    is about: half its names and half its other words, one of them in the unit itself."""
    unit = cand.unit
    if len(_figures(q, unit.text, unit.amounts)) < FIGURES:
        return False
    passage = chunk_terms(index, cand.hit.chunk) | unit.own
    if any(n not in passage for n in q.numbers):
        return False
    named = [n for n in q.names if not any(ch.isdigit() for ch in n)]
    words = [t for t in q.terms if not any(ch.isdigit() for ch in t) and t not in named]
    if not words or not any(matches(t, unit.own) for t in (*named, *words)):
        return False
    covered = sum(matches(t, passage) for t in words) >= COVERAGE * len(words)
    return covered and sum(matches(n, passage) for n in named) >= COVERAGE * len(named)


def evidence(index, q: Question, cands: list[Cand]) -> list[Cand]:
    """Up to ``MAX_UNITS`` units among the leading candidates that hold the asked figures, one per passage
    position, in the model's order; empty when the question is not about figures or none holds them."""
    if not asks_figures(q):
        return []
    out: list[Cand] = []
    seen = set()
    for cand in cands[:SCAN]:
        key = (cand.hit.chunk.doc, cand.hit.chunk.page, cand.start)
        if key in seen or not holds_figures(index, q, cand):
            continue
        seen.add(key)
        out.append(cand)
        if len(out) == MAX_UNITS:
            break
    return out
