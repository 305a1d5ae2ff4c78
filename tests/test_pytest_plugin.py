"""The pytest plugin end to end (pytester runs pytest inside this one) on a small fake index: question files
collected as tests, readable failures, set-level thresholds, building the index, the fixtures and helper."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evalsets import PASSING, WRONG, write_jsonl

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def imported_once(tmp_path_factory):
    """Import everything a question run needs before pytester snapshots ``sys.modules``: pytester drops the
    modules an in-process run imported, and importing faiss a second time in one process crashes it."""
    import qa
    from conftest import FAKE_DOCS
    from qa.config import Settings

    root = tmp_path_factory.mktemp("warm")
    for rel, text in FAKE_DOCS.items():
        (root / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / rel).write_text(text, encoding="utf-8")
    settings = Settings(model="fake:bow-64", corpus=root / "corpus", index=root / "index")
    qa.build_index(root / "corpus", root / "index", settings=settings)
    from qa.testing import assert_answer

    assert_answer(qa.load_index(root / "index"), "What do telescopes observe?")


@pytest.fixture
def index_dir(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus(), tmp_path / "index")
    return tmp_path / "index"


def test_a_wrong_answer_fails_its_test_with_a_readable_message(pytester, index_dir):
    write_jsonl(pytester.path / "set.qa.jsonl", [*PASSING, WRONG])
    result = pytester.runpytest("--qa-index", str(index_dir), "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "set.qa.jsonl::mango PASSED*",
            "set.qa.jsonl::wrong FAILED*",
            "*_ wrong _*",
            "question: Where do Alphonso mangoes ripen?",
            "gold: 'Ratnagiri'",
            "quoted: '*Konkan*'",
            "citation: fruit/mangoes.md, p. 1",
            "confidence: 0.*",
        ]
    )


def test_a_passing_set_passes(pytester, index_dir):
    write_jsonl(pytester.path / "set.qa.jsonl", PASSING)
    result = pytester.runpytest("--qa-index", str(index_dir))
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)


def test_set_level_thresholds_met_and_missed(pytester, index_dir):
    write_jsonl(pytester.path / "set.qa.jsonl", [*PASSING, WRONG])
    common = ["--qa-index", str(index_dir), "--qa-gate-only", "-rx"]
    met = pytester.runpytest(*common, "--qa-fail-under", "answer_accuracy=0.6", "--qa-fail-over", "ece=1")
    assert met.ret == pytest.ExitCode.OK  # the wrong answer is an xfail: the thresholds decide
    met.assert_outcomes(passed=3, xfailed=1)
    met.stdout.fnmatch_lines(
        [
            "*qa question set*",
            "questions 4, answer_accuracy 0.6667*",
            "qa threshold met: answer_accuracy = 0.6667, required >= 0.6",
            "qa threshold met: ece = *, required <= 1",
            "XFAIL set.qa.jsonl::wrong - wrong answer (gate only)",
        ]
    )
    missed = pytester.runpytest(*common, "--qa-fail-under", "answer_accuracy=0.9", "--qa-fail-under", "f1=0")
    assert missed.ret == pytest.ExitCode.TESTS_FAILED
    missed.assert_outcomes(passed=3, xfailed=1)
    missed.stdout.fnmatch_lines(["qa threshold not met: answer_accuracy = 0.6667, required >= 0.9"])
    assert "qa threshold not met: f1" not in missed.stdout.str()


def test_thresholds_from_the_ini_file(pytester, index_dir):
    pytester.makeini(f"[pytest]\nqa_index = {index_dir}\nqa_fail_under =\n    answer_accuracy=1\n")
    write_jsonl(pytester.path / "set.qa.jsonl", [*PASSING, WRONG])
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["qa threshold not met: answer_accuracy = 0.6667, required >= 1"])


def test_unknown_threshold_metric_is_a_usage_error(pytester, index_dir):
    result = pytester.runpytest("--qa-index", str(index_dir), "--qa-fail-under", "wisdom=0.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*qa: threshold 'wisdom=0.5': unknown metric 'wisdom'*"])


def test_qa_questions_file_alone_runs_just_its_questions(pytester, index_dir, tmp_path):
    pytester.makepyfile(test_other="def test_other():\n    assert True\n")
    q = tmp_path / "set.csv"
    q.write_text(
        "id,question,answer,pages\nmango,Where do Alphonso mangoes ripen?,Konkan,1\n"
        "cup,Who won the football world cup in Qatar?,,\n",
        encoding="utf-8",
    )
    alone = pytester.runpytest("--qa-index", str(index_dir), "--qa-questions", str(q), "-v")
    assert alone.ret == pytest.ExitCode.OK
    alone.assert_outcomes(passed=2)
    alone.stdout.fnmatch_lines(["*set.csv::mango PASSED*", "*set.csv::cup PASSED*"])
    both = pytester.runpytest("--qa-index", str(index_dir), "--qa-questions", str(q), ".")
    both.assert_outcomes(passed=3)


def test_malformed_question_file_is_a_collection_error_naming_the_line(pytester, index_dir):
    bad = pytester.path / "bad.qa.jsonl"
    bad.write_text('{"question": "ok?", "answers": []}\n{"question": \n', encoding="utf-8")
    result = pytester.runpytest("--qa-index", str(index_dir))
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*{bad}:2: not valid JSON*"])


def test_index_built_from_the_corpus_when_missing_or_stale(pytester, tmp_path, fake_corpus):
    corpus, index = fake_corpus(), tmp_path / "built"
    write_jsonl(pytester.path / "set.qa.jsonl", PASSING)
    args = ["--qa-index", str(index), "--qa-corpus", str(corpus), "--qa-model", "fake:bow-64"]
    # Each run in its own process, as a user's runs are.
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=3)  # built: it was missing
    manifest = index / "manifest.json"
    built = manifest.stat().st_mtime_ns
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=3)
    assert manifest.stat().st_mtime_ns == built  # up to date: loaded, not rebuilt
    (corpus / "fruit" / "mangoes.md").write_text("# Mango Notes\n\nAlphonso mangoes ripen in Ratnagiri.\n")
    write_jsonl(pytester.path / "set.qa.jsonl", [{**WRONG, "id": "now-right"}])
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)  # stale: updated first, answers the edit
    assert manifest.stat().st_mtime_ns != built


def test_missing_index_fails_with_its_fix(pytester, tmp_path):
    write_jsonl(pytester.path / "set.qa.jsonl", PASSING[:1])
    result = pytester.runpytest("--qa-index", str(tmp_path / "nowhere"))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*qa_index: *nowhere*"])


def test_qa_index_fixture_loaded_once_and_assert_answer(pytester, index_dir, monkeypatch):
    import qa

    loads = []
    real = qa.load_index
    monkeypatch.setattr(qa, "load_index", lambda *a, **kw: loads.append(a) or real(*a, **kw))
    write_jsonl(pytester.path / "set.qa.jsonl", PASSING)
    pytester.makepyfile(
        test_mine="""
        import pytest
        from qa.pytest_plugin import assert_answer

        def test_contains_and_page(qa_index):
            ans = assert_answer(qa_index, "Where do Alphonso mangoes ripen?", contains="Konkan", page=1)
            assert ans.citations[0].doc == "fruit/mangoes.md"

        def test_abstains(qa_index):
            assert_answer(qa_index, "Who won the football world cup in Qatar?", abstains=True)

        def test_wrong_gold(qa_index):
            assert_answer(qa_index, "Where do Alphonso mangoes ripen?", contains=["Goa", "Ratnagiri"])

        def test_wrong_page(qa_index):
            assert_answer(qa_index, "What needs tuning after a long monsoon season?", page=1, abstains=False)
        """
    )
    result = pytester.runpytest("--qa-index", str(index_dir))
    result.assert_outcomes(passed=5, failed=2)
    assert len(loads) == 1  # one index for the whole run: 3 question tests and 4 of the user's
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: no gold string in the answer",
            "E       question: Where do Alphonso mangoes ripen?",
            "E       expected: one of 'Goa' | 'Ratnagiri'",
            "E       quoted: '*Konkan*'",
            "E       citation: fruit/mangoes.md, p. 1",
            "E       confidence: *",
        ]
    )
    result.stdout.fnmatch_lines(
        ["E       AssertionError: expected page 1, cited page 2", "E       citation: music.txt, p. 2"]
    )


def test_plugin_imports_nothing_heavy():
    code = (
        "import sys, qa.pytest_plugin\n"
        "heavy = ('numpy', 'torch', 'faiss', 'qa.index', 'qa.evaluation.run')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
