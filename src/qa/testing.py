"""Asserting answers in your own tests: ``assert_answer(index, question, contains=..., page=...,
abstains=...)``. Light to import (the pytest plugin re-exports it)."""

from __future__ import annotations

import time
from collections.abc import Iterable


def assert_answer(
    index,
    question: str,
    contains: str | Iterable[str] | None = None,
    page: int | Iterable[int] | None = None,
    abstains: bool | None = None,
    docs: list[str] | None = None,
    k: int = 10,
    retriever: str = "hybrid",
):
    """Ask ``index`` and check the answer: it holds one of ``contains`` (matched as ``qa eval`` matches gold
    strings), its first citation is on ``page`` (or one of several), it gives no answer (``abstains=True``:
    an abstention, or evidence without an answer) or answers (``False``). Returns the Answer; raises
    AssertionError naming what failed, with the question, what was quoted, its citation and confidence."""
    __tracebackhide__ = True  # pytest shows the caller's line and the message, not this helper
    from qa.evaluation.run import describe, record

    golds = [contains] if isinstance(contains, str) else list(contains or [])
    pages = [page] if isinstance(page, int) else list(page or [])
    t = time.perf_counter()
    ans = index.ask(question, docs=docs, k=k, retriever=retriever)
    rec = record(
        {"id": "assert_answer", "question": question, "answers": golds}, ans, (time.perf_counter() - t) * 1000
    )
    problems, expected = [], []
    if abstains is not None:
        expected.append("an abstention" if abstains else "an answer")
        if ans.answered == abstains:
            got = {"answer": "an answer", "evidence": "evidence without an answer"}.get(
                ans.kind, "an abstention"
            )
            problems.append(f"expected {expected[-1]}, got {got}")
    if golds:
        expected.append("one of " + " | ".join(repr(g) for g in golds))
        if not rec["correct"]:
            problems.append("no gold string in the answer")
    if pages:
        expected.append("page " + " or ".join(map(str, pages)))
        cited = ans.citations[0].page if ans.citations else None
        if cited not in pages:
            problems.append(f"expected page {' or '.join(map(str, pages))}, cited page {cited}")
    if problems:
        raise AssertionError("; ".join(problems) + "\n" + describe(rec, expected=", ".join(expected)))
    return ans
