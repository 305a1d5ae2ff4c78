"""Scoring one answer against its gold strings: containment (answer accuracy), the short answer span, and
SQuAD-style exact match and token F1."""

from __future__ import annotations

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def norm(text: str) -> str:
    """Matching form: lower case, markdown markers and backslashes gone, dashes unified, spaces collapsed."""
    text = text.lower().replace("\\", "").replace("*", "").replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip()


def contains_gold(text: str, golds: list[str]) -> bool:
    """Whether one of the gold strings occurs inside ``text`` (both in matching form)."""
    t = norm(text)
    return any(norm(g) in t for g in golds)


def short_answer(ans) -> str:
    """The short answer span of an Answer: the text of its first highlight, else the whole answer text.

    The one place that decides what the span is (exact match and F1 score it), so it can later be switched to
    a dedicated field of the answer.
    """
    if not ans.answered:
        return ""
    if ans.highlights and ans.highlights[0].get("text"):
        return ans.highlights[0]["text"]
    return ans.answer


def squad_norm(text: str) -> str:
    """The SQuAD evaluation script's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(squad_norm(prediction) == squad_norm(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = squad_norm(prediction).split(), squad_norm(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def span_scores(short: str, golds: list[str], declined: bool) -> tuple[float, float]:
    """(exact match, F1) of a short span, the best over the gold strings. An unanswerable question (no golds)
    scores 1 when no answer was given (an abstention, or evidence without an answer) and 0 otherwise; an
    answerable one left unanswered scores 0."""
    if not golds:
        return (1.0, 1.0) if declined else (0.0, 0.0)
    if declined:
        return 0.0, 0.0
    return max(exact_match(short, g) for g in golds), max(token_f1(short, g) for g in golds)


def is_right(rec: dict) -> bool:
    """A question's outcome: an answerable one answered with a gold string, an unanswerable one not answered
    (abstained, or given evidence without an answer)."""
    return bool(rec["correct"]) if rec["answerable"] else declined(rec)


def declined(rec: dict) -> bool:
    """The record gave no answer: a bare abstention or evidence (records older than the ``kind`` field:
    ``abstained``)."""
    return rec.get("kind", "abstain" if rec["abstained"] else "answer") != "answer"
