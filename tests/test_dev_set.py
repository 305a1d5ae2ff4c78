"""The project's own quality targets on its dev set, asserted through its pytest plugin (it dogfoods it):
every dev question runs as a test against the real index, and the set-level thresholds decide.

A wrong answer to one question is reported (xfail with its question, gold, quote, citation and confidence)
without failing the suite; a broken threshold fails it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.evaluate import load_questions

pytest_plugins = ["pytester"]
DEV = Path(__file__).resolve().parents[1] / "eval" / "brief_dev.jsonl"

# The targets of the README's "Quality on the dev set" table that the learned answer step meets.
TARGETS = {
    "--qa-fail-under": ["hit@5=0.97", "answer_accuracy=0.85"],
    "--qa-fail-over": ["false_abstention_rate=0.05", "median_answer_chars=350"],
}
# The targets it misses (issue 12 is open for them): a strict xfail, so meeting them fails this test and
# moves them back into TARGETS.
UNMET = {"--qa-fail-under": ["abstention_recall=0.90"]}


@pytest.fixture(scope="module")
def warm_index(real_index):
    """Ask once before pytester snapshots ``sys.modules`` (it drops what an in-process run imports)."""
    real_index.ask("What has Microsoft launched across Indian states?")
    return real_index


def _gate(pytester, real_index_path, targets):
    args = ["--qa-questions", str(DEV), "--qa-index", str(real_index_path), "--qa-gate-only", "-rx"]
    for flag, specs in targets.items():
        for spec in specs:
            args += [flag, spec]
    return pytester.runpytest(*args)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 12: unanswerables abstained below 0.90 on dev")
def test_dev_set_targets_the_answer_step_misses(warm_index, real_index_path, pytester):
    result = _gate(pytester, real_index_path, UNMET)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()


@pytest.mark.slow
def test_dev_set_targets_through_the_plugin(warm_index, real_index_path, pytester):
    result = _gate(pytester, real_index_path, TARGETS)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out
    outcomes = result.parseoutcomes()
    rows = load_questions(DEV)
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == len(rows) == 40
    assert "failed" not in outcomes and "error" not in outcomes
    met = [line for line in out.splitlines() if line.startswith("qa threshold met: ")]
    assert len(met) == sum(len(v) for v in TARGETS.values()), out
    # each question wrong on the set is reported with what it quoted, under its id
    for line in out.splitlines():
        if line.startswith("XFAIL "):
            qid = line.split("::")[1].split(" ")[0]
            assert qid in {r["id"] for r in rows}
