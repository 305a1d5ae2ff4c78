"""Raw page text → normalised pages with headings. One normaliser for every format.

Normalisation (every later offset refers to its output):
- Unicode NFKC (folds ligatures such as "ﬁ", odd spaces, full-width forms); soft hyphens and zero-width
  characters dropped.
- Markup escapes undone (``US\\$`` → ``US$``); Markdown emphasis markers (``**``, ``*``, ``__``) and inline
  formatting tags (``<i>``, ``<ul …>``, …) dropped, so users read clean text.
- Words hyphenated across a line or page break joined (``in-`` / ``frastructure`` → ``infrastructure``); a
  hyphen before a capital stays (``India-`` / ``Japan`` → ``India-Japan``).
- Runs of spaces collapsed to one, spaces around tabs (table cells) dropped, blank lines collapsed to one; a
  blank line inside a sentence (a line that does not end one, then one in lower case) is a wrapped line.
- Control characters (C0 and C1) blanked; CRLF and CR become LF.

Headings: Markdown/HTML/Word headings keep their levels. In plain text, numbered ("4. Title"), labelled
("Table 1:", "Case Study 2:", …) and short title-case lines between blank lines are headings; numbered list
items (a run of "1.", "2." a few lines apart, or a line that runs on in lower case), bare-numbered footnotes
low on a page and "Source:"/"Note:" lines are not. A title line right after a labelled heading nests under it.
"""

from __future__ import annotations

import re
import unicodedata

