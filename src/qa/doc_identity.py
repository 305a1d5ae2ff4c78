"""What identifies a document, and which documents a question is about.

At build time ``identify`` reads, from a document's file name, PDF metadata, title and first pages, who it is
about (the registrant or issuer, its defined short name and ticker), what it is (form 10-K, 10-Q, 8-K, an
earnings release) and the period it reports (fiscal year, quarter, date); the index stores it with the file.
At question time ``named_documents`` finds the documents whose company the question names and, where there
are several, keeps those whose period fits the years, quarter and form the question gives ("FY2023", "Q2 of
FY2024", "10-K"): a filing of year Y reports Y and the years before it, so the earliest filing that reaches
the question's latest year decides. A question that names no document gets None: search everything.
Nothing here knows any company: every name comes from the documents themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

FIRST_PAGES = 3  # what a document says it is is on its cover and the pages right after it
MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for m in names
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}
# Words of a company's legal name that don't tell companies apart ("Best Buy Co., Inc." is "Best Buy").
_LEGAL = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "companies", "ltd", "limited", "plc",
    "llc", "lp", "llp", "group", "holdings", "holding", "international", "the", "and", "of", "sa", "ag",
    "nv", "se", "n", "a",
}  # fmt: skip
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.I)
_REGISTRANT = re.compile(
    r"^[ \t]*(\S[^\n]{1,100}?)[ \t]*\n[-_\s]*\(?[ \t]*exact name of (?:the )?registrant", re.I | re.M
)
_LISTED = re.compile(
    r"((?:[A-Z][\w&.'-]*[ \t]+){0,5}[A-Z][\w&.'-]*),?[ \t]*\([ \t]*(?:NYSE|NASDAQ|Nasdaq|NYSE American|AMEX)"
    r"[ \t]*:[ \t]*([A-Z]{1,5}(?:\.[A-Z])?)[ \t]*\)"
)
_TICKER = re.compile(r"\b([A-Z]{1,5})[ \t]+(?:The[ \t]+)?(?:New York Stock Exchange|Nasdaq|NASDAQ|NYSE)\b")
_FORM = re.compile(r"\bform[ \t]+(10-K|10-Q|8-K|20-F|40-F|6-K)\b", re.I)
_EARNINGS = re.compile(
    r"\breports?\b[^\n]{0,60}\b(?:quarter|year)\b[^\n]{0,60}\bresults\b|\bearnings release\b", re.I
)
_PERIOD_ENDED = re.compile(
    rf"(fiscal year|quarterly period|quarter|year|period)s?[ \t]+end(?:ed|ing)[ \t]+"
    rf"({_MONTH}[ \t]+\d{{1,2}},?[ \t]+(?:19|20)\d\d)",
    re.I,
)
_EVENT = re.compile(rf"date of report[^\n]*\n?[^\n]*?({_MONTH}[ \t]+\d{{1,2}},?[ \t]+(?:19|20)\d\d)", re.I)
_QUARTER_WORDS = re.compile(r"\b(first|second|third|fourth)[ \t]+quarter\b", re.I)
_FISCAL = re.compile(r"\bfiscal(?:[ \t]+year)?[ \t]+((?:19|20)\d\d)\b", re.I)
_URL_MARK = re.compile(r"https?://|www\.|@|\.(?:com|net|org)\b", re.I)
_WORDS = re.compile(r"[A-Za-z0-9]+(?:&[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Identity:
    """What a document is: company names (legal and short), tickers, form, fiscal year, quarter, date."""

    names: tuple[str, ...] = ()  # as the document writes them: "BEST BUY CO., INC.", "MGM Resorts"
    short: tuple[str, ...] = ()  # one-word names the document always capitalises: "mgm", "verizon"
    tickers: tuple[str, ...] = ()
    file_name: str = ""  # the file name's words before its period or form: "bestbuy", "japan ai strategy"
    form: str | None = None  # 10-K | 10-Q | 8-K | 20-F | 40-F | 6-K | earnings release
    year: int | None = None  # the fiscal year it reports on
    quarter: int | None = None  # the fiscal quarter, for a quarterly report or release
    date: str | None = None  # period end (or report date), ISO

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("names", "short", "tickers"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Identity:
        d = d or {}
        return cls(
            names=tuple(d.get("names", ())),
            short=tuple(d.get("short", ())),
            tickers=tuple(d.get("tickers", ())),
            file_name=d.get("file_name", ""),
            form=d.get("form"),
            year=d.get("year"),
            quarter=d.get("quarter"),
            date=d.get("date"),
        )

    def name_keys(self) -> list[tuple[str, ...]]:
        """Word sequences (lower case) that name this document's company: each name without its legal words,
        its one-word short names and the file name's words."""
        out = [tuple(w for w in words(n) if w not in _LEGAL) for n in self.names]
        out += [(s,) for s in self.short]
        if self.file_name:
            out.append(tuple(self.file_name.split()))
        return list(dict.fromkeys(k for k in out if k))


