"""Question analysis: what kind of answer is asked for, what it pins down, and its parts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from qa.answer.text import WORD, names, terms
from qa.errors import UsageError

MAX_QUESTION_CHARS = 2000
KINDS = ("quantity", "date", "entity", "place", "acronym", "definition", "reason", "yesno", "list", "other")
# Words that name the kind of answer wanted, not something the evidence must contain (stemmed).
TYPE_WORDS = {
    "larg",
    "big",
    "month",
    "year",
    "date",
    "day",
    "time",
    "organis",
    "organiz",
    "compani",
    "countri",
    "sector",
    "area",
    "type",
    "kind",
    "amount",
    "number",
    "name",
    "peopl",
    "person",
    "place",
    "way",
    "thing",
    "role",
    "stand",
    "full",
    "short",
    "acronym",
    "abbrevi",
    "mean",
    "true",
    "reason",
    "citi",
    "locat",
}
_CITE_Q = re.compile(r"\b(cite[sd]?|citing|citations?|sources?|references?|footnotes?)\b", re.I)
_ACRONYM_Q = re.compile(
    r"\bstand(?:s)? for\b|\bfull (?:name|form)\b|\bshort for\b|\bacronym\b|\babbreviat|\bexpan(?:d|sion)\b",
    re.I,
)
_YESNO = re.compile(
    r"^\s*(?:is it (?:true|correct|the case) that|is|are|was|were|does|do|did|can|could|has|have|had|will|"
    r"would|should|shall|may|must)\b",
    re.I,
)
_NUMBERS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_COUNT = re.compile(
    r"\b(?:which|what|name|list|the|give|are)\s+(?:the\s+)?(two|three|four|five|six|seven|eight|nine|ten|\d)\b",
    re.I,
)
_COUNTED = re.compile(r"\bhow many\s+((?:[\w'’-]+\s+){0,2}?[\w'’-]+?s)\b", re.I)
_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|which|who|when|where|why|how)\b)", re.I)
# A fiscal year written the filings' way: "FY2022", "FY 2023", "FY'21", "FY20" (years of this century).
_FISCAL = re.compile(r"\bFY\s?['’]?(\d{4}|\d{2})\b", re.I)
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # one of KINDS
    terms: tuple[str, ...]
    numbers: tuple[str, ...]  # numbers and years the question pins down
    names: tuple[str, ...]  # capitalised names and acronyms, stemmed
    about_sources: bool = False  # asks what a document cites ("Which source does the brief cite for ...?")
    acronym: str = ""  # the acronym to expand ("What does IOWN stand for?")
    count: int = 0  # how many items a list question asks for ("Which two ...?")
    negated: bool = False
    counted: str = ""  # the counted noun of "how many X", stemmed

    @property
    def attrs(self) -> list[str]:
        """What the question asks about its names: content terms that are not names, numbers or type words."""
        nm = set(self.names)
        return [t for t in self.terms if t not in nm and not t[0].isdigit() and t not in TYPE_WORDS]


def classify(text: str) -> str:
    t = text.lower().strip()
    if _ACRONYM_Q.search(t) and _acronym_of(text):
        return "acronym"
    if re.search(
        r"\bhow (much|many|large|big|long|far|old|tall|high)\b|\bwhat (amount|percentage|share|size|number|"
        r"value|proportion|fraction|sum|rate|ratio|accuracy|capacity|speed|level)\b|\bwhat was allocated\b|"
        r"\bwhat (is|was) the (budget|cost|outlay|total|population|price|rate|size|value|number)\b",
        t,
    ):
        return "quantity"
    if re.search(
        r"\bwhen\b|\bwhat (year|month|date|day|decade|century)\b|\bwhich (year|month|date|day|decade|"
        r"century)\b|\bin which (year|month)\b",
        t,
    ):
        return "date"
    if _YESNO.match(t) and not _WH.match(t):
        return "yesno"
    if re.search(r"^\s*why\b|\bwhat (is|was|are|were) the reasons?\b|\bfor what reason\b", t):
        return "reason"
    if re.search(r"^\s*where\b|\b(?:which|what|in which) (city|state|region|place|location|town)\b", t):
        return "place"
    if re.search(
        r"^\s*(who|whom)\b|\bwhich (company|companies|organisation|organization|firm|country|countries|"
        r"ministry|agency|institution|person|people)\b|\bwhose\b",
        t,
    ):
        return "entity"
    if _COUNT.search(t):
        return "list"
    if re.search(r"^\s*(what (is|are) (an? |the )?\S+(\s\S+){0,3}\??$|define\b|what is meant by\b)", t) or (
        re.search(r"\bwhat does \S+(\s\S+){0,3} mean\b", t)
    ):
        return "definition"
    return "other"


def _acronym_of(text: str) -> str:
    """The word of the question written mostly in capitals (IOWN, ABCI, iCET), if any."""
    for w in WORD.findall(text):
        caps = sum(ch.isupper() for ch in w)
        if caps >= 2 and caps >= len(w.rstrip("s")) - 1 and len(w) <= 12:
            return w.rstrip("s") if w.endswith("s") and w[:-1].isupper() else w
    return ""


def parse_question(text: str) -> Question:
    kind = classify(text)
    m = _COUNT.search(text)
    count = 0
    if m:
        word = m.group(1).lower()
        count = _NUMBERS.get(word) or (int(word) if word.isdigit() else 0)
    nums = tuple(t for t in terms(text) if t[0].isdigit())
    fiscal = (y if len(y) == 4 else f"20{y}" for y in _FISCAL.findall(text))
    nums = tuple(dict.fromkeys((*nums, *fiscal)))
    if count:
        nums = tuple(n for n in nums if n != str(count))
    return Question(
        text=text,
        kind=kind,
        terms=tuple(dict.fromkeys(terms(text))),
        numbers=nums,
        names=tuple(dict.fromkeys(names(text))),
        about_sources=bool(_CITE_Q.search(text)),
        acronym=_acronym_of(text) if kind == "acronym" else "",
        count=count if count > 1 else 0,
        negated=bool(re.search(r"\b(?:not|never|no)\b|n't\b", text, re.I)),
        counted=(terms(m.group(1)) or [""])[-1] if (m := _COUNTED.search(text)) else "",
    )


def split_parts(text: str) -> list[str]:
    """A two-part question ("Where ... and how much ...?") as its parts; any other question as itself."""
    pieces = _SPLIT.split(text.strip(), maxsplit=1)
    if len(pieces) != 2 or not _WH.match(pieces[0].strip()):
        return [text]
    first, second = (p.strip(" ,?") + "?" for p in pieces)
    if len(terms(first)) < 2 or len(terms(second)) < 1:
        return [text]
    return [first, second]


def validate(question: str) -> str:
    q = (question or "").strip()
    # Empty: only punctuation, spaces, controls and math/currency/modifier symbols (an emoji is a question).
    if not q or all(
        unicodedata.category(ch)[0] in "PZC" or unicodedata.category(ch) in ("Sm", "Sc", "Sk") for ch in q
    ):
        raise UsageError("the question is empty: type a question in words")
    if re.search("[\ud800-\udfff]", q):
        raise UsageError("the question has invalid characters (not UTF-8 text)")
    if len(q) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is too long ({len(q)} characters, at most {MAX_QUESTION_CHARS})")
    return q
