"""Near-miss questions for training the calibrator, made from answerable ones: a number the question pins
down changed to one the documents never give, or a name swapped for a name that another document's
questions use and the retrieved passages never mention. Unanswerable by construction (the recipe of SQuAD
2.0's crowd-written near misses, done mechanically): they show the calibrator what a missing pinned detail
looks like, which the few written near misses of the dev sets cannot teach alone."""

from __future__ import annotations

import random
import re

from qa.answer.candidates import chunk_terms, stats
from qa.answer.text import WORD, is_stop, norm_num, stem

SHARE = 0.2  # of the answerable questions of each set
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w.]*\d)")


def _new_number(text: str, df: dict) -> str | None:
    for m in _NUMBER.finditer(text):
        value = m.group(0).replace(",", "")
        if not value.isdigit():
            continue
        v = int(value)
        steps = (7, -9, 13, -17, 23) if 1500 <= v <= 2100 else (v * 2 + 7, v * 3 + 11, v + 97)
        for s in steps:
            new = str(v + s if 1500 <= v <= 2100 else s)
            if new not in df and norm_num(new) not in df:
                return text[: m.start()] + new + text[m.end() :]
    return None


def _names(text: str) -> list[tuple[int, int, str]]:
    out = []
    for i, m in enumerate(WORD.finditer(text)):
        w = m.group(0)
        if i and w[0].isupper() and not w.isupper() and not is_stop(w) and len(w) > 3:
            out.append((m.start(), m.end(), w))
    return out


def near_misses(items: list, rng: random.Random) -> list[dict]:
    """Question rows (``answers`` empty, ``near_miss`` true) made from a share of the answerable items."""
    answerable = [it for it in items if it.row["answers"] and it.parts[0].hits]
    pool: dict[str, list[str]] = {}
    for it in answerable:
        pool.setdefault(it.group, []).extend(w for _, _, w in _names(it.row["question"]))
    out = []
    for it in rng.sample(answerable, int(len(answerable) * SHARE)):
        text = it.row["question"]
        made = _new_number(text, stats(it.index).df)
        if made is None:
            seen = frozenset().union(*(chunk_terms(it.index, h.chunk) for h in it.parts[0].hits))
            others = [w for g, ws in pool.items() if g != it.group for w in ws if stem(w) not in seen]
            names = _names(text)
            if not names or not others:
                continue
            a, b, _ = rng.choice(names)
            made = text[:a] + rng.choice(others) + text[b:]
        out.append(
            {**it.row, "id": f"{it.row['id']}~near-miss", "question": made, "answers": [], "near_miss": True}
        )
    return out
