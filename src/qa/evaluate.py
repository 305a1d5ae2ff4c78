"""The evaluation's public functions in one place (they live in ``qa.evaluation``)."""

from qa.evaluation.inputs import load_questions
from qa.evaluation.metrics import KS
from qa.evaluation.reports import report_junit, report_markdown
from qa.evaluation.run import evaluate
from qa.evaluation.scoring import contains_gold, norm, short_answer

__all__ = [
    "KS",
    "contains_gold",
    "evaluate",
    "load_questions",
    "norm",
    "report_junit",
    "report_markdown",
    "short_answer",
]
