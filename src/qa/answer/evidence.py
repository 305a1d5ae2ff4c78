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
COVERAGE = 0.5  # of the question's content terms, in the unit (a table row with its header)


def asks_figures(q: Question) -> bool:
    """An amount is asked for, or the question pins a year or number the figures are read at."""
    return q.kind == "quantity" or bool(q.numbers)


def holds_figures(index, q: Question, cand: Cand) -> bool:
    """The unit holds figures beyond the numbers the question pins, every pinned number is in its passage (a
    table row's header gives its year), and it covers enough of what the question is about."""
    unit = cand.unit
    own = unit.own
    passage = chunk_terms(index, cand.hit.chunk)
    figures = [unit.text[a:b] for a, b in unit.amounts]
    if not any(any(ch.isdigit() for ch in f) and f.replace(",", "") not in q.numbers for f in figures):
        return False
    if any(n not in own and n not in passage for n in q.numbers):
        return False
    asked = [t for t in q.terms if not t[0].isdigit()]
    if not asked:
        return False
    inside = sum(matches(t, own) for t in asked)
    named = all(matches(n, passage) for n in q.names if not any(ch.isdigit() for ch in n))
    return named and inside >= COVERAGE * len(asked)


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
