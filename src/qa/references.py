"""The brief's own citations: parse its References list, link in-text citations to entries, catalogue copies.

Pure functions over one document's text. Works on the raw text (``*italics*``, ``\\$``) and on the normalised
text the indexer stores (emphasis removed, hyphenated words joined, spaces collapsed, newlines kept).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from qa.errors import IngestError
from qa.records import Reference

CATALOGUE = "sources.json"

_YEAR = r"(?:\d{4}[a-z]?|n\.\s?d\.?)"
_YEARS = rf"{_YEAR}(?:\s*,\s*{_YEAR})*"
_HEADING = re.compile(r"^[ \t#*_]*(?:references|bibliography|works cited)[ \t*_:]*$", re.I | re.M)
# "Author. (2024, July 11)." or "Harris, D. (2024"; the author ends with a full stop, as APA writes it
_ENTRY_HEAD = re.compile(
    rf"[ \t]*(?P<author>[^()\n]{{1,300}}?\.)[ \t]*\((?P<date>(?P<year>{_YEAR})[^)\n]*)\)\.?"
)
_URL = re.compile(r"<(?P<a>https?://[^>\s]+)>|(?P<b>https?://[^\s<>]+)")
_PERSON = re.compile(r"(?P<surname>[^\W\d][\w'’\- ]*?),\s+(?:[A-Z]\.\s*)+")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,2})(?P<t>\S(?:.*?\S)?)\1", re.S)
_SOURCE = re.compile(r"^[ \t]*[*_]*Sources?[*_]*[ \t]*:[ \t]*(?P<body>.*?)[ \t]*$", re.M)
_PAREN = re.compile(r"\((?P<body>[^()]{1,300})\)")
_NAME_YEARS = re.compile(rf"(?P<name>[^\W\d][^\d;]*?),\s*(?P<years>{_YEARS})")
_NARRATIVE = re.compile(rf"(?P<name>[^\W\d][^\d;()]*?)\s*\((?P<years>{_YEARS})\)")
_LEAD_IN = re.compile(r"^(?:see also|see|e\.g\.,?|cf\.|for example,?)\s+", re.I)
_FIGURE = re.compile(r"^[ \t#*_]*(?:Figure|Fig\.|Table|Case Study|Box|Exhibit)[ \t]+\d+", re.M)
_SECTION = re.compile(r"^[ \t#*]*\d+(?:\.\d+)*\.?[ \t]+[A-Z][^\n]{0,150}$", re.M)
_BLANK = re.compile(r"\n[ \t]*\n")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$])")
_END = re.compile(r"[.!?][\"'”’)\]*_]*(?=\s|$)")
_ABBREV = re.compile(r"e\.g|i\.e|etc|al|dr|mrs?|ms|vs|st|no|fig|inc|ltd|co|jr|prof|u\.[sk]|n\.d", re.I)


@dataclass(frozen=True)
class InTextCitation:
    """A citation in the running text: "(Harris, 2024)" or a "Source: ..." line, and what it supports."""

    start: int
    end: int
    raw: str
    kind: str  # paren | source
    keys: tuple[str, ...]  # resolved reference keys, in the order cited
    unresolved: tuple[str, ...]  # "Name, year" that matched no entry
    applies: tuple[int, int]  # span of the sentence / figure / table it supports

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- References list


def _norm_year(year: str) -> str:
    return "n.d." if year.lower().startswith("n") else year


def _clean(s: str) -> str:
    """Collapsed whitespace, markdown escapes ("\\$") undone."""
    return " ".join(_ESCAPE.sub(r"\1", s).split())


def _slug(s: str) -> str:
    return re.sub(r"[\W_]+", "-", s.lower()).strip("-")


def _references_start(text: str) -> int | None:
    """Offset just after the last References heading line, or None."""
    heads = list(_HEADING.finditer(text))
    return heads[-1].end() if heads else None


def _entry_spans(text: str) -> list[tuple[int, int]]:
    """Entries after the heading: a line opening with "Author. (year" starts one; later lines join it until
    it has a URL (entries wrap, even across blank lines); any other line after a URL ends the list."""
    begin = _references_start(text)
    if begin is None:
        return []
    spans: list[list[int]] = []
    for m in re.finditer(r"[^\n]+", text[begin:]):
        line = m.group()
        if not line.strip():
            continue
        a = begin + m.start() + len(line) - len(line.lstrip())
        b = begin + m.start() + len(line.rstrip())
        if _ENTRY_HEAD.match(line):
            spans.append([a, b])
        elif spans and not _URL.search(text, spans[-1][0], spans[-1][1]):
            spans[-1][1] = b
        elif spans:
            break
    return [(a, b) for a, b in spans]


def _split_author(raw: str) -> str:
    """ "Harris, D." -> "Harris"; several people -> "Francis et al."; an organisation stays as written."""
    raw = _clean(raw.replace("*", ""))
    m = _PERSON.match(raw)
    if not m:
        return raw.rstrip(".").strip()
    rest = raw[m.end() :]
    return m["surname"].strip() + (" et al." if "&" in raw or "," in rest else "")


def _title_outlet(body: str) -> tuple[str, str | None]:
    """Title and outlet from the text between the date and the URL."""
    body = body.strip().lstrip(".").strip()
    m = _EMPHASIS.match(body)
    if m:
        title, outlet = m["t"], body[m.end() :]
    else:  # emphasis stripped: the outlet, if any, is the last sentence ("Title. Outlet." / "Title? Outlet.")
        cuts = [e.end() for e in _END.finditer(body) if body[e.end() :].strip()]
        title, outlet = (body[: cuts[-1]], body[cuts[-1] :]) if cuts else (body, "")
    title = _clean(title).rstrip(".").strip()
    outlet = _clean(outlet).strip(" .")
    return title, outlet or None


def _parse_entry(entry: str) -> Reference | None:
    head = _ENTRY_HEAD.match(entry)
    if not head:
        return None
    urls = list(_URL.finditer(entry))
    url_m = urls[-1] if urls else None  # the last URL is the entry's link
    url = (url_m["a"] or url_m["b"].rstrip(".,;)")) if url_m else None
    body = entry[head.end() : url_m.start() if url_m else len(entry)]
    title, outlet = _title_outlet(body)
    year = _norm_year(head["year"].replace(" ", ""))
    date = _clean(head["date"]) if "," in head["date"] else None
    author = _split_author(head["author"])
    key = f"{_slug(author.removesuffix(' et al.'))}-{_slug(year)}"
    return Reference(
        key=key, author=author, year=year, date=date, title=title, outlet=outlet, url=url, text=entry
    )


def reference_spans(text: str) -> list[tuple[int, int, Reference]]:
    """Each References entry with its ``(start, end)``: ``text[start:end] == ref.text``; keys are unique."""
    out: list[tuple[int, int, Reference]] = []
    seen: dict[str, int] = {}
    for a, b in _entry_spans(text):
        ref = _parse_entry(text[a:b])
        if ref is None:
            continue
        seen[ref.key] = seen.get(ref.key, 0) + 1
        if seen[ref.key] > 1:  # two entries with the same slug: keep both, distinctly
            ref = replace(ref, key=f"{ref.key}-{seen[ref.key]}")
        out.append((a, b, ref))
    return out


def parse_references(text: str) -> list[Reference]:
    """The document's References list, in order; empty when it has none."""
    return [ref for _, _, ref in reference_spans(text)]


