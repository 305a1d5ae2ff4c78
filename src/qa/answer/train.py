"""``qa train``: fit the answer model on question sets, held out by document, and write ``model.json``.

For every question the candidates and their features are gathered once. The scorer (does this unit hold a
gold answer?) is fitted leaving one document group out at a time, so every question is then answered by a
scorer that never saw its document; those answers, right or wrong, train the calibrator (is the chosen
answer right?), again held out by group. The abstention threshold is where, on the held-out
probabilities, the answerable questions abstained average the target over the sets. Then both are refitted
on everything and written with the held-out figures, the feature list and the hash of the training data.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer import model as answer_model
from qa.answer.features import calibration_row
from qa.answer.pipeline import Part, finish, gather, queries, rank
from qa.errors import UsageError
from qa.evaluation.metrics import calibration_error

DEFAULT_SETS = (
    "brief=eval/brief_dev.jsonl:corpus",
    "sources=eval/sources_dev.jsonl:corpus",
    "squad=eval/squad2-train/questions.jsonl:eval/squad2-train/corpus",
)
C = 1.0  # inverse L2 strength of the scorer
SCALE_FLOOR = 0.1
TREES, TREE_DEPTH = 150, 3


@dataclass
class Item:
    """One training question: its set, document group, gold strings and gathered parts."""

    set: str
    group: str
    row: dict
    parts: list[Part]
    weight: float
    index: object  # the loaded index the parts refer to


def parse_set(spec: str) -> tuple[str, Path, Path]:
    name, _, rest = spec.partition("=")
    questions, _, corpus = rest.partition(":")
    if not (name and questions and corpus):
        raise UsageError(f"--set wants NAME=QUESTIONS.jsonl:CORPUS_DIR, got '{spec}'")
    return name, Path(questions), Path(corpus)


def _hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def gather_set(name: str, questions: Path, corpus: Path, work: Path, log) -> list[Item]:
    import qa
    from qa.evaluate import load_questions

    rows = load_questions(questions)
    # One index per corpus folder, reused by every set on it and by the next run.
    where = work / f"{corpus.resolve().name}-{hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:8]}"
    report = qa.build_index(corpus, where)
    log(f"  {name}: {report['summary']}")
    index = qa.load_index(where)
    weight = math.sqrt(len(rows)) / len(rows)  # each set weighs as the root of its size
    items, t = [], time.perf_counter()
    for n, row in enumerate(rows, 1):
        parts = [gather(index, q, query) for q, query in queries(row["question"])]
        group = f"{name}:{row.get('doc') or name}"
        items.append(Item(name, group, row, parts, weight, index))
        if n % 500 == 0 or n == len(rows):
            log(f"  {name}: {n}/{len(rows)} questions gathered ({time.perf_counter() - t:.0f} s)")
    return items


def _labels(item: Item) -> np.ndarray:
    from qa.evaluate import contains_gold

    golds = item.row["answers"]
    return np.asarray([contains_gold(c.text, golds) for c in item.parts[0].cands], dtype=np.float64)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each feature; the spread has a floor, so a feature almost constant in the
    training data (a References entry, rare in Wikipedia) cannot take an extreme weight elsewhere."""
    return x.mean(axis=0), np.maximum(x.std(axis=0), SCALE_FLOOR)


