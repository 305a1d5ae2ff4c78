"""The learned answer model: a scorer (probability that a unit holds the answer) and a calibrator (probability
that the chosen answer is right, which abstention thresholds). Both are logistic regressions over
standardised features, stored as plain JSON numbers in ``model.json`` and applied with numpy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.features import CALIBRATION, FEATURES
from qa.errors import QAError

FORMAT = "qa-answer-model"
VERSION = 1
DEFAULT = Path(__file__).with_name("model.json")


class ModelError(QAError):
    """The answer model is missing or does not fit this code; the message names the command that fixes it."""

    exit_code = 2


@dataclass(frozen=True)
class Linear:
    """A linear model over standardised inputs: a logistic regression (each row's own probability), or a
    softmax over the rows given together (the probability that each is the one: the candidates of one
    question)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    kind: str = "logistic"  # logistic | softmax

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        if self.kind == "softmax":
            e = np.exp(z - z.max())
            return e / e.sum()
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_dict(self) -> dict:
        return {
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, d: dict, width: int) -> Linear:
        arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (width,) for a in arrays):
            raise ValueError(f"expected {width} weights")
        mean, scale, coef = arrays
        kind = d.get("kind", "logistic")
        if kind not in ("logistic", "softmax"):
            raise ValueError(f"unknown model kind {kind!r}")
        return cls(mean, np.where(scale > 0, scale, 1.0), coef, float(d["intercept"]), kind)


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees (a logistic link): each tree as flat arrays of its nodes."""

    feature: np.ndarray  # (trees, nodes) feature index of each split
    threshold: np.ndarray  # (trees, nodes) go left when x[feature] <= threshold
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray  # (trees, nodes) bool
    value: np.ndarray  # (trees, nodes) a leaf's contribution
    base: float
    depth: int
    kind: str = "trees"

    def probability(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        trees = np.arange(self.feature.shape[0])
        node = np.zeros((x.shape[0], len(trees)), dtype=np.int64)
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            go_left = x[rows, self.feature[trees, node]] <= self.threshold[trees, node]
            step = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.leaf[trees, node], node, step)
        z = self.base + self.value[trees, node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "base": round(float(self.base), 6),
            "depth": int(self.depth),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),  # exact: a rounded split would move rows across it
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "leaf": self.leaf.astype(int).tolist(),
            "value": [[round(float(v), 6) for v in row] for row in self.value],
        }

    @classmethod
    def from_dict(cls, d: dict, width: int) -> Trees:
        feature = np.asarray(d["feature"], dtype=np.int64)
        arrays = [np.asarray(d[k]) for k in ("threshold", "left", "right", "leaf", "value")]
        if feature.ndim != 2 or any(a.shape != feature.shape for a in arrays):
            raise ValueError("tree arrays of different shapes")
        if feature.size and not (feature.min() >= 0 and feature.max() < width):
            raise ValueError(f"a split on a feature outside the {width} inputs")
        threshold, left, right, leaf, value = arrays
        return cls(
            feature,
            threshold.astype(np.float64),
            left.astype(np.int64),
            right.astype(np.int64),
            leaf.astype(bool),
            value.astype(np.float64),
            float(d["base"]),
            int(d["depth"]),
        )


def _model(d: dict, width: int) -> Linear | Trees:
    return Trees.from_dict(d, width) if d.get("kind") == "trees" else Linear.from_dict(d, width)


@dataclass(frozen=True)
class AnswerModel:
    scorer: Linear
    calibrator: Linear | Trees
    threshold: float  # abstain when the calibrated probability is below it
    meta: dict

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.scorer.probability(x)

    def confidence(self, row: np.ndarray) -> float:
        return float(self.calibrator.probability(row)[0])


_LOADED: dict[Path, AnswerModel] = {}


def load(path: str | Path | None = None) -> AnswerModel:
    """The model at ``path`` (default: the one shipped in the package), read once per process."""
    path = Path(path) if path else DEFAULT
    if path in _LOADED:
        return _LOADED[path]
    fix = "retrain it with: make train (or qa train)"
    if not path.is_file():
        raise ModelError(f"answer model not found at {path}: {fix}")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"answer model {path} is unreadable ({e}): {fix}") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
        raise ModelError(f"answer model {path} is not a {FORMAT} version {VERSION} file: {fix}")
    if d.get("features") != list(FEATURES) or d.get("calibration_features") != list(CALIBRATION):
        raise ModelError(f"answer model {path} was trained on other features than this code computes: {fix}")
    try:
        model = AnswerModel(
            scorer=Linear.from_dict(d["scorer"], len(FEATURES)),
            calibrator=_model(d["calibrator"], len(CALIBRATION)),
            threshold=float(d["threshold"]),
            meta={k: d.get(k) for k in ("training", "heldout")},
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"answer model {path} is damaged ({e}): {fix}") from None
    _LOADED[path] = model
    return model


def save(
    path: Path, scorer: Linear, calibrator: Linear | Trees, threshold: float, training: dict, heldout: dict
):
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "features": list(FEATURES),
        "calibration_features": list(CALIBRATION),
        "scorer": scorer.to_dict(),
        "calibrator": calibrator.to_dict(),
        "threshold": round(float(threshold), 6),
        "training": training,
        "heldout": heldout,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    _LOADED.pop(path, None)