# ---------------------------------------------------------------- resolving "Name, year"


def _name_key(name: str) -> str:
    """Comparable form of an author: no emphasis, "et al.", leading "The", web suffix, case or punctuation."""
    s = re.sub(r"\bet\s+al\b\.?", "", name.replace("*", ""), flags=re.I)
    s = re.sub(r"\.(?:com|in|org|net)\b", "", s, flags=re.I)
    s = re.sub(r"^\W*the\s+", "", s, flags=re.I)
    return re.sub(r"[\W_]+", "", s.lower())


def resolve(name: str, year: str, refs: Sequence[Reference], cutoff: float = 0.8) -> Reference | None:
    """The entry cited as ``name, year``: same year, then the same normalised name, else the closest one."""
    year = _norm_year(year.replace(" ", ""))
    want = _name_key(name)
    if not want:
        return None
    best, best_score = None, cutoff
    for ref in refs:
        if _norm_year(ref.year) != year:
            continue
        have = _name_key(ref.author)
        if have == want:
            return ref
        score = difflib.SequenceMatcher(None, want, have).ratio()
        if min(len(want), len(have)) >= 4 and (have.startswith(want) or want.startswith(have)):
            score = max(score, 0.9)
        if score > best_score:
            best, best_score = ref, score
    return best