def _fit_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> answer_model.Trees:
    """The calibrator: small gradient-boosted trees (they read interactions such as "a how-many question
    whose number is not next to the counted noun"), exported as flat node arrays."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    gb = HistGradientBoostingClassifier(
        max_depth=TREE_DEPTH, max_iter=TREES, learning_rate=0.05, min_samples_leaf=40, random_state=seed
    )
    gb.fit(x, y, sample_weight=w / w.mean())
    trees = [p[0].nodes for p in gb._predictors]
    width = max(len(t) for t in trees)

    def pad(field, dtype, fill=0):
        out = np.full((len(trees), width), fill, dtype=dtype)
        for i, t in enumerate(trees):
            out[i, : len(t)] = t[field]
        return out

    return answer_model.Trees(
        pad("feature_idx", np.int64),
        pad("num_threshold", np.float64),
        pad("left", np.int64),
        pad("right", np.int64),
        pad("is_leaf", bool, True),
        pad("value", np.float64),
        float(np.ravel(gb._baseline_prediction)[0]),
        TREE_DEPTH + 1,
    )


def _fit_choice(x: np.ndarray, y: np.ndarray, starts: np.ndarray, wq: np.ndarray) -> answer_model.Linear:
    """The scorer: a softmax over each question's candidates (rows starts[q]..starts[q+1]) fitted so that
    the candidates holding the answer get the probability, L2-regularised (conditional logit)."""
    from scipy.optimize import minimize

    mean, scale = _standardise(x)
    xs = ((x - mean) / scale).astype(np.float64)
    qid = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(x))))
    wq = wq / wq.mean()
    pos = y > 0

    def lse(z):
        m = np.maximum.reduceat(z, starts)
        s = np.add.reduceat(np.exp(z - m[qid]), starts)
        return m + np.log(s)

    def loss(w):
        z = xs @ w
        zp = np.where(pos, z, -np.inf)
        all_, pos_ = lse(z), lse(zp)
        p_all = np.exp(z - all_[qid])
        p_pos = np.where(pos, np.exp(zp - pos_[qid]), 0.0)
        value = float(wq @ (all_ - pos_)) + 0.5 / C * float(w @ w)
        grad = xs.T @ (wq[qid] * (p_all - p_pos)) + w / C
        return value, grad

    w = minimize(loss, np.zeros(xs.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return answer_model.Linear(mean, scale, w, 0.0, "softmax")


Choices = dict[int, tuple[np.ndarray, np.ndarray]]  # question number → its candidates' rows and labels


def _choices(items: list[Item]) -> Choices:
    """Per answerable question whose answer is among its candidates: their feature rows and labels (the
    others teach nothing about choosing). Computed once, for every fold."""
    out = {}
    for i, it in enumerate(items):
        if it.row["answers"] and it.parts[0].cands:
            y = _labels(it)
            if y.any():
                out[i] = (np.stack([c.x for c in it.parts[0].cands]), y)
    return out


def _scorer(choices: Choices, items: list[Item], keep) -> answer_model.Linear:
    """The scorer fitted on the questions ``keep`` selects."""
    picked = [(i, x, y) for i, (x, y) in choices.items() if keep(items[i])]
    starts = np.cumsum([0] + [len(y) for _, _, y in picked[:-1]])
    return _fit_choice(
        np.concatenate([x for _, x, _ in picked]),
        np.concatenate([y for _, _, y in picked]),
        starts,
        np.asarray([items[i].weight for i, _, _ in picked]),
    )


class _Fixed:
    """A scorer alone, as a model that answers every question (no calibrator yet, threshold 0)."""

    threshold = 0.0

    def __init__(self, scorer) -> None:
        self.scorer = scorer

    def score(self, x):
        return self.scorer.probability(x)

    def confidence(self, row):
        return 1.0


def _answer(item: Item, model) -> tuple[np.ndarray | None, bool]:
    """Rank with ``model``, answer, and return (calibration row, right?)."""
    from qa.evaluate import contains_gold

    ranked = [rank(item.index, p, model) for p in item.parts]
    ans = finish(item.index, item.row["question"], ranked, model, 8)
    first = ranked[0]
    row = None
    if first.best is not None:
        second = first.cands[1].score if len(first.cands) > 1 else 0.0
        row = calibration_row(first.q, first.best.x, first.best.score, second)
    golds = item.row["answers"]
    right = bool(golds) and ans.answered and contains_gold(ans.answer, golds)
    return row, right


def _threshold(items, conf: np.ndarray, target: float) -> float:
    """The highest threshold at which the answerable questions abstained, averaged over the sets, stay
    within the target."""
    sets = sorted({it.set for it in items})
    by_set = {
        s: np.sort(
            np.asarray([c for it, c in zip(items, conf, strict=True) if it.set == s and it.row["answers"]])
        )
        for s in sets
    }
    best = 0.0
    for t in np.unique(conf):
        rates = [np.searchsorted(v, t, side="left") / len(v) for v in by_set.values() if len(v)]
        if rates and np.mean(rates) <= target:
            best = float(t)
    return best


def _figures(items, conf, right, threshold) -> dict:
    out = {}
    for s in sorted({it.set for it in items}) + ["pooled"]:
        sel = [i for i, it in enumerate(items) if s == "pooled" or it.set == s]
        ans = [i for i in sel if items[i].row["answers"]]
        una = [i for i in sel if not items[i].row["answers"]]
        keep = [i for i in ans if conf[i] >= threshold]
        out[s] = {
            "questions": len(sel),
            "answer_accuracy": round(sum(right[i] for i in keep) / max(1, len(ans)), 4),
            "accuracy_without_abstention": round(sum(right[i] for i in ans) / max(1, len(ans)), 4),
            "false_abstention_rate": round(1 - len(keep) / max(1, len(ans)), 4),
            "abstention_recall": round(sum(conf[i] < threshold for i in una) / len(una), 4) if una else None,
            "ece": round(calibration_error(conf[sel], right[sel]), 4),
        }
    return out


def train(
    sets: list[str] | None = None,
    work: Path = Path("index/train"),
    out: Path = answer_model.DEFAULT,
    seed: int = 0,
    target: float = 0.05,
    log=None,
) -> dict:
    log = log or (lambda m: print(m, file=sys.stderr))
    specs = [parse_set(s) for s in (sets or DEFAULT_SETS)]
    for name, questions, corpus in specs:
        if not questions.is_file() or not corpus.is_dir():
            raise UsageError(f"set '{name}': {questions} or {corpus} not found")
    work.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    for name, questions, corpus in specs:
        log(f"gathering {name} ({questions}, corpus {corpus})")
        items += gather_set(name, questions, corpus, work, log)
    groups = sorted({it.group for it in items})
    log(f"{len(items)} questions in {len(groups)} document groups; fitting held out by group")
    # 1. Held-out scorer per group → every question answered by a scorer that never saw its document.
    choices = _choices(items)
    cal_rows, rights = [None] * len(items), np.zeros(len(items))
    for g in groups:
        scorer = _scorer(choices, items, lambda it, g=g: it.group != g)
        for i, it in enumerate(items):
            if it.group == g:
                cal_rows[i], rights[i] = _answer(it, _Fixed(scorer))
    # 2. Held-out calibrator per group.
    width = len(answer_model.CALIBRATION)
    cx = np.stack([r if r is not None else np.zeros(width, dtype=np.float32) for r in cal_rows])
    cw = np.asarray([it.weight for it in items])
    conf = np.zeros(len(items))
    for g in groups:
        train_i = [i for i, it in enumerate(items) if it.group != g]
        cal = _fit_trees(cx[train_i], rights[train_i], cw[train_i], seed)
        for i, it in enumerate(items):
            if it.group == g:
                conf[i] = 0.0 if cal_rows[i] is None else float(cal.probability(cx[i])[0])
    threshold = _threshold(items, conf, target)
    heldout = _figures(items, conf, rights, threshold)
    heldout["threshold_target"] = {"answerables_abstained_mean_over_sets": target}
    # 3. Refit both on everything.
    scorer = _scorer(choices, items, lambda it: True)
    calibrator = _fit_trees(cx, rights, cw, seed)
    training = {
        "sets": {name: {"questions": str(q), "corpus": str(c)} for name, q, c in specs},
        "data_sha256": _hash([p for _, q, c in specs for p in (q, c)]),
        "seed": seed,
        "groups": len(groups),
        "questions": len(items),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    answer_model.save(Path(out), scorer, calibrator, threshold, training, heldout)
    return {"model": str(out), "threshold": threshold, "heldout": heldout, "training": training}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fit the answer model on question sets (held out by document) and write model.json",
        description="Fit the answer scorer and calibrator. Each --set is NAME=QUESTIONS.jsonl:CORPUS_DIR "
        "(JSON lines {question, answers, doc?}); the default is the repo's eval/ sets.",
    )
    p.add_argument("--set", action="append", dest="sets", metavar="NAME=QUESTIONS:CORPUS")
    p.add_argument("--work", default="index/train", help="where the sets' indexes are built (reused)")
    p.add_argument("--out", default=str(answer_model.DEFAULT), help="the model file to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=0.05, help="answerable questions abstained (held out)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    result = train(args.sets, Path(args.work), Path(args.out), seed=args.seed, target=args.target)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"wrote {result['model']} (threshold {result['threshold']:.3f})")
    print("held out by document: set, accuracy, answerables abstained, unanswerables abstained, ECE")
    for name, f in result["heldout"].items():
        if "questions" in f:
            print(
                f"  {name:10} {f['answer_accuracy']:.3f}  {f['false_abstention_rate']:.3f}  "
                f"{f['abstention_recall'] if f['abstention_recall'] is not None else '-'}  {f['ece']:.3f}"
            )
    return 0
