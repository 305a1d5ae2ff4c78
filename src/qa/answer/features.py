"""Features of a candidate unit for a question: similarity, coverage of what the question pins down, whether
the unit states the asked attribute (a date, an amount, a name, an expansion) next to the asked terms, and
whether it only restates the question. The learned model weighs them; nothing here is tuned by hand."""

from __future__ import annotations

import math
import re

import numpy as np

from qa.answer.candidates import Cand, Unit, chunk_terms, neighbours, retrieved_terms, stats
from qa.answer.question import KINDS, Question
from qa.answer.text import matches, norm_num

_SMALL = {"of", "and", "for", "the", "on", "in", "&", "to", "de", "du", "a"}
_TOKEN = re.compile(r"[A-Za-z0-9][\w'’]*")
_DEFINITION = re.compile(
    r"\b(?:is|are|was|were) (?:an?|the|one)\b|\brefers? to\b|\bmeans?\b|\bdefined as\b|\bknown as\b|"
    r"\b(?:is|are) called\b|\bdescribes?\b",
    re.I,
)
_REASON = re.compile(
    r"\b(?:because|due to|since|as a result|in order to|so that|so as to|owing to|thanks to|reasons?|"
    r"aim(?:s|ed)? to|"
    r"to (?:help|ensure|enable|promote|address|improve|support|boost|reduce|avoid|prevent))\b",
    re.I,
)
TYPED = ("date", "quantity", "entity", "place", "acronym", "reason", "definition", "list")
BASE = (
    "dense",
    "dense_top",
    "hit_rrank",
    "hit_dense",
    "hit_lexical",
    "own",
    "own_local",
    "near",
    "passage",
    "names_missing",
    "numbers_missing",
    "attrs_missing_own",
    "attrs_missing_near",
    "names_missing_count",
    "attrs_missing_passage_count",
    "count_attached",
    "novelty",
    "restates",
    "bigrams",
    "length",
    "footnote",
    "reference",
    "compact",
    "absent",
    "leadin",
    "list_item",
    "first",
    "negation_mismatch",
    "has_date",
    "has_new_number",
    "new_names",
    "type_near",
    "type_missing",
    *(f"type_{k}" for k in TYPED),
    *(f"kind_{k}" for k in KINDS),
)
# Each of these also as its distance below the best candidate's value: the choice is among the candidates of
# one question, and the scales of similarity and overlap shift from one collection of documents to another.
RELATIVE = ("dense", "own", "own_local", "near", "passage", "bigrams", "type_near", "hit_dense")
FEATURES = BASE + tuple(f"{n}_below_best" for n in RELATIVE)
CALIBRATION = ("logit_best", "logit_second", "gap", "question_terms", *FEATURES)


def expansion(acronym: str, text: str) -> tuple[int, int] | None:
    """The span of words whose initials spell the acronym ("Innovative Optical and Wireless Network" for
    IOWN), small joining words allowed inside; None when the text holds none."""
    letters = [ch.lower() for ch in acronym if ch.isalpha()]
    if len(letters) < 2:
        return None
    toks = list(_TOKEN.finditer(text))
    for i, first in enumerate(toks):
        if first.group(0).lower()[0] != letters[0] or first.group(0) == acronym:
            continue
        k, last, capital = 0, None, True
        for tok in toks[i:]:
            if last is not None and text[last.end() : tok.start()].strip(" -"):
                break  # a run of words does not cross punctuation
            w = tok.group(0)
            run = w.lower()
            if w.isupper() and len(w) > 1 and "".join(letters[k : k + len(run)]) == run:
                k += len(run)  # a word in capitals covers its letters ("AI" in "AI Bridging Cloud ...")
            elif run[0] == letters[k]:
                k += 1
                capital = capital and w[0].isupper()
            elif run not in _SMALL:
                break
            last = tok
            if k == len(letters):
                break
        if k < len(letters) or last is None or last is first:
            continue
        # Words in lower case count only beside the acronym itself: "artificial intelligence (AI)".
        if (
            capital
            or acronym in text[max(0, first.start() - 3 - len(acronym)) : last.end() + 3 + len(acronym)]
        ):
            return first.start(), last.end()
    return None


