"""Follow-up questions read in the context of the conversation ("And in 2023-2024?", "What about Japan?").

A question is rewritten from the previous one only when it lacks its own subject: a fragment, after a
connector or alone ("And in 2023?", "What about Japan?", "The robotics programme?"), or a pronoun that
nothing earlier in the question can refer to ("When was it founded?"). The rewrite swaps one phrase of the
previous question for one of the same grammatical kind — a date for a date, a name for a name of the same
shape, a noun phrase for a prepositional object, the previous subject for a pronoun — and is kept only when
the result still asks the kind of question the previous one asked ("What does IOWN stand for?" takes an
acronym, not "Japan's pledged investment"). Anything else stands alone, unchanged: what is shown as
"Understood as" is always a grammatical question built by such a swap.
"""

from __future__ import annotations

import re

from qa.answer.question import classify
from qa.answer.text import DATE, is_stop, stem, terms

_CONJ = r"(?:and|also|but|so|then|plus|ok(?:ay)?|now)"
_ABOUT = r"(?:what|how)\s+about|what\s+of|as\s+for|same\s+(?:question\s+)?for"
_CONNECTOR = re.compile(rf"^(?:{_CONJ}\b[\s,]*)+(?:(?:{_ABOUT})\b\s*)?|^(?:{_ABOUT})\b\s*", re.I)
# A question of its own: a question word, an auxiliary (yes/no) or an imperative at the start.
_OPENER = re.compile(
    r"^(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|has|have|"
    r"had|will|would|should|shall|may|must|list|name|give|tell|show|describe|explain|define|compare|"
    r"summari[sz]e)\b",
    re.I,
)
_PREP = r"about|on|regarding|concerning|for|to|in|into|with|towards?|of|from|by|at"
_LEAD_PREP = re.compile(rf"^({_PREP}|during|since)\s+", re.I)
_WORD = r"[\w&'’.\-]+"
NAME_WORD = r"\b(?:[A-Z]|[a-z]+[A-Z])[\w&.\-]*"  # Japan, IndiaAI, NM-ICPS, iCET (from a word start)
_NAME_RUN = re.compile(rf"{NAME_WORD}(?:\s+(?:(?:of|and|for|on|the|de|&)\s+)*{NAME_WORD})*")
# A prepositional object: from the preposition to the next preposition, conjunction or the end.
_END = rf"(?:{_PREP}|and|or|than|as)\b"
_PP = re.compile(
    rf"\b({_PREP})\s+((?!{_END}){_WORD}(?:\s+(?!{_END}){_WORD})*)(?=\s*(?:[?.!,;]|$|\s{_END}))", re.I
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her|this|that|these|those)\b", re.I)
_POSSESSIVE_PRONOUNS = {"its", "their", "his"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
# After a demonstrative, what makes it a pronoun ("What does that mean?") rather than a determiner.
_VERBISH = re.compile(
    r"^\s*(?:[?.!,]|$|(?:is|was|are|were|'s|does|do|did|has|have|had|will|would|can|could|should|may|"
    r"might|mean|means|include|includes|cost|costs)\b)",
    re.I,
)
# "Is it true that ...", "why is it important to invest ...": an "it" that stands for what follows.
_EXPLETIVE_IT = re.compile(
    r"\b(?:(?:is|was|isn't|wasn't)\s+(?P<a>it)|(?P<b>it)\s+(?:is|was|'s))\s+\w+\s+"
    r"(?:that|to\s+(?!(?:the|an?|its|their)\b)(?-i:[a-z]))",
    re.I,
)
_COPULA = re.compile(r"^(?:what|who|which)\s+(?:is|are|was|were)\s+(.+?)\s*\?*$", re.I)


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
    """The question as it reads after the previous one (itself read in the context of the turns before
    it); the question unchanged when it has its own subject or no swap fits."""
    previous = history_questions(history)
    if not previous:
        return question
    prev = contextualise(previous[-1], previous[:-1]).strip()
    q = question.strip()
    m = _CONNECTOR.match(q)
    rest = q[m.end() :] if m else q
    rest = rest.strip(" ?.!,")
    if not rest:
        return question
    if _OPENER.match(rest):
        resolved = _resolve_pronouns(rest, prev)
        return _sentence(resolved) if resolved else question
    if not m and len(rest.split()) > 3:
        return question  # a keyword query, not a fragment of a question
    filled = _fill(rest, prev)
    return filled if filled and classify(filled) == classify(prev) else question


def _sentence(text: str) -> str:
    text = text.strip().rstrip("?.! ")
    return text[:1].upper() + text[1:] + "?"


def _replace(text: str, start: int, end: int, new: str) -> str:
    return _sentence(text[:start] + new + text[end:])


def _fill(fragment: str, prev: str) -> str | None:
    """The previous question with the fragment swapped into the slot of its kind, or None."""
    if _PRONOUN.fullmatch(fragment):
        return prev if _antecedent(prev) else None  # "What about it?": the same question again
    prep, bare = "", fragment
    if lead := _LEAD_PREP.match(fragment):
        prep, bare = lead.group(1).lower(), fragment[lead.end() :]
    if DATE.fullmatch(bare):
        dates = list(DATE.finditer(prev))
        if dates:
            return _replace(prev, dates[0].start(), dates[0].end(), bare)
        return _sentence(f"{prev.rstrip('?.! ')} {prep or 'in'} {bare}")
    if owner := re.fullmatch(rf"({_NAME_RUN.pattern})['’]s?", bare):
        old = next((m for m in _NAME_RUN.finditer(prev) if re.match(r"['’]s?\b", prev[m.end() :])), None)
        return _replace(prev, old.start(), old.end(), owner.group(1)) if old else None
    if re.search(r"['’]s\s+\w", bare):
        return None  # "Japan's pledged investment" names its own subject and what is asked of it
    if _is_name(bare) and not prep:
        slot = _name_slot(prev, bare)
        if slot:
            return _replace(prev, *slot, bare)
    slots = [s for s in _pp_slots(prev) if not prep or s[0] == prep]
    if slots:
        _, start, end = slots[-1]
        return _replace(prev, start, end, bare)
    return None


def _is_name(text: str) -> bool:
    body = re.sub(r"^the\s+", "", text, flags=re.I)
    return bool(_NAME_RUN.fullmatch(body))


def _shape(name: str) -> bool:
    """Written mostly in capitals (an acronym: IOWN, NM-ICPS) rather than as a capitalised word."""
    letters = [ch for ch in name if ch.isalpha()]
    return sum(ch.isupper() for ch in letters) * 2 > len(letters)


def _names(text: str) -> list[tuple[int, int]]:
    """Spans of the names of a question: capitalised runs after its first word, outside dates, with a
    possessive ending left out and a leading "the" taken in."""
    dates = [(d.start(), d.end()) for d in DATE.finditer(text)]
    out = []
    for m in _NAME_RUN.finditer(text):
        a, b = m.start(), m.end()
        if a == 0 or is_stop(m.group(0)) or any(x < b and a < y for x, y in dates):
            continue
        if text[max(0, a - 4) : a].lower() == "the ":
            a -= 4
        out.append((a, b))
    return out


def _name_slot(prev: str, name: str) -> tuple[int, int] | None:
    """The name of the previous question to swap for ``name``: the first of the same shape, else the
    first."""
    spans = _names(prev)
    alike = [s for s in spans if _shape(prev[s[0] : s[1]]) == _shape(name)]
    return (alike or spans or [None])[0]


def _pp_slots(prev: str) -> list[tuple[str, int, int]]:
    """(preposition, start, end) of the previous question's prepositional objects that are not dates."""
    out = []
    for m in _PP.finditer(prev.rstrip("?.! ")):
        obj = m.group(2).strip()
        if obj and not DATE.fullmatch(obj) and terms(obj):
            out.append((m.group(1).lower(), m.start(2), m.start(2) + len(obj)))
    return out


def _antecedent(prev: str) -> str | None:
    """What a pronoun of the next question refers to: the previous question's subject ("What is X?" → X),
    else its first name, else its last prepositional object."""
    m = _COPULA.match(prev)
    if m and not re.search(r"(?:ing|ed)$", m.group(1)) and terms(m.group(1)):
        return m.group(1)
    spans = _names(prev)
    if spans:
        return prev[spans[0][0] : spans[0][1]]
    slots = _pp_slots(prev)
    return prev[slots[-1][1] : slots[-1][2]] if slots else None


def _resolve_pronouns(question: str, prev: str) -> str | None:
    """The question with each pronoun that nothing before it in the question can refer to replaced by the
    previous question's subject; None when there is none such (the question has its own subject)."""
    ant = _antecedent(prev)
    expletive = {e.start("a") if e.group("a") else e.start("b") for e in _EXPLETIVE_IT.finditer(question)}
    out, last, changed = [], 0, False
    for m in _PRONOUN.finditer(question):
        word = m.group(1).lower()
        after = question[m.end() :]
        if not ant or _has_noun_phrase(question[: m.start()]):
            break  # a name or "the X" comes first: the pronoun can refer to it
        if m.start() in expletive:
            continue
        if word in _DEMONSTRATIVES and not _VERBISH.match(after):
            noun = re.match(r"\s+([\w\-]+)", after)
            if not noun or stem(noun.group(1)) not in {stem(w) for w in re.findall(r"[\w\-]+", ant)}:
                continue  # "this year": a determiner of something else
            out.append(question[last : m.start()] + _definite(ant))
            last, changed = m.end() + noun.end(), True
            continue
        possessive = word in _POSSESSIVE_PRONOUNS or (word == "her" and re.match(r"\s+[a-z]", after))
        new = _possessive(ant) if possessive else ant
        out.append(question[last : m.start()] + new)
        last, changed = m.end(), True
    if not changed:
        return None
    return "".join(out) + question[last:]


def _has_noun_phrase(text: str) -> bool:
    """A name, or a content word after an article or possessive, in the text."""
    if _names(text):
        return True
    return any(
        not is_stop(w) for w in re.findall(r"\b(?:the|an?|its|their|his|her|our|my)\s+([\w\-]+)", text, re.I)
    )


def _definite(phrase: str) -> str:
    return phrase if re.match(r"(?:the|an?)\s", phrase, re.I) else f"the {phrase}"


def _possessive(phrase: str) -> str:
    return f"{phrase}'" if phrase.endswith("s") and not phrase.isupper() else f"{phrase}'s"