from qa.records import Heading, Page

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$<>|~&])")
_PLACEHOLDER = {"*": "\ue000", "_": "\ue001"}
_STRONG = re.compile(r"\*\*|__(?=\w)|(?<=\w)__")
_EMPH = re.compile(r"(?<![\w*])\*(?=[^\s*])|(?<=[^\s*])\*(?![\w*])")
_INLINE_TAGS = re.compile(
    r"</?(?:i|b|em|strong|u|ul|ol|li|span|br|sup|sub|p|div|font)\b[^<>\n]{0,300}?/?>", re.I
)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_HYPHEN_LOWER = re.compile(r"(?<=[^\W\d_])-[ \t]*\n\s*(?=[a-z])")
_HYPHEN_OTHER = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[A-Z])")
# Runs of spaces and other blanks to one space; a lone " " is not matched (re.sub would rebuild the text
# from a piece per word, ~10x its size, for nothing).
_SPACES = re.compile(r"[^\S\n\t]{2,}|[^\S\n\t ]")
_TAB_SPACES = re.compile(r" *\t *")
_TRAILING_SPACES = re.compile(r" +(?=\n)")
_TWO_NON_SPACES = re.compile(r"\S(?=\S)")
_BLANK_LINE_SPACES = re.compile(r"\n[ \t]+(?=\n)")
_BLANKS = re.compile(r"\n{3,}")
# A blank line between a line that does not end a sentence and one starting in lower case is a line wrap
# (pdftotext's double-spaced output), not a paragraph break.
_WRAPPED_BLANK = re.compile(r"(?<=[^\s.?!:;])[ \t]*\n[ \t]*\n(?=[ \t]*[a-z(])")
_TOC_LEADER = re.compile(r"(\.{4,}|·{3,}|…{2,}|_{4,})\s*[\divxlc]*$", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # blanked: C0 and C1 (\x9b is a terminal CSI)

# Sentinel that marks a Markdown heading line through normalisation: <H><level><T>title. Private-use
# characters, because normalise() blanks control characters (a \x01 sentinel would leak "1 " into the text).
_H_OPEN, _H_CLOSE = "\ue010", "\ue011"
_HMARK = re.compile(f"^{_H_OPEN}(\\d){_H_CLOSE}", re.M)
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?[ \t]+([A-Z][^\n\t]{1,120})$")
_LABELLED = re.compile(
    r"^(?:Case Study|Table|Figure|Box|Exhibit|Annexure|Annex|Appendix)[ \t]+[\dA-Z]{1,3}[:.][^\n\t]*$"
)
_LIST_SPAN = 12  # lines between consecutive numbers of one list
_CAPTION_NOTE = re.compile(r"^(?:\d{1,3}[ \t]+)?(?:Sources?|Credits?|Notes?)[ \t]*:")
_TOP_WORDS = {
    "references",
    "bibliography",
    "works cited",
    "abstract",
    "executive summary",
    "acknowledgements",
    "about the authors",
    "about the author",
    "glossary",
    "endnotes",
    "notes",
    "appendix",
    "acknowledgments",
    "conclusion",
    "introduction",
    "foreword",
    "preface",
}


def normalise(text: str) -> str:
    """Clean one page of text (see the module docstring for what changes)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _ESCAPED.sub(lambda m: _PLACEHOLDER.get(m.group(1), m.group(1)), text)
    text = _STRONG.sub("", text)
    text = _EMPH.sub("", text)
    text = _INLINE_TAGS.sub(" ", text)
    for char, mark in _PLACEHOLDER.items():
        text = text.replace(mark, char)
    text = _HYPHEN_LOWER.sub("", text)
    text = _HYPHEN_OTHER.sub("-", text)
    text = _SPACES.sub(" ", text)
    text = _TAB_SPACES.sub("\t", text)
    # Line ends and whitespace-only lines cleaned where there is something to clean: rebuilding the text
    # line by line would hold a string per line, ~20x a text of short lines.
    text = _TRAILING_SPACES.sub("", text)
    text = _BLANK_LINE_SPACES.sub("\n", text)
    text = _sub_in_blocks(_WRAPPED_BLANK, "\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip(" \n")


def _sub_in_blocks(pattern: re.Pattern, repl: str, text: str, block: int = 1 << 16) -> str:
    """``pattern.sub`` over blocks of about ``block`` characters, cut between two non-space characters.

    Only for patterns whose matches are whitespace and whose look-behind and look-ahead stop at the first
    non-space character: no match or context crosses such a cut, so the result is the same as one
    ``sub``, but a text with a match on every line never builds a list of pieces as long as itself."""
    out, start = [], 0
    while len(text) - start > block:
        m = _TWO_NON_SPACES.search(text, start + block)
        if m is None:
            break
        out.append(pattern.sub(repl, text[start : m.end()]))
        start = m.end()
    out.append(pattern.sub(repl, text[start:]))
    return "".join(out)


def join_page_hyphens(texts: list[str]) -> list[str]:
    """Move the tail of a word hyphenated across a page break onto the page where it starts."""
    out = list(texts)
    for i in range(len(out) - 1):
        m = re.search(r"(?<=[^\W\d_])-$", out[i])
        nxt = re.match(r"\s*([a-z][^\s]*)", out[i + 1])
        if m and nxt:
            out[i] = out[i][:-1] + nxt.group(1)
            out[i + 1] = out[i + 1][nxt.end() :].lstrip(" \n")
    return out


def _is_heading_line(line: str, prev_blank: bool, next_line: str, footer: bool = False) -> int:
    """Heading level of a plain-text line (0 = not a heading).

    ``next_line`` is the following line (empty when blank); ``footer``: the line is low on a page.
    """
    s = line.strip()
    next_blank = not next_line.strip()
    if not s or "\t" in s or len(s) > 130 or _TOC_LEADER.search(s) or _CAPTION_NOTE.match(s):
        return 0
    if _LABELLED.match(s):
        return 3
    if not prev_blank:
        return 0
    m = _NUMBERED.match(s)
    if m:
        # A numbered line whose sentence runs on into the next line is a list item; "26 NTDPC, India
        # Transport Report" low on a page (no dot after the number) is a footnote.
        bare = "." not in s[: m.start(2)]
        runs_on = next_line.strip()[:1].islower()
        if s.endswith((".", ",", ";")) or len(s.split()) > 16 or runs_on or (bare and footer):
            return 0
        return m.group(1).count(".") + 1
    if not next_blank:
        return 0
    if s.lower().rstrip(":") in _TOP_WORDS:
        return 1
    words = s.split()
    if (
        len(words) <= 8
        and s[0].isupper()
        and not s.endswith((".", ",", ";", ":", "?", "!"))
        and not s.replace(" ", "").isdigit()
    ):
        long_words = [w for w in words if len(w) >= 4]
        capitalised = [w for w in long_words if w[0].isupper()]
        if long_words and len(capitalised) * 2 >= len(long_words):
            return 2
    return 0


def _list_items(lines: list[str]) -> set[int]:
    """Indexes of numbered lines that are items of a list: "1." and "2." within a few lines of each other."""
    numbered = []
    for i, line in enumerate(lines):
        m = _NUMBERED.match(line.strip())
        if m:
            numbered.append((i, tuple(int(n) for n in m.group(1).split("."))))
    items = set()
    for (i, a), (j, b) in zip(numbered, numbered[1:], strict=False):
        if j - i <= _LIST_SPAN and a[:-1] == b[:-1] and b[-1] == a[-1] + 1:
            items |= {i, j}
    return items


def find_headings(text: str, state: dict | None = None) -> tuple[Heading, ...]:
    """Headings of a plain-text page: numbered, labelled (Table/Figure/Case Study) and short title lines.

    A short title line right after a labelled heading is that case study's (or table's) own title, so it
    nests under the label (one level deeper). ``state`` carries this across the pages of one document and
    says whether it has several pages (then a bare-numbered line low on a page is a footnote, not a
    heading). Markdown and HTML headings keep their explicit levels and never come here.
    """
    state = {} if state is None else state
    lines = text.split("\n")
    in_list = _list_items(lines)
    out, pos = [], 0
    for i, line in enumerate(lines):
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        footer = state.get("paged", False) and pos > 0.6 * len(text)
        level = 0 if i in in_list else _is_heading_line(line, prev_blank, next_line, footer)
        title = line.strip()
        if level:
            lead = len(line) - len(line.lstrip())
            if _LABELLED.match(title):
                state["label"] = level
            elif level == 2 and state.get("label"):
                level = state["label"] + 1
            out.append(Heading(pos + lead, pos + lead + len(title), level, title))
        if title and not _LABELLED.match(title):
            state["label"] = 0  # only the title line right after a label nests under it
        pos += len(line) + 1
    return tuple(out)


def _take_marked_headings(text: str) -> tuple[str, tuple[Heading, ...]]:
    """Strip Markdown heading sentinels from normalised text, returning their spans."""
    parts, headings, pos, last = [], [], 0, 0
    for m in _HMARK.finditer(text):
        parts.append(text[last : m.start()])
        pos += m.start() - last
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        title = text[m.end() : line_end].strip()
        headings.append(Heading(pos, pos + len(title), int(m.group(1)), title))
        parts.append(title)
        pos += len(title)
        last = line_end
    parts.append(text[last:])
    return "".join(parts), tuple(headings)


def markdown_to_marked(text: str) -> str:
    """Markdown → text with heading sentinels; links and images reduced to their words."""
    text = strip_marks(text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    return _MD_HEADING.sub(lambda m: f"{_H_OPEN}{len(m.group(1))}{_H_CLOSE}{m.group(2)}", text)


def first_block_title(text: str) -> str | None:
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if lines:
            title = " ".join(lines[:3])
            return title if len(title) <= 150 else None
    return None


def marked_heading(level: int, title: str) -> str:
    """A heading line for ``pages_from_texts(..., marked=True)`` (a reader that knows its headings)."""
    return f"{_H_OPEN}{level}{_H_CLOSE}{strip_marks(title)}"


def strip_marks(text: str) -> str:
    """Text with the heading sentinels removed, so a document's own characters never pose as headings."""
    return text.replace(_H_OPEN, "").replace(_H_CLOSE, "")


def pages_from_texts(
    doc: str,
    raw_pages: list[str],
    markdown: bool,
    labels: list[str | None] | None = None,
    marked: bool = False,
) -> list[Page]:
    """Normalised pages with their headings: Markdown headings (``markdown``), heading lines made with
    ``marked_heading`` (``marked``), else headings found in the plain text."""
    texts = [markdown_to_marked(t) if markdown else t for t in raw_pages]
    texts = join_page_hyphens([normalise(t) for t in texts])
    pages, state = [], {"paged": len(texts) > 1}
    for i, text in enumerate(texts):
        if markdown or marked:
            text, headings = _take_marked_headings(text)
        else:
            headings = find_headings(text, state)
        pages.append(
            Page(doc=doc, page=i + 1, text=text, label=labels[i] if labels else None, headings=headings)
        )
    return pages
