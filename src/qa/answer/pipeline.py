"""The answer step end to end: question → hits → candidate units scored by the learned model → the chosen
quotes, or an abstention when the calibrated probability that they answer is below the model's threshold."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qa.answer import across
from qa.answer import model as answer_model
from qa.answer.candidates import Cand, candidates, neighbours, retrieved_terms, unit_vectors, units
from qa.answer.compose import abstain, compose, related, select
from qa.answer.evidence import MESSAGE as EVIDENCE
from qa.answer.evidence import evidence
from qa.answer.features import calibration_row, matrix, typed_spans
from qa.answer.followup import contextualise
from qa.answer.question import Question, parse_question, split_parts, validate
from qa.answer.text import matches, names
from qa.records import Answer, Hit

CANDIDATE_HITS = 8
_STRICT = ("date", "quantity")  # answered only by a quote holding the date or amount, or its neighbour


@dataclass
class Part:
    """One question (or one part of a two-part question) worked through to its best candidates."""

    q: Question
    hits: list[Hit]
    cands: list[Cand]  # by the model's score, best first
    confidence: float = 0.0
    unsupported: bool = False  # nothing in the retrieved passages to quote for it (see _unsupported)

    @property
    def best(self) -> Cand | None:
        return self.cands[0] if self.cands else None


def _holds(index, q: Question, cand: Cand) -> bool:
    return any(typed_spans(q, u) for u in (cand.unit, *neighbours(index, cand)) if u is not None)


def _unsupported(index, part: Part) -> bool:
    """Nothing to quote: no word of the question is in any retrieved passage (a question about something the
    documents never mention), or a number or year it pins down is in none of them ("the 12,000 crore
    investment" where the documents give 10,500)."""
    seen = retrieved_terms(index, part.cands)
    if part.q.terms and not any(matches(t, seen) for t in part.q.terms):
        return True
    return any(n not in seen for n in part.q.numbers)


def gather(index, q: Question, query: str, docs=None, k: int = 8, retriever: str = "hybrid") -> Part:
    """Retrieve and build the candidates with their feature rows (not yet scored)."""
    from qa.retrieve import search

    qvec = index.embed_query(query)
    pool = search(index, query, k=max(k, CANDIDATE_HITS), docs=docs, retriever=retriever, qvec=qvec)
    cands = candidates(index, pool)
    if cands:
        sims = unit_vectors(index, cands) @ qvec
        for cand, row in zip(cands, matrix(index, q, cands, sims), strict=True):
            cand.x = row
    return Part(q, pool[:k], cands)


def rank(index, part: Part, model) -> Part:
    """Score the candidates with the model, best first, and calibrate the best one's probability of being
    right. A date or amount question keeps only candidates that hold one (or whose neighbour does)."""
    if not part.cands:
        return part
    scores = model.score(np.stack([c.x for c in part.cands]))
    for cand, s in zip(part.cands, scores, strict=True):
        cand.score = float(s)
    ranked = sorted(part.cands, key=lambda c: -c.score)
    kept = [c for c in ranked if _holds(index, part.q, c)] if part.q.kind in _STRICT else ranked
    unsupported = _unsupported(index, part)
    if not kept or unsupported:
        return Part(part.q, part.hits, ranked, 0.0, unsupported)
    second = kept[1].score if len(kept) > 1 else 0.0
    conf = model.confidence(calibration_row(part.q, kept[0].x, kept[0].score, second))
    return Part(part.q, part.hits, kept, conf)


def _cited_entries(index, part: Part) -> list[Cand] | None:
    """For a question about what a document cites: the References entries the leading claim cites."""
    entries = index.__dict__.get("_reference_chunks")
    if entries is None:
        entries = index._reference_chunks = {
            key: c for c in index.chunks if c.kind == "reference" for key in c.refs
        }
    for cand in part.cands[:6]:
        c = cand.hit.chunk
        if c.kind == "reference":
            continue
        keys = [r["key"] for r in index.references_for(c, cand.start, cand.end) if r["key"] in entries]
        if keys:
            quoted = [entries[k] for k in dict.fromkeys(keys)][:3]
            return [cand] + [
                Cand(Hit(chunk=e, score=cand.score, rank=0), 0, units(index, e)[0], cand.score)
                for e in quoted
            ]
    return None


def queries(text: str) -> list[tuple[Question, str]]:
    """The question's parts, each with what to search for: a later part borrows the names of the first
    ("Where will the plant be built and how much will it cost?")."""
    texts = split_parts(text)
    out = []
    for i, part in enumerate(texts):
        q = parse_question(part)
        extra = [w for w in names(texts[0]) if w not in q.names] if i else []
        out.append((q, f"{part} {' '.join(extra)}".strip()))
    return out


def finish(index, question: str, parts: list[Part], model, k: int, message: str = "") -> Answer:
    """The answer from the ranked parts: every part whose calibrated probability reaches the threshold is
    quoted; none → abstention with the closest passages."""
    hits = list({h.chunk.id: h for p in parts for h in p.hits}.values())[: max(k, len(parts[0].hits))]
    answered = [p for p in parts if p.best is not None and p.confidence >= model.threshold]
    if not answered:
        first = parts[0]
        found = [] if first.unsupported else evidence(index, first.q, first.cands)
        if found:
            shown = compose(index, [(first.q, found)], question, first.confidence, hits, EVIDENCE)
            return replace(shown, kind="evidence")
        return abstain(question, first.confidence, first.hits, related(index, first.cands), message)
    conf = min(p.confidence for p in answered)
    if len(answered) < len(parts):
        missing = " ".join(p.q.text for p in parts if p not in answered)
        message = f"{message} Not answered by the documents: {missing}".strip()
    first = answered[0]
    if len(parts) == 1 and first.q.about_sources:
        cited = _cited_entries(index, first)
        if cited:
            note = f"The document cites these for: \u201c{cited[0].text}\u201d"
            return compose(index, [(first.q, cited[1:])], question, conf, hits, f"{message} {note}".strip())
    chosen = [(p.q, select(index, p.q, p.best, p.cands)) for p in answered]
    return compose(index, chosen, question, conf, hits, message)


def ask(
    index, question: str, history=None, docs=None, k: int = 8, retriever: str = "hybrid", model=None
) -> Answer:
    """Answer with verbatim cited sentences, or abstain with related reading."""
    model = model or answer_model.load()
    question = validate(question)
    effective = contextualise(question, history)
    message = "" if effective == question else f"Understood as: {effective}"
    cross = across.plan(index, effective, docs)
    if cross is not None:

        def solve(q: Question, query: str, within: list[str]) -> Part:
            return rank(index, gather(index, q, query, docs=within, k=k, retriever=retriever), model)

        answered = across.answer(index, question, cross, solve, model.threshold, message)
        if answered is not None:
            return answered
    parts = [
        rank(index, gather(index, q, query, docs=docs, k=k, retriever=retriever), model)
        for q, query in queries(effective)
    ]
    return finish(index, question, parts, model, k, message)