# ---------------------------------------------------------------- build time


def words(text: str) -> list[str]:
    """Lower-case words; "&" and a possessive "'s" go ("Johnson & Johnson's" → johnson, johnson)."""
    text = re.sub(r"['’]s\b", "", text)
    return [w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)]


def _iso(month: str, day: str, year: str) -> str | None:
    month = month.lower().rstrip(".")
    try:
        return date(int(year), MONTHS.get(month) or MONTHS[month[:3]], int(day)).isoformat()
    except (KeyError, ValueError):
        return None


def _parse_date(text: str) -> str | None:
    m = _DATE.search(text)
    return _iso(*m.groups()) if m else None


def _file_parts(stem: str) -> tuple[str, int | None, int | None, str | None]:
    """A file name's leading words (before a year, quarter or form), its year, quarter and form:
    "BESTBUY_2024Q2_10Q" → ("bestbuy", 2024, 2, "10-Q")."""
    tokens = [t for t in re.split(r"[\W_]+", stem) if t]
    name, year, quarter, form, done = [], None, None, None, False
    for t in tokens:
        low = t.lower()
        m = re.fullmatch(r"((?:19|20)\d\d)(?:q([1-4]))?|q([1-4])((?:19|20)\d\d)?", low)
        f = re.fullmatch(r"(10|8|20|40|6)-?([kqf])", low)
        if m:
            year = year or int(m.group(1) or m.group(4) or 0) or None
            quarter = quarter or int(m.group(2) or m.group(3) or 0) or None
            done = True
        elif f:
            form = form or f"{f.group(1)}-{f.group(2).upper()}"
            done = True
        elif low in ("earnings", "er"):
            form = form or "earnings release"
            done = True
        elif not done and not low.isdigit():
            name.append(low)
    return " ".join(name), year, quarter, form


def _without_urls(text: str) -> str:
    """The text with every whitespace-delimited token that holds a URL or address blanked, in linear time
    (a pattern ``\\S*…\\S*`` rescans a long run without spaces from each of its characters)."""
    return re.sub(r"\S+", lambda m: " " if _URL_MARK.search(m.group(0)) else m.group(0), text)


def _capitalised(word: str, text: str) -> bool:
    """Whether the text never writes the word in lower case: a name, not a word ("Verizon", "MGM", but not
    the "Best" of "Best Buy" nor the "owls" of owls.txt, which the text also uses as words)."""
    if not word:
        return False
    found = re.findall(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text, re.I)
    return all(f[0].isupper() for f in found)


def _fiscal_year(end: str | None, said: Counter, file_year: int | None) -> int | None:
    """The fiscal year: the file name's, else the "fiscal 2023" the pages say most next to the period end,
    else the end date's year (a 52/53-week year ending in the first days of January is the year before)."""
    if file_year:
        return file_year
    if end:
        y = int(end[:4])
        near = [(n, fy) for fy, n in said.items() if fy in (y - 1, y, y + 1)]
        if near:
            return max(near)[1]
        return y - 1 if end[5:7] == "01" and int(end[8:10]) <= 7 else y
    return max(said, key=lambda fy: (said[fy], fy)) if said else None


