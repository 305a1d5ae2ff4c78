"""Follow-up questions read in the context of the conversation ("And in 2023-2024?", "What about Japan?")."""

from __future__ import annotations

import re

from qa.answer.text import WORD, YEAR, is_stop, terms

_FOLLOWUP = re.compile(
    r"^(and|what about|how about|and what about|what of|also|then|same for|and for|and in)\b", re.I
)
_PRONOUN = re.compile(r"\b(it|its|they|their|them|this|that|these|those|there|he|she|his|her)\b", re.I)
_NAME_RUN = re.compile(r"[A-Z][\w&'’.\-]*(?:\s+(?:(?:of|and|for|on|the|in)\s+)*[A-Z][\w&'’.\-]*)*")


def history_questions(history) -> list[str]:
    """Previous user questions from a list of strings, {question: ...} or chat {role, content} messages."""
    out = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                out.append(turn["content"])
            elif isinstance(turn.get("question"), str):
                out.append(turn["question"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [q for q in out if q.strip()]


def contextualise(question: str, history) -> str:
    """Rewrite a short follow-up from the previous question, itself read in the context of the turns
    before it."""
    previous = history_questions(history)
    if not previous:
        return question
    prev = contextualise(previous[-1], previous[:-1])
    q = question.strip()
    short = len(terms(q)) <= 3
    if not (_FOLLOWUP.search(q) or (short and _PRONOUN.search(q)) or len(q.split()) <= 3):
        return question
    rest = _FOLLOWUP.sub("", q).strip(" ?.!,")
    rest = re.sub(r"^(in|for|of|on)\s+", "", rest, flags=re.I)
    new_years = YEAR.findall(rest) or re.findall(r"\d{4}[–-]\d{2,4}", rest)
    if new_years and re.search(r"\d{4}(?:[–-]\d{2,4})?", prev):
        return re.sub(r"\d{4}(?:[–-]\d{2,4})?", rest.strip(), prev, count=1)
    new_names = [w for w in WORD.findall(rest) if w[0].isupper()]
    # The first name after the question word, as a whole run ("Centres of Excellence", "Tokyo Electron").
    old = [m for m in _NAME_RUN.finditer(prev) if m.start() > 0 and not is_stop(m.group(0))]
    if new_names and old:
        return prev[: old[0].start()] + rest + prev[old[0].end() :]
    return f"{prev} {q}"