def _name_years(parts: Iterable[str], narrative: bool) -> list[tuple[str, str]]:
    """("Name", "year") pairs from ``Name, 2024`` (and ``Name (2024a, 2024b)`` when ``narrative``)."""
    out = []
    for part in parts:
        part = _LEAD_IN.sub("", _clean(part.replace("*", "")).strip(" ."))
        m = (narrative and _NARRATIVE.fullmatch(part)) or _NAME_YEARS.fullmatch(part)
        if m and len(m["name"]) <= 120:
            out += [
                (m["name"].strip(" ,"), _norm_year(y.strip().replace(" ", ""))) for y in m["years"].split(",")
            ]
    return out


def _resolve_all(pairs: list[tuple[str, str]], refs: Sequence[Reference]) -> tuple[tuple, tuple]:
    keys: list[str] = []
    unresolved: list[str] = []
    for name, year in pairs:
        ref = resolve(name, year, refs)
        if ref is None:
            unresolved.append(f"{name}, {year}")
        elif ref.key not in keys:
            keys.append(ref.key)
    return tuple(keys), tuple(unresolved)


# ---------------------------------------------------------------- what a citation supports


def _is_abbrev(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"[\w.]*$", text[max(0, dot - 12) : dot]).group()
    return len(word) == 1 or bool(_ABBREV.fullmatch(word))


def _prev_line_end(text: str, line_start: int) -> int:
    return len(text[:line_start].rstrip())


def _continues(text: str, line_start: int) -> bool:
    """A line that carries on a sentence broken by a line or page break ("the formal" / "launch of")."""
    prev = _prev_line_end(text, line_start)
    return prev > 0 and text[line_start : line_start + 1].islower() and text[prev - 1] not in ".!?:"


def _sentence_start(text: str, pos: int) -> int:
    i = pos
    while True:
        ls = text.rfind("\n", 0, i) + 1
        ends = [m.end() for m in _END.finditer(text, ls, i) if not _is_abbrev(text, m.start())]
        if ends:
            return ends[-1] + len(text[ends[-1] : i]) - len(text[ends[-1] : i].lstrip())
        if ls == 0 or not _continues(text, ls):
            return ls
        i = _prev_line_end(text, ls)


def _sentence_end(text: str, pos: int) -> int:
    i = pos
    while True:
        le = text.find("\n", i)
        le = len(text) if le < 0 else le
        for m in _END.finditer(text, i, le):
            if not _is_abbrev(text, m.start()):
                return m.end()
        nxt = le + len(text[le:]) - len(text[le:].lstrip())
        if nxt >= len(text) or not _continues(text, nxt):
            return len(text[:le].rstrip())
        i = nxt


def _sentence_around(masked: str, a: int, b: int) -> tuple[int, int]:
    """The sentence holding [a, b); a citation that trails a full stop supports the sentence before it."""
    start = _sentence_start(masked, a)
    if not masked[start:a].strip():
        j = _prev_line_end(masked, start)
        if j > 0 and masked[j - 1] in ".!?\"'”’)]*_":
            start = _sentence_start(masked, j - 1)
    return start, _sentence_end(masked, b)


def _source_applies(text: str, start: int, end: int, floor: int) -> tuple[int, int]:
    """From the Figure/Table/Case Study heading above a Source line (never above the previous Source line or a
    numbered section heading), else from the paragraph just above it, to the end of the Source line."""
    sections = [m.end() for m in _SECTION.finditer(text, floor, start)]
    floor = max([floor, *sections])
    heads = list(_FIGURE.finditer(text, floor, start))
    if heads:
        return heads[-1].start() + len(heads[-1].group()) - len(heads[-1].group().lstrip(" \t#*_")), end
    para_end = _prev_line_end(text, start)
    blanks = list(_BLANK.finditer(text, floor, para_end))
    para = blanks[-1].end() if blanks else floor
    para += len(text[para:para_end]) - len(text[para:para_end].lstrip())
    return min(para, start), end