def identify(
    path: Path | None, title: str, pages: list, metadata: dict | None = None
) -> tuple[Identity, str | None]:
    """The identity of one document from its file name, title, PDF metadata (``pdf_metadata``) and first
    pages (``Page``s); and, where those pages are a filing's cover (they name the registrant), the title the
    cover gives: the registrant, the form and the period, and the fiscal year and quarter where the period's
    end does not say them ("BEST BUY CO., INC. Form 10-Q for the quarterly period ended July 29, 2023 (fiscal
    2024, Q2)": a question asks for "Q2 of FY2024"); None for any other document."""
    text = "\n".join(p.text for p in pages[:FIRST_PAGES])
    meta = " ".join(v for v in (metadata or {}).values() if v)
    stem_name, file_year, file_quarter, file_form = _file_parts(path.stem) if path else ("", None, None, None)

    names = [m.group(1).strip(" ,") for m in _REGISTRANT.finditer(text)]
    registrant = names[0] if names else ""  # the first the pages name: the cover's
    listed = list(_LISTED.finditer(text))
    names += [m.group(1).strip() for m in listed]
    tickers = [m.group(2) for m in listed] + [m.group(1) for m in _TICKER.finditer(text)][:1]
    names = list(dict.fromkeys(n for n in names if re.search(r"[A-Za-z]{2}", n)))
    firsts = [k[0] for k in (tuple(w for w in words(n) if w not in _LEGAL) for n in names) if k]
    body = _without_urls("\n".join(p.text for p in pages))  # "pfizer.com" is not the name as written
    short = tuple(
        dict.fromkeys(w for w in firsts if len(w) >= 3 and w not in _LEGAL and _capitalised(w, body))
    )
    if " " not in stem_name and not ((file_year or file_form) and _capitalised(stem_name, body)):
        stem_name = ""  # one word names a company only before a period or form ("PFIZER_2021_10K"), as a name

    first_page = pages[0].text if pages else ""
    m = _FORM.search(first_page) or _FORM.search(meta)
    form = m.group(1).upper() if m else None
    if form is None and (_EARNINGS.search(first_page) or _EARNINGS.search(title)):
        form = "earnings release"
    form = form or file_form

    ended = _PERIOD_ENDED.search(text)
    end = _parse_date(ended.group(2)) if ended else None
    if end is None and (m := re.search(r"period ending ((?:19|20)\d\d)-(\d\d)-(\d\d)", meta)):
        end = "-".join(m.groups())
    event = _EVENT.search(text)
    when = end or (_parse_date(event.group(1)) if event else None)
    said = Counter(int(y) for y in _FISCAL.findall(text))
    year = _fiscal_year(when, said, file_year)
    if year is None:
        head = Counter(int(y) for y in re.findall(r"\b((?:19|20)\d\d)\b", f"{title}\n{first_page}"))
        year = max(head, key=lambda y: (head[y], y)) if head else None
    quarter = file_quarter
    if quarter is None and (
        form in ("10-Q", "earnings release") or (ended and "quarter" in ended.group(1).lower())
    ):
        said_q = Counter(ORDINALS[q.lower()] for q in _QUARTER_WORDS.findall(f"{title}\n{first_page}"))
        quarter = max(said_q, key=lambda q: (said_q[q], q)) if said_q else None
    ident = Identity(
        names=tuple(names),
        short=short,
        tickers=tuple(dict.fromkeys(t for t in tickers if len(t) >= 2)),
        file_name=stem_name,
        form=form,
        year=year,
        quarter=quarter,
        date=when,
    )
    if not re.search(r"[A-Za-z]{2}", registrant):
        return ident, None
    parts = [registrant]
    if form:
        parts.append(f"Form {form}")
    if ended:
        parts.append(f"for the {ended.group(1).lower()} ended {' '.join(ended.group(2).split())}")
    if year and (quarter or year != (int(when[:4]) if when else None)):
        parts.append(f"(fiscal {year}" + (f", Q{quarter})" if quarter else ")"))
    return ident, " ".join(parts)