def _related(index, term: str) -> frozenset:
    """The words of the index that ``text.matches`` pairs with a term (India/Indian), found once per index
    through their first four letters."""
    cache = index.__dict__.setdefault("_answer_related", {})
    found = cache.get(term)
    if found is None:
        by_prefix = index.__dict__.get("_answer_prefixes")
        if by_prefix is None:
            by_prefix = index._answer_prefixes = {}
            for w in stats(index).df:
                if len(w) >= 4 and not w[0].isdigit():
                    by_prefix.setdefault(w[:4], []).append(w)
        found = cache[term] = frozenset(w for w in by_prefix.get(term[:4], ()) if matches(term, {w}))
    return found


class _Question:
    """What every candidate of one question is compared with, computed once."""

    def __init__(self, index, q: Question, cands: list[Cand]) -> None:
        st = stats(index)
        self.terms = set(q.terms)
        self.names = set(q.names)
        self.numbers = set(q.numbers)
        self.attrs = q.attrs
        self.idf = {t: st.idf(t) for t in q.terms}
        n = len(cands)
        local = {t: sum(1 for c in cands if t in c.unit.own) for t in q.terms}
        self.local = {
            t: self.idf[t] * math.log(1 + n / (1 + local[t])) * (0.7 if t in self.names else 1.0)
            for t in q.terms
        }
        self.bigrams = list(zip(q.terms, q.terms[1:], strict=False))
        self.related = {t: _related(index, t) for t in (*q.terms, *q.names)}
        self.kind = np.array([q.kind == k for k in KINDS], dtype=np.float32)

    def match(self, term: str, pool) -> bool:
        """``text.matches`` through the index's vocabulary: the term or a word with a short ending."""
        return term in pool or not self.related[term].isdisjoint(pool)

    def overlap(self, pool, weights: dict[str, float]) -> float:
        total = sum(weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in weights.items() if self.match(t, pool)) / total


def quantities(unit: Unit) -> list[tuple[int, int]]:
    """The unit's amounts and counts that are not inside one of its dates."""
    return [(a, b) for a, b in unit.amounts if not any(c <= a and b <= d for c, d in unit.dates)]


def typed_spans(q: Question, unit: Unit) -> list[tuple[int, int]]:
    """Where the unit holds the kind of thing the question asks for (a date, a new amount or name, the
    acronym's expansion, a reason, a definition, a list long enough); [] for other kinds."""
    if q.kind == "date":
        return list(unit.dates)
    if q.kind == "quantity":  # an amount or count, not a year or date ("in May 2021" is no "how many")
        return [(a, b) for a, b in quantities(unit) if norm_num(unit.text[a:b]) not in q.numbers]
    if q.kind in ("entity", "place"):
        return [(a, b) for t, a, b in unit.caps if t not in q.terms]
    if q.kind == "acronym":
        span = expansion(q.acronym, unit.text)
        return [span] if span else []
    if q.kind == "reason":
        return [m.span() for m in _REASON.finditer(unit.text)]
    if q.kind == "definition":
        return [m.span() for m in _DEFINITION.finditer(unit.text)]
    if q.kind == "list":
        items = unit.text.count(",") + unit.text.count(" and ") + 1
        return [(0, len(unit.text))] if unit.leadin or items >= max(2, q.count) else []
    return []


def distance(q: Question, unit: Unit, span: tuple[int, int]) -> float:
    """Characters between a span and the nearest of the question's own words in the unit (inf: none)."""
    a, b = span
    at = [o for t, o in unit.terms if t in q.terms and not a <= o < b]
    return min((a - o if o < a else max(0, o - b) for o in at), default=math.inf)


def _nearness(q: Question, unit: Unit, spans: list[tuple[int, int]]) -> float:
    """How close the asked attribute sits to the question's own words in the unit (1 = adjacent)."""
    d = min((distance(q, unit, s) for s in spans), default=math.inf)
    return 1.0 / (1.0 + d / 40.0)


def _attached(q: Question, unit: Unit) -> float:
    """For "how many X": 1 when a number stands a few words before X ("25,000 GPUs")."""
    if not q.counted:
        return 0.0
    at = [o for t, o in unit.terms if t == q.counted]
    return float(any(0 <= o - b <= 30 for a, b in quantities(unit) for o in at))


def _compactness(fq: _Question, own_terms: list[str]) -> float:
    """How tightly the question's words sit together in the unit: distinct matched terms over the shortest
    run of the unit's terms holding them all (1 = side by side, as in "the Council will offer")."""
    at = [(i, t) for i, t in enumerate(own_terms) if t in fq.terms]
    wanted = {t for _, t in at}
    if len(wanted) < 2:
        return 0.0
    best, counts, lo = len(own_terms), {}, 0
    for i, t in at:
        counts[t] = counts.get(t, 0) + 1
        while len(counts) == len(wanted):
            best = min(best, i - at[lo][0] + 1)
            first = at[lo][1]
            counts[first] -= 1
            if not counts[first]:
                del counts[first]
            lo += 1
    return len(wanted) / best


