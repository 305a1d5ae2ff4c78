"""Words of a text as the answer step compares them: stemmed content terms, numbers, dates, amounts, names."""

from __future__ import annotations

import re

_STOP = set(
    """
a an the of in on at to for from by with and or but if then than as is are was were be been being do does
did doing has have had having it its this that these those there their they them he she his her we our
you your i me my what which who whom whose when where why how much many any some all each other into
about over under between during after before so such not no nor only own same too very can could will
would shall should may might must also just more most per via s t according paper brief document
documents say says said tell besides apart beside whether get got make makes up
""".split()  # noqa: SIM905
)
QWORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
WORD = re.compile(r"(?:19|20)\d\d-(?:19|20)?\d\d\b|[A-Za-z][A-Za-z0-9&'’\-]*|\d[\d,]*(?:\.\d+)?")
_RANGE = re.compile(r"^((?:19|20)\d\d)-((?:19|20)?\d\d)$")
NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)s?\b")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})\.?,?\s+(?:\d{{1,2}},?\s+)?\d{{4}}|(?:{_MONTHS})\s+\d{{4}}|"
    rf"(?:1[5-9]|20)\d\d(?:[–-](?:19|20)?\d\d)?s?)\b",
    re.I,
)
AMOUNT = re.compile(
    r"(?:(?:US)?\$|₹|Rs\.?|INR|USD|¥|€|£)\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:billion|million|trillion|"
    r"crore|lakh|bn|mn|Bn|MW|GW|%))?|\d[\d,]*(?:\.\d+)?\s?(?:%|per ?cent|billion|million|crore|"
    r"lakh|trillion|thousand|hundred|MW|GW|nm|km|units|processors|chips)|\d[\d,]*(?:\.\d+)?|"
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"hundreds?|thousands?|millions?|dozens?)\b",
    re.I,
)
URL = re.compile(r"<?https?://[^\s>]+>?")
NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot|n't)\b|\w+n't\b", re.I)

_STEMMER = None
_IRREGULAR = {
    w: base
    for base, forms in {
        "build": "built",
        "make": "made",
        "lead": "led",
        "run": "ran",
        "grow": "grew grown",
        "begin": "began begun",
        "sell": "sold",
        "buy": "bought",
        "hold": "held",
        "win": "won",
        "spend": "spent",
        "bring": "brought",
        "teach": "taught",
        "know": "known knew",
        "give": "given gave",
        "take": "taken took",
        "show": "shown",
        "choose": "chose chosen",
        "go": "went gone",
        "do": "did done",
        "pay": "paid",
        "send": "sent",
        "meet": "met",
        "find": "found",
        "think": "thought",
        "tell": "told",
        "become": "became",
        "fall": "fell",
        "rise": "rose risen",
        "drive": "drove driven",
        "write": "wrote written",
        "see": "saw seen",
        "sing": "sang sung",
        "leave": "left",
        "speak": "spoke spoken",
    }.items()
    for w in forms.split()
}


def stem(word: str) -> str:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    w = word.lower().replace("’", "'").strip("'-")
    if w.endswith("'s"):
        w = w[:-2]
    return _STEMMER.stemWord(_IRREGULAR.get(w, w))


def is_stop(word: str) -> bool:
    return word.lower() in _STOP


def matches(term: str, pool) -> bool:
    """Exact, or the same word with a short ending (India/Indian, Japan/Japanese): a shared prefix of 4+."""
    if term in pool:
        return True
    if len(term) < 4 or term[0].isdigit():
        return False
    return any(
        len(p) >= 4 and (p.startswith(term) or term.startswith(p)) and abs(len(p) - len(term)) <= 6
        for p in pool
    )


def norm_num(s: str) -> str:
    """ "10,500" → "10500"; a year range "2023-24" → "2023-2024"."""
    m = _RANGE.match(s)
    if m:
        end = m.group(2) if len(m.group(2)) == 4 else m.group(1)[:2] + m.group(2)
        return f"{m.group(1)}-{end}"
    return s.replace(",", "").rstrip(".")


def positioned_terms(text: str) -> list[tuple[str, int]]:
    """Content terms with the character offset where each starts."""
    out = []
    for m in WORD.finditer(text.replace("–", "-")):
        w = m.group(0)
        if w[0].isdigit():
            out.append((norm_num(w), m.start()))
        elif w.lower() not in _STOP and len(w) > 1:
            out.append((stem(w), m.start()))
    return out


def terms(text: str) -> list[str]:
    """Content terms of a text, stemmed; numbers without thousands separators."""
    return [t for t, _ in positioned_terms(text)]


def names(text: str, skip_first: bool = True) -> list[str]:
    """Capitalised words and acronyms (stemmed); a sentence's first word only when all capitals."""
    out = []
    for i, m in enumerate(WORD.finditer(text.replace("–", "-"))):
        w = m.group(0)
        if not w[0].isupper() or w.lower() in _STOP or w.lower() in QWORDS:
            continue
        if i == 0 and skip_first and not w.isupper():
            continue
        out.append(stem(w))
    return out