def is_title(text: str | None) -> bool:
    """Whether a metadata title reads as one: some word in it, not an identifier made of digits and dashes
    (EDGAR's accession numbers, "0000320193-23-000106", are the titles of many filings' PDFs)."""
    return bool(text and re.search(r"[A-Za-z]{2}", text))


def pdf_metadata(reader) -> dict:
    """A PDF's title, subject and keywords from its open ``pypdf.PdfReader`` (EDGAR's subject: "Form 10-K …
    for the period ending …")."""
    try:
        info = reader.metadata or {}
        return {k: str(info.get(f"/{k.title()}") or "") for k in ("title", "subject", "keywords")}
    except Exception:  # damaged metadata: the pages still say what the document is
        return {}


# ---------------------------------------------------------------- question time

_Q_FISCAL = re.compile(r"\b(?:FY|fiscal(?:[ \t]+year)?)[ \t]*'?((?:19|20)\d\d|\d\d)\b", re.I)
_Q_QUARTER_YEAR = re.compile(r"\bQ[1-4][ \t]*'?[ \t]*(?:of[ \t]+)?(?:FY[ \t]*)?((?:19|20)\d\d|\d\d)\b", re.I)
_Q_YEAR_QUARTER = re.compile(r"\b[1-4]Q[ \t]*'?((?:19|20)\d\d|\d\d)\b", re.I)
_Q_YEAR = re.compile(r"(?<![\d.,$])((?:19|20)\d\d)(?![\d]|[,.]\d)")
_Q_QUARTER = re.compile(
    r"\bQ([1-4])(?:\b|(?=(?:19|20)\d\d\b))|\b([1-4])Q(?![A-Za-z])"
    r"|\b(first|second|third|fourth)[ \t]+quarter\b",
    re.I,
)
_Q_FORMS = (
    (re.compile(r"\b10-?K\b|\bannual report\b", re.I), "10-K"),
    (re.compile(r"\b10-?Q\b|\bquarterly report\b", re.I), "10-Q"),
    (re.compile(r"\b8-?K\b", re.I), "8-K"),
    (re.compile(r"\b(?:earnings|press) release\b|\bearnings report\b", re.I), "earnings release"),
)
_NAME_TOKEN = re.compile(r"\b([A-Za-z0-9]+(?:&[A-Za-z0-9]+)*)(?:['’]s)?\b")
_ACRONYM = re.compile(r"\b[A-Z](?:(?:&|n)?[A-Z]){1,6}\b")


def acronyms(text: str) -> dict[str, str]:
    """Each acronym a text writes, a whole word of two to seven capitals run together or around an "&" or
    the "n" of "and", with its capitals in lower case: "NWT" → "nwt", "J&J" and "JnJ" → "jj", "PP&E" →
    "ppe". A token is an acronym as a whole where ``acronyms(token)`` holds it."""
    return {t: "".join(c for c in t if c.isupper()).lower() for t in _ACRONYM.findall(text)}


@dataclass(frozen=True)
class Asked:
    """The period and form a question gives: years, a quarter, a form."""

    years: frozenset[int] = frozenset()
    quarter: int | None = None
    form: str | None = None

    def __bool__(self) -> bool:
        return bool(self.years or self.quarter or self.form)


def _year(y: str) -> int:
    return int(y) if len(y) == 4 else 2000 + int(y)


def asked(question: str) -> Asked:
    """The years ("FY2022", "FY21", "Q2'2023", "4Q22", "in 2019"), quarter and form a question names."""
    years = {
        _year(y) for r in (_Q_FISCAL, _Q_QUARTER_YEAR, _Q_YEAR_QUARTER, _Q_YEAR) for y in r.findall(question)
    }
    m = _Q_QUARTER.search(question)
    quarter = (int(m.group(1) or m.group(2) or 0) or ORDINALS[m.group(3).lower()]) if m else None
    form = next((f for r, f in _Q_FORMS if r.search(question)), None)
    return Asked(frozenset(years), quarter, form)