def matrix(index, q: Question, cands: list[Cand], sims: np.ndarray) -> np.ndarray:
    """One row of FEATURES per candidate."""
    fq = _Question(index, q, cands)
    top = float(sims.max()) if len(sims) else 0.0
    # What of the question no retrieved passage holds at all (a swapped name, a word the text never uses).
    absent = 1.0 - fq.overlap(retrieved_terms(index, cands), fq.idf)
    spans_of: dict[int, list[tuple[int, int]]] = {}  # each unit is a candidate and two neighbours

    def spans(unit: Unit | None) -> list[tuple[int, int]]:
        if unit is None:
            return []
        if id(unit) not in spans_of:
            spans_of[id(unit)] = typed_spans(q, unit)
        return spans_of[id(unit)]

    rows = np.zeros((len(cands), len(FEATURES)), dtype=np.float32)
    for i, (cand, sim) in enumerate(zip(cands, sims, strict=True)):
        u, c = cand.unit, cand.hit.chunk
        prev, nxt = neighbours(index, cand)
        near = set(u.own)
        for nb in (prev, nxt):
            if nb is not None:
                near |= nb.own
        passage = near | chunk_terms(index, c)
        own_terms = [t for t, _ in u.terms]
        novel = sum(1 for t in own_terms if t not in fq.terms) / max(1, len(own_terms))
        own = fq.overlap(u.own, fq.idf)
        present = {(a, b) for a, b in zip(own_terms, own_terms[1:], strict=False)}
        held = spans(u)
        near_typed = bool(held or spans(prev) or spans(nxt))
        attrs_own = [t for t in fq.attrs if not fq.match(t, u.own)]
        names_gone = sum(1 for t in fq.names if not fq.match(t, passage))
        attrs_gone = sum(1 for t in fq.attrs if not fq.match(t, passage))
        values = [
            float(sim),
            float(sim >= top),
            1.0 / cand.hit.rank if cand.hit.rank else 1.0,
            float(cand.hit.dense or 0.0),
            float(cand.hit.lexical is not None),
            own,
            fq.overlap(u.own, fq.local),
            fq.overlap(near, fq.local),
            fq.overlap(passage, fq.idf),
            names_gone / max(1, len(fq.names)),
            min(2, sum(1 for t in fq.numbers if t not in near)) / 2,
            len(attrs_own) / max(1, len(fq.attrs)),
            sum(1 for t in attrs_own if not fq.match(t, near)) / max(1, len(fq.attrs)),
            min(3, names_gone) / 3,
            min(3, attrs_gone) / 3,
            _attached(q, u),
            novel,
            own * (1.0 - novel),
            sum(1 for b in fq.bigrams if b in present) / max(1, len(fq.bigrams)),
            math.log1p(len(u.text)) / 6.0,
            float(u.footnote),
            float(c.kind == "reference" and not q.about_sources),
            _compactness(fq, own_terms),
            absent,
            float(u.leadin),
            float(u.bullet or (prev is not None and prev.leadin)),
            float(cand.pos == 0),
            float(u.negated != q.negated),
            float(bool(u.dates)),
            float(any(norm_num(u.text[a:b]) not in fq.numbers for a, b in u.amounts)),
            min(3, sum(1 for t, _, _ in u.caps if t not in fq.terms)) / 3,
            _nearness(q, u, held),
            float(q.kind in TYPED and not near_typed),
            *(float(q.kind == k and bool(held)) for k in TYPED),
        ]
        rows[i, : len(values)] = values
        rows[i, len(values) : len(BASE)] = fq.kind
    if len(cands):
        cols = [BASE.index(n) for n in RELATIVE]
        rows[:, len(BASE) :] = rows[:, cols] - rows[:, cols].max(axis=0)
    return rows


def calibration_row(q: Question, x_best: np.ndarray, p_best: float, p_second: float) -> np.ndarray:
    """What the calibrator reads: the chosen unit's features, its probability and its margin over the next."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-4), 1 - 1e-4)
        return math.log(p / (1 - p))

    head = [logit(p_best), logit(p_second), p_best - p_second, min(len(q.terms), 20) / 10]
    return np.concatenate([np.asarray(head, dtype=np.float32), x_best])
