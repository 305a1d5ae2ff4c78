"""pytest plugin (installed with qa): question files as tests, a ``qa_index`` fixture, ``assert_answer``.

- ``*.qa.jsonl`` files that pytest collects, and any question file given with ``--qa-questions`` (JSON lines,
  SQuAD 2.0 .json or .csv, as ``qa eval`` reads), become one test per question, named by its id: it passes
  when the answer holds a gold string (or abstains, for an unanswerable question).
- ``--qa-index DIR`` (built or updated from ``--qa-corpus DIR`` when missing or stale), ``--qa-fail-under`` /
  ``--qa-fail-over METRIC=VALUE``: set-level thresholds checked at the end of the run, which fails when one
  is broken. ``--qa-gate-only``: a wrong answer is reported as xfail, and only the thresholds decide.

Only pytest and the standard library are imported here; qa's heavy parts load when a question runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.testing import assert_answer

__all__ = ["assert_answer"]

SUFFIX = ".qa.jsonl"
RECORDS = pytest.StashKey[list]()
VERDICT = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("qa", "qa question sets as tests")
    g.addoption("--qa-questions", action="append", default=[], metavar="FILE", help="a question file to run")
    g.addoption(
        "--qa-index", metavar="DIR", help="the index the questions are asked of (default: ini qa_index)"
    )
    g.addoption("--qa-corpus", metavar="DIR", help="build or update --qa-index from this corpus first")
    g.addoption("--qa-model", metavar="MODEL", help="embedding model for a build (default: bundled)")
    g.addoption("--qa-retriever", choices=["dense", "bm25", "hybrid"], default="hybrid")
    g.addoption(
        "--qa-fail-under", action="append", default=[], metavar="METRIC=VALUE", help="set-level floor"
    )
    g.addoption(
        "--qa-fail-over", action="append", default=[], metavar="METRIC=VALUE", help="set-level ceiling"
    )
    g.addoption(
        "--qa-gate-only",
        action="store_true",
        help="report wrong answers as xfail; only the set-level thresholds fail the run",
    )
    parser.addini("qa_index", "index folder for question tests", default="index")
    parser.addini("qa_corpus", "corpus folder to build the index from when missing or stale")
    parser.addini("qa_fail_under", "set-level floors, METRIC=VALUE", type="linelist")
    parser.addini("qa_fail_over", "set-level ceilings, METRIC=VALUE", type="linelist")


def _thresholds(config: pytest.Config):
    from qa.errors import UsageError
    from qa.evaluation.gate import parse_all

    under = config.getoption("qa_fail_under") + config.getini("qa_fail_under")
    over = config.getoption("qa_fail_over") + config.getini("qa_fail_over")
    try:
        return parse_all(under, over)
    except UsageError as e:
        raise pytest.UsageError(f"qa: {e}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RECORDS] = []
    if not (config.getoption("qa_fail_under") or config.getoption("qa_fail_over")) and not (
        config.getini("qa_fail_under") or config.getini("qa_fail_over")
    ):
        return
    _thresholds(config)  # a bad threshold is a usage error before anything runs


def pytest_sessionstart(session: pytest.Session) -> None:
    """``--qa-questions`` files join the collection; alone on the command line, they are all that runs."""
    config = session.config
    files = [str(Path(f).resolve()) for f in config.getoption("qa_questions")]
    for f in files:
        if not Path(f).is_file():
            raise pytest.UsageError(f"qa: question file not found: {f}")
    if files and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = files
    else:
        config.args.extend(f for f in files if f not in {str(Path(a).resolve()) for a in config.args})


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    given = {Path(f).resolve() for f in parent.config.getoption("qa_questions")}
    if file_path.name.endswith(SUFFIX) or file_path.resolve() in given:
        return QuestionFile.from_parent(parent, path=file_path)
    return None


class QuestionFile(pytest.File):
    """A question file: one test per question, asked of the ``qa_index`` fixture."""

    def collect(self):
        from qa.errors import UsageError
        from qa.evaluation.inputs import load_questions

        fmt = "jsonl" if self.path.name.endswith(SUFFIX) else None
        try:
            rows = load_questions(self.path, fmt)
        except UsageError as e:
            raise self.CollectError(str(e)) from None
        for row in rows:
            yield QuestionItem.from_parent(self, name=row["id"], callobj=_question_test(row))

    class CollectError(Exception):
        pass

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance(self.CollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


class QuestionItem(pytest.Function):
    """One question: a test function (so it gets fixtures) reported under the question's id."""

    def reportinfo(self):
        return self.path, None, self.name


def _question_test(row: dict):
    def test_question(qa_index, request):
        from qa.evaluation.run import ask_one, describe

        config = request.config
        rec = ask_one(qa_index, row, retriever=config.getoption("qa_retriever"))
        config.stash[RECORDS].append(rec)
        if not rec["ok"]:
            if config.getoption("qa_gate_only"):
                pytest.xfail("wrong answer (gate only)\n" + describe(rec))
            pytest.fail(describe(rec), pytrace=False)

    test_question.__doc__ = row["question"]
    return test_question


@pytest.fixture(scope="session")
def qa_index(request):
    """The index the question tests ask (loaded once per run): ``--qa-index`` (or ini ``qa_index``), first
    built or updated from ``--qa-corpus`` (ini ``qa_corpus``) when missing or stale."""
    from qa.errors import QAError

    config = request.config
    index = Path(config.getoption("qa_index") or config.getini("qa_index"))
    corpus = config.getoption("qa_corpus") or config.getini("qa_corpus") or None
    try:
        return _open_index(index, Path(corpus) if corpus else None, config.getoption("qa_model"))
    except QAError as e:
        pytest.fail(f"qa_index: {e}", pytrace=False)


def _open_index(index: Path, corpus: Path | None, model: str | None):
    import qa
    from qa.config import Settings
    from qa.index import status

    if corpus is not None:
        settings = Settings.from_env(corpus=corpus, index=index, model=model)
        if not (index / "manifest.json").is_file() or status(index, corpus, settings)["stale"]:
            qa.build_index(corpus, index, settings=settings)
    return qa.load_index(index)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    """Set-level metrics of the questions that ran; a broken threshold fails the run."""
    config = session.config
    records = config.stash.get(RECORDS, [])
    thresholds = _thresholds(config)
    if not records and not thresholds:
        return
    from qa.evaluation.gate import check, measured
    from qa.evaluation.metrics import summarise

    if records:
        result = summarise(records)
        checks = [(t, check(t, result), measured(t, result)) for t in thresholds]
    else:
        result = {"metrics": {}}
        checks = [(t, "no question ran, so the threshold cannot be checked", None) for t in thresholds]
    config.stash[VERDICT] = {"metrics": result["metrics"], "checks": checks}
    if any(line for _, line, _ in checks) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    verdict = config.stash.get(VERDICT, None)
    if verdict is None:
        return
    tr = terminalreporter
    tr.section("qa question set")
    m = verdict["metrics"]
    if m:
        keys = (
            "questions",
            "answer_accuracy",
            "exact_match",
            "f1",
            "abstention_recall",
            "false_abstention_rate",
        )
        tr.write_line(", ".join(f"{k} {m[k]}" for k in keys if m.get(k) is not None))
    for t, line, got in verdict["checks"]:
        if line:
            tr.write_line(f"qa threshold not met: {line}", red=True)
        else:
            tr.write_line(f"qa threshold met: {t.name} = {got:g}, required {t.op} {t.value:g}", green=True)
