"""Pages → chunks. Pure: sentence-aware, respects headings, paragraphs and table rows.

Every chunk satisfies ``page.text[chunk.start:chunk.end] == chunk.text``; its sentences are absolute
offsets into the same page text. Headings start a new chunk and give the section path; table rows are
chunks of their own with the table title and header row as ``context``; entries under a References heading
are one chunk each.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from qa.records import Chunk, Heading, Page

_ABBREV = {
    "u.s",
    "u.k",
    "e.g",
    "i.e",
    "rs",
    "no",
    "nos",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "corp",
    "fig",
    "figs",
    "al",
    "approx",
    "vol",
    "pp",
    "p",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "govt",
    "dept",
    "est",
    "sr",
    "jr",
    "rev",
    "gen",
    "art",
    "sec",
    "cf",
    "ca",
    "ed",
    "eds",
    "op",
    "viz",
    "no.s",
    "u.s.a",
    "a.m",
    "p.m",
    "ph.d",
    "b.tech",
    "m.tech",
}
# A sentence may end at . ? ! (plus closing quotes/brackets) before whitespace and a plausible sentence start.
_END = re.compile(r"[.?!…][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9•▪◦●\-–])")
_PARA = re.compile(r"\n[ \t]*\n")
_LINE = re.compile(r"^.*$", re.M)
_BULLET_LINE = re.compile(r"\n(?=[ \t]*(?:[•▪◦●]|[-–*][ \t]|\(?[0-9a-z]{1,2}[.)][ \t]))")
_WORD = re.compile(r"\w+|[^\w\s]")
# A References entry opens with "Author. (2024" or "Author. (n.d."; it ends once it has given its URL.
_ENTRY_HEAD = re.compile(r"[^()\n]{1,300}?\.[ \t]*\((?:\d{4}[a-z]?|n\.\s?d\.?)")
_URL = re.compile(r"https?://")
_REFERENCE_SECTIONS = {"references", "bibliography", "works cited", "sources"}
_AMOUNT_CELL = re.compile(r"[$€£¥]?\s?\(?-?[\d,.]*\d\)?\s?%?|[-—–]")
_YEAR_CELL = re.compile(r"(?:19|20)\d\d(?:\s?[–-]\s?(?:19|20)?\d\d)?")
_LABEL_CHARS = 120  # a table's title, unit or row-group line is shorter than this
_TITLE_LINES = 3  # lines of a table's own title kept as its context
_GROUP_LINES = 2  # label lines between two rows of one table (a group's name, wrapped)


# What a References entry is, in words a question about it uses ("Which source does it cite for ...?",
# "When was ... published?"): embedded and indexed with the entry, never quoted.
REFERENCE_CONTEXT = (
    "Reference: a source cited by this document, who published it, when it was published, title, link"
)


def estimate_tokens(text: str) -> int:
    """A cautious word-piece estimate (MiniLM's tokenizer splits long and rare words)."""
    return int(sum(1 + len(w) // 7 for w in _WORD.findall(text)) * 1.1) + 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    m = re.search(r"([\w.]+)$", text[max(0, dot - 12) : dot])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREV:
        return True
    # Initials such as "R. H. Laskar" or "A. Sharma": a single capital letter before the dot.
    return len(word) == 1 and text[dot - 1].isupper()


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside ``text[start:end]``; paragraphs and bullets always split."""
    return list(iter_sentences(text, start, end))


def iter_sentences(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """``split_sentences`` one at a time (a paragraph of a million short lines is never held as a list)."""
    end = len(text) if end is None else end
    cuts = heapq.merge(
        (m.start() for m in _PARA.finditer(text, start, end)),
        (m.start() for m in _BULLET_LINE.finditer(text, start, end)),
        (m.end() for m in _END.finditer(text, start, end) if not _is_abbreviation(text, m.start())),
        [end],
    )
    a = start
    for b in cuts:
        if b <= a:
            continue
        s, e = _trim(text, a, b)
        if e > s:
            yield s, e
        a = b


def _split_long(
    text: str, span: tuple[int, int], budget: int, count: Callable[[str], int], max_chars: int
) -> list[tuple[int, int]]:
    """Cut a span over the token budget or ``max_chars`` into pieces under both.

    Each piece ends at the last word end that keeps it under both limits (found by bisection over the
    word ends within ``max_chars`` of its start, so work stays linear in the span); a single word over
    the limits is cut inside it.
    """
    a, b = span
    if b - a <= max_chars and count(text[a:b]) <= budget:
        return [span]
    pieces, cur = [], a
    while cur < b:
        limit = min(b, cur + max_chars)
        ends = [cur + m.end() for m in re.finditer(r"\S+", text[cur:limit])]
        if limit < b and ends and ends[-1] == limit and not text[limit].isspace():
            ends.pop()  # the word runs on past the limit
        end = _last_fitting(text, cur, ends, budget, count)
        if end is None:  # the first word alone is over a limit: cut inside it
            end = _last_fitting(text, cur, range(cur + 1, limit + 1), budget, count) or cur + 1
        pieces.append(_trim(text, cur, end))
        cur = end
        while cur < b and text[cur].isspace():
            cur += 1
    return [p for p in pieces if p[1] > p[0]]


def _last_fitting(
    text: str, start: int, ends: Sequence[int], budget: int, count: Callable[[str], int]
) -> int | None:
    """The last of the increasing ``ends`` with ``text[start:end]`` within the token budget, by bisection."""
    lo, hi = 0, len(ends)
    while lo < hi:
        mid = (lo + hi) // 2
        if count(text[start : ends[mid]]) <= budget:
            lo = mid + 1
        else:
            hi = mid
    return ends[lo - 1] if lo else None


class _Sections:
    """The heading stack of a document, carried across its pages."""

    def __init__(self) -> None:
        self.stack: list[Heading] = []

    def enter(self, h: Heading) -> None:
        # Levels are ingest's call (it nests a case study's own title under the case study).
        while self.stack and self.stack[-1].level >= h.level:
            self.stack.pop()
        self.stack.append(h)

    def close_labelled(self) -> None:
        """A "Source:" line closes the figure, table or case study above it."""
        while self.stack and self.stack[-1].level >= 3:
            self.stack.pop()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.title for h in self.stack)

    @property
    def in_references(self) -> bool:
        return bool(self.stack) and self.stack[-1].title.lower().rstrip(":") in _REFERENCE_SECTIONS


def _blocks(page: Page) -> Iterable[tuple[str, int, int]]:
    """(kind, start, end) in page order: heading, row (a tab-separated line), para (between blank lines)."""
    text = page.text
    heads = {h.start: h for h in page.headings}
    for m in _LINE.finditer(text):  # lazily: a page of a million short lines is never held as a list
        line, (a, b) = m.group(), m.span()
        s, e = _trim(text, a, b)
        if e <= s:
            yield "blank", a, b
        elif s in heads:
            yield "heading", s, e
        elif "\t" in line:
            yield "row", a, b
        else:
            yield "line", s, e


def _is_header_row(cells: list[str]) -> bool:
    """Short cells, none a sentence, none after the first an amount (a year or a date may head a column)."""
    cells = [c.strip() for c in cells if c.strip()]
    return (
        bool(cells)
        and all(len(c) <= 45 and not c.endswith(".") for c in cells)
        and not any(_AMOUNT_CELL.fullmatch(c) and not _YEAR_CELL.fullmatch(c) for c in cells[1:])
    )


def _is_label_line(line: str) -> bool:
    """A short line that names what follows, not a sentence: a table's title ("Consolidated Statements of
    Earnings"), its unit line, or a group of its rows ("Operating activities", "Other income (expense):")."""
    s = line.strip()
    return 0 < len(s) <= _LABEL_CHARS and not s.endswith((".", "!", "?"))


class Chunker:
    """Chunks one document's pages in order; state is the section path and the current table."""

    def __init__(
        self,
        title: str = "",
        max_tokens: int = 200,
        max_chars: int = 900,
        count_tokens: Callable[[str], int] = estimate_tokens,
    ) -> None:
        self.title = title
        self.max_tokens = max_tokens
        self.max_chars = max_chars
        self.count = count_tokens
        self.sections = _Sections()
        self.table: dict | None = None
        self.run: list[str] = []  # label lines since the last row, blank line, heading or sentence

    def chunks(self, pages: Iterable[Page]) -> list[Chunk]:
        out: list[Chunk] = []
        for page in pages:
            out.extend(self._page(page))
        return out

    def _emit(self, page: Page, sents: list[tuple[int, int]], kind: str = "text", context: str = "") -> Chunk:
        start, end = sents[0][0], sents[-1][1]
        if kind == "reference" and not context:
            context = REFERENCE_CONTEXT
        return Chunk(
            id=f"{page.doc}#p{page.page}:{start}-{end}",
            doc=page.doc,
            page=page.page,
            start=start,
            end=end,
            text=page.text[start:end],
            section=self.sections.path,
            sentences=tuple(sents),
            kind=kind,
            context=context,
        )

    def _page(self, page: Page) -> list[Chunk]:
        text, out = page.text, []
        self.run = []  # the page number and running foot above are not the next page's table title
        pending: list[tuple[int, int]] = []  # sentences of the chunk being filled
        para: list[tuple[int, int]] = []  # consecutive non-blank lines

        def flush_para() -> None:
            nonlocal pending
            if not para:
                return
            lines = list(para)
            para.clear()
            if self.sections.in_references:
                for a, b in _entries(text, lines):
                    last = out[-1] if out else None
                    if (
                        last is not None
                        and last.kind == "reference"
                        and not _URL.search(last.text)
                        and not _ENTRY_HEAD.match(text[a:b])
                        and not self._too_big(text, last.start, b)
                    ):
                        # An entry that wraps across a blank line ("… allocations." / "The Hindu. <https://…>")
                        sents = list(last.sentences) + split_sentences(text, a, b)
                        out[-1] = self._emit(page, sents, kind="reference")
                    else:
                        for group in self._pack(text, split_sentences(text, a, b), self.max_tokens):
                            out.append(self._emit(page, group, kind="reference"))
                return
            for sent in iter_sentences(text, lines[0][0], lines[-1][1]):
                for piece in _split_long(text, sent, self.max_tokens, self.count, self.max_chars):
                    if pending and self._too_big(text, pending[0][0], piece[1]):
                        out.append(self._emit(page, pending))
                        pending = []
                    pending.append(piece)

        def flush_chunk() -> None:
            nonlocal pending
            flush_para()
            if pending:
                out.append(self._emit(page, pending))
                pending = []

        for kind, a, b in _blocks(page):
            if kind == "line":
                if para and text[para[-1][1] : a].count("\n") > 1:
                    flush_para()
                line = text[a:b]
                if not _is_label_line(line):
                    self.run = []  # a sentence: what follows is not titled by the lines before it
                    self.table = None  # and it ends the table above it
                else:
                    self.run.append(line.strip())
                if text[a:b].startswith("Source:"):
                    para.append((a, b))
                    flush_chunk()
                    self.sections.close_labelled()
                    self.table = None
                    continue
                if len(para) > 1 and not self.sections.in_references:
                    para[-1] = (a, b)  # outside References only the paragraph's first and last line matter
                else:
                    para.append((a, b))
                continue
            if kind == "blank":
                flush_para()
                self.run = []
                if self.sections.in_references:
                    flush_chunk()
                continue
            flush_chunk()
            if kind == "heading":
                h = next(h for h in page.headings if h.start == a)
                self.sections.enter(h)
                self.table = None
                self.run = []
                pending = [(a, b)]
            else:
                out.extend(self._row(page, a, b))
        flush_chunk()
        return out

    def _too_big(self, text: str, a: int, b: int) -> bool:
        return b - a > self.max_chars or self.count(text[a:b]) > self.max_tokens

    def _row(self, page: Page, a: int, b: int) -> list[Chunk]:
        """One chunk per table row (more if it is too long to embed); table title, row group and header as
        context. The title is the label lines right above the table (a statement's name and unit), else the
        section; a line or two of them between rows name the group of rows below ("Investing activities"),
        more (or any above a new header row) start a new table."""
        text = page.text
        cells = text[a:b].split("\t")
        stripped = [c.strip() for c in cells]
        run, self.run = self.run, []
        if self.table is not None and (len(run) > _GROUP_LINES or (run and _is_header_row(cells))):
            self.table = None
        if self.table is None:
            named = [line for line in run if re.search(r"[A-Za-z]{2}", line)][:_TITLE_LINES]
            title = " | ".join(named) or (self.sections.path[-1] if self.sections.path else "")
            self.table = {"title": title, "header": None, "first": "", "group": ""}
            if _is_header_row(cells):
                self.table["header"] = stripped
        elif run:
            self.table["group"] = " | ".join(run)
        header = self.table["header"]
        context = " | ".join(p for p in (self.table["title"], self.table["group"]) if p)
        if header and stripped != header:
            if len(header) == len(cells) - 1:
                header = ["", *header]  # periods over the amounts, none over the labels
            context += " | Columns: " + " | ".join(h or "-" for h in header)
            if not cells[0].strip() and self.table["first"]:
                context += f" | {header[0] or 'Row'}: {self.table['first']}"
            if cells[0].strip():
                self.table["first"] = cells[0].strip()  # the row label that rows below with no label share
        sents: list[tuple[int, int]] = []
        pos = a
        for cell in cells:
            s, e = _trim(text, pos, pos + len(cell))
            if e > s:
                sents.extend(split_sentences(text, s, e))
            pos += len(cell) + 1
        budget = max(48, self.max_tokens - self.count(context))
        return [
            self._emit(page, g, kind="table_row", context=context) for g in self._pack(text, sents, budget)
        ]

    def _pack(self, text: str, sents: list[tuple[int, int]], budget: int) -> list[list[tuple[int, int]]]:
        """Sentences (cut at words where one is too long) packed in order into groups under the budget."""
        groups: list[list[tuple[int, int]]] = [[]]
        for sent in sents:
            for piece in _split_long(text, sent, budget, self.count, self.max_chars):
                a = groups[-1][0][0] if groups[-1] else piece[0]
                if groups[-1] and (piece[1] - a > self.max_chars or self.count(text[a : piece[1]]) > budget):
                    groups.append([])
                groups[-1].append(piece)
        return [g for g in groups if g]


def _entries(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of the References entries in a block of lines: a line opening with "Author. (year" starts one."""
    out: list[list[int]] = []
    for a, b in lines:
        if not out or _ENTRY_HEAD.match(text[a:b]):
            out.append([a, b])
        else:
            out[-1][1] = b
    return [(a, b) for a, b in out]


def chunk_document(
    pages: list[Page],
    title: str = "",
    max_tokens: int = 200,
    max_chars: int = 900,
    count_tokens: Callable[[str], int] = estimate_tokens,
) -> list[Chunk]:
    """All chunks of one document, in page order, with stable ids."""
    return Chunker(title, max_tokens, max_chars, count_tokens).chunks(pages)