# ---------------------------------------------------------------- in-text citations


def _excluded(text: str) -> tuple[int, int]:
    """The References section itself: its entries cite nothing."""
    spans = _entry_spans(text)
    begin = _references_start(text)
    if begin is None or not spans:
        return (len(text), len(text))
    return (text.rfind("\n", 0, begin - 1) + 1, spans[-1][1])


def find_citations(text: str, refs: Sequence[Reference]) -> list[InTextCitation]:
    """Parenthetical "(Harris, 2024; NITI Aayog, 2018)" and "Source: ..." citations, in text order."""
    lo, hi = _excluded(text)
    found: list[tuple[int, int, str, list[tuple[str, str]]]] = []
    for m in _SOURCE.finditer(text):
        if not (lo <= m.start() < hi):
            body = m["body"].replace("*", "").replace("_", "").strip().rstrip(".")
            a, b = m.start() + len(m.group()) - len(m.group().lstrip()), m.start() + len(m.group().rstrip())
            found.append((a, b, "source", _name_years(body.split(";"), narrative=True)))
    taken = [(a, b) for a, b, _, _ in found]
    for m in _PAREN.finditer(text):
        if lo <= m.start() < hi or any(a <= m.start() < b for a, b in taken):
            continue
        pairs = _name_years(m["body"].split(";"), narrative=False)
        if pairs:
            found.append((m.start(), m.end(), "paren", pairs))
    found.sort(key=lambda f: f[0])

    masked = list(text)  # periods inside citations ("n.d.", "Indo-U.S.") must not end sentences
    for a, b, _, _ in found:
        masked[a:b] = "~" * (b - a)
    masked_text = "".join(masked)

    out, prev_source = [], 0
    for a, b, kind, pairs in found:
        keys, unresolved = _resolve_all(pairs, refs)
        if kind == "source":
            applies = _source_applies(text, a, b, prev_source)
            prev_source = b
        else:
            applies = _sentence_around(masked_text, a, b)
        out.append(InTextCitation(a, b, text[a:b], kind, keys, unresolved, applies))
    return out


def refs_for_span(citations: Sequence[InTextCitation], start: int, end: int) -> tuple[str, ...]:
    """Keys of the citations whose span overlaps [start, end): first appearance first, no repeats."""
    keys: list[str] = []
    for c in sorted(citations, key=lambda c: c.start):
        if c.applies[0] < max(end, start + 1) and c.applies[1] > start:
            keys += [k for k in c.keys if k not in keys]
    return tuple(keys)


# ---------------------------------------------------------------- corpus catalogue


def load_catalogue(corpus_dir: str | Path) -> dict[str, dict[str, str]]:
    """``corpus_dir/sources.json``: ``{doc: {"reference": key, "cites_from": doc}}``; {} when absent."""
    path = Path(corpus_dir) / CATALOGUE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IngestError(f"{path}: cannot read the source catalogue ({e}); fix or delete it") from e
    ok = isinstance(data, dict) and all(
        isinstance(doc, str)
        and isinstance(v, dict)
        and isinstance(v.get("reference"), str)
        and isinstance(v.get("cites_from"), str)
        for doc, v in data.items()
    )
    if not ok:
        raise IngestError(f'{path}: expected {{"<doc>": {{"reference": "<key>", "cites_from": "<doc>"}}}}')
    return data


def attach_catalogue(refs: Sequence[Reference], catalogue: dict, citing_doc: str) -> list[Reference]:
    """``refs`` with ``in_corpus`` set to the corpus doc holding a copy, for entries ``citing_doc`` cites."""
    where: dict[str, str] = {}
    for doc in sorted(catalogue):
        entry = catalogue[doc]
        if entry.get("cites_from") == citing_doc:
            where.setdefault(entry["reference"], doc)
    return [replace(r, in_corpus=where[r.key]) if r.key in where else r for r in refs]
