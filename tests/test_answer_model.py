"""The learned answer model: the shipped file, loading errors, calibration error and the threshold rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.answer import model as answer_model
from qa.answer.features import CALIBRATION, FEATURES
from qa.answer.train import Item, _threshold, parse_set
from qa.errors import UsageError
from qa.evaluation.metrics import calibration_error as ece


def test_the_shipped_model_loads_and_records_how_it_was_trained():
    m = answer_model.load()
    assert 0.0 < m.threshold < 1.0
    training, heldout = m.meta["training"], m.meta["heldout"]
    assert len(training["data_sha256"]) == 64 and training["seed"] == 0
    assert {"brief", "sources", "squad", "pooled"} <= set(heldout)
    assert all(0.0 <= heldout[s]["ece"] <= 1.0 for s in ("brief", "sources", "squad", "pooled"))
    doc = json.loads(answer_model.DEFAULT.read_text())
    assert doc["features"] == list(FEATURES) and doc["calibration_features"] == list(CALIBRATION)


def test_probabilities_are_probabilities():
    m = answer_model.load()
    rng = np.random.default_rng(0)
    p = m.score(rng.normal(size=(50, len(FEATURES))))
    assert p.shape == (50,) and ((p > 0) & (p < 1)).all()
    assert 0.0 < m.confidence(rng.normal(size=len(CALIBRATION))) < 1.0


def _write(tmp_path, **changes):
    doc = json.loads(answer_model.DEFAULT.read_text())
    doc.update(changes)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"format": "something-else"}, "is not a qa-answer-model version 1 file"),
        ({"version": 99}, "is not a qa-answer-model version 1 file"),
        ({"features": ["dense"]}, "trained on other features than this code computes"),
        ({"threshold": "high"}, "is damaged"),
        ({"scorer": {"mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}}, "is damaged"),
    ],
)
def test_a_mismatched_or_damaged_model_is_a_clear_error(tmp_path, changes, says):
    with pytest.raises(answer_model.ModelError, match=says) as e:
        answer_model.load(_write(tmp_path, **changes))
    assert "make train" in str(e.value) and e.value.exit_code == 2


def test_a_missing_or_unreadable_model_is_a_clear_error(tmp_path):
    with pytest.raises(answer_model.ModelError, match="not found"):
        answer_model.load(tmp_path / "nothing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(answer_model.ModelError, match="unreadable"):
        answer_model.load(bad)


def test_expected_calibration_error():
    right = np.array([1, 0] * 50, dtype=float)
    assert ece(np.full(100, 0.5), right) == pytest.approx(0.0)
    assert ece(np.full(100, 0.9), right) == pytest.approx(0.4)
    assert ece(np.array([0.95] * 10 + [0.05] * 10), np.array([1.0] * 10 + [0.0] * 10)) == pytest.approx(0.05)


def _item(name: str, answerable: bool) -> Item:
    return Item(name, name, {"question": "q", "answers": ["a"] if answerable else []}, [], 1.0, None)


def test_threshold_keeps_the_mean_over_sets_of_answerables_abstained_within_target():
    items = (
        [_item("a", True) for _ in range(10)] + [_item("b", True) for _ in range(10)] + [_item("b", False)]
    )
    conf = np.concatenate([np.linspace(0.1, 1.0, 10), np.linspace(0.5, 1.0, 10), [0.05]])
    t = _threshold(items, conf, 0.05)
    below = [np.mean(conf[s][:10] < t) for s in (slice(0, 10), slice(10, 20))]
    assert np.mean(below) <= 0.05
    assert _threshold(items, conf, 0.10) > t  # a looser target abstains more


def test_set_spec_is_checked():
    assert parse_set("mine=q.jsonl:docs")[0] == "mine"
    with pytest.raises(UsageError, match="NAME=QUESTIONS.jsonl:CORPUS_DIR"):
        parse_set("q.jsonl")


def test_exported_trees_predict_as_the_fitted_ensemble_and_round_trip():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from qa.answer.train import TREE_DEPTH, TREES, _fit_trees

    rng = np.random.default_rng(1)
    x = rng.random((2000, 4))
    y = (x[:, 0] * x[:, 1] + 0.2 * rng.random(2000) > 0.35).astype(float)
    trees = _fit_trees(x, y, np.ones(len(y)), seed=0)
    ref = HistGradientBoostingClassifier(
        max_depth=TREE_DEPTH, max_iter=TREES, learning_rate=0.05, min_samples_leaf=40, random_state=0
    ).fit(x, y)
    assert np.allclose(trees.probability(x), ref.predict_proba(x)[:, 1])
    again = answer_model.Trees.from_dict(json.loads(json.dumps(trees.to_dict())), 4)
    assert np.allclose(again.probability(x), trees.probability(x), atol=1e-5)
    with pytest.raises(ValueError, match="outside the 3 inputs"):
        answer_model.Trees.from_dict(trees.to_dict(), 3)