@dataclass(frozen=True)
class _Said:
    """What a question says, in the forms names are matched against (computed once per question)."""

    phrases: frozenset  # its runs of up to 8 words, as tuples
    joined: frozenset  # its runs of up to 4 words written together ("best buy" → "bestbuy")
    caps: frozenset  # its tokens with two capitals or more ("JnJ", "NWT")
    acronyms: frozenset  # the capitals of its acronym-like tokens, lower case ("J&J" → "jj")

    @classmethod
    def of(cls, question: str) -> _Said:
        w = words(question)
        runs = [tuple(w[i:j]) for i in range(len(w)) for j in range(i + 1, min(i + 8, len(w)) + 1)]
        caps = {t for t in _WORDS.findall(question) if sum(c.isupper() for c in t) >= 2}
        return cls(
            phrases=frozenset(runs),
            joined=frozenset("".join(r) for r in runs if len(r) <= 4),
            caps=frozenset(caps),
            acronyms=frozenset(a for t in caps if (a := acronyms(t).get(t))),
        )


def _named(ident: Identity, said: _Said) -> bool:
    """Whether the question names the document's company: a name's words in order (or run together, as a
    file name writes them), its initials as a capitalised acronym ("J&J", "JnJ"), or its ticker."""
    for key in ident.name_keys():
        if key in said.phrases or "".join(key) in said.joined:
            return True
        if len(key) > 1 and "".join(w[0] for w in key) in said.acronyms:
            return True
    return any(t.upper() in ident.tickers for t in said.caps)


def without_names(question: str, idents: list[Identity]) -> str:
    """The question without what names these documents' company ("Best Buy's", "JnJ", "NWT"): inside their
    documents every passage is about it, and passages that repeat the name are not the ones asked for. The
    question as it was when nothing else would be left."""
    keys = {key for ident in idents for key in ident.name_keys()}
    phrases = sorted(("\\W+".join(map(re.escape, key)) for key in keys), key=len, reverse=True)
    out = (
        re.sub(rf"\b(?:{'|'.join(phrases)})(?:['’]s\b|['’](?!\w)|\b)", "", question, flags=re.I)
        if phrases
        else question
    )
    initials = {"".join(w[0] for w in key) for key in keys if len(key) > 1}
    tickers = {t.lower() for ident in idents for t in ident.tickers}

    def named(m: re.Match) -> bool:
        token = m.group(1)
        if sum(c.isupper() for c in token) < 2:
            return False
        return token.lower() in tickers or acronyms(token).get(token) in initials

    out = _NAME_TOKEN.sub(lambda m: "" if named(m) else m.group(0), out)
    out = re.sub(r"\s+", " ", out).strip()
    return out if re.search(r"\w", out) else question


def _cost(ident: Identity, want: Asked, latest: int | None) -> tuple[float, int]:
    """How far a document is from the period asked: (years, quarter and form mismatches); lower is closer.
    A filing of year Y reports Y and the years before it, so one older than the question's latest year
    cannot answer it; among the rest the earliest is closest."""
    years = [y for y in want.years if latest is None or y <= latest]
    year_cost = 0.0
    if years:
        gap = None if ident.year is None else ident.year - max(years)
        year_cost = 5.0 if gap is None else gap if gap >= 0 else 10.0 - gap
    other = 0
    if want.quarter is not None:
        other += ident.quarter != want.quarter
    if want.form is not None:
        other += ident.form != want.form
    return year_cost, other


def named_documents(question: str, identities: dict[str, Identity]) -> list[str] | None:
    """The documents a question is about: those whose company it names, narrowed by the period and form it
    gives (the closest kept, ties all kept). None when it names none, or every document fits."""
    said = _Said.of(question)
    named = [d for d, ident in identities.items() if _named(ident, said)]
    want = asked(question)
    if len(named) > 1 and want:
        latest = max((identities[d].year for d in named if identities[d].year), default=None)
        costs = {d: _cost(identities[d], want, latest) for d in named}
        best = min(costs.values())
        named = [d for d in named if costs[d] == best]
    if not named or set(named) == set(identities):
        return None
    return named
