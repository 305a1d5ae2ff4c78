"""Table rows in plain extracted text → tab-separated cells, so the chunker reads them as table rows.

PDFium gives a financial statement's row as one line with single spaces ("Revenue $ 46,298 $ 51,761
$ 47,262"). A line that ends in two or more amounts gets a tab before each amount; the line of period
headings above such rows, with as many dates or years ("Fiscal Years Ended January 28, 2023 January 29, 2022
January 30, 2021"), gets one before each period. Only spaces become tabs: the text keeps its length and
words, and a line that is not a row is left as it was.
"""

from __future__ import annotations

import re

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_AMOUNT = re.compile(r"[$€£¥]?\(?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\)?%?|[-—–]")
_CURRENCY = {"$", "€", "£", "¥"}
_PERIOD = re.compile(rf"(?<!\S)(?:{_MONTH} \d{{1,2}}, )?(?:19|20)\d\d(?!\S)")
_DATE_BEFORE = re.compile(rf"{_MONTH} \d{{1,2}},$")
HEADER_REACH = 3  # lines from a period-heading line down to the first row it heads


def amount_cells(line: str) -> list[int]:
    """Start offsets of the amounts a table row ends with (two or more, after a label with a letter), else
    []. A currency sign alone before an amount, and a percent sign alone after it, belong to it ("$ 46,298",
    "24.2 %"); a year after "December 31," is part of the label."""
    tokens = list(re.finditer(r"\S+", line))
    starts: list[int] = []
    i = len(tokens) - 1
    while i >= 0 and _AMOUNT.fullmatch(tokens[i].group()) or (i > 0 and tokens[i].group() == "%"):
        if tokens[i].group() == "%":  # "24.2 %"
            i -= 1
            if not _AMOUNT.fullmatch(tokens[i].group()):
                break
        start = tokens[i].start()
        if i > 0 and tokens[i - 1].group() in _CURRENCY:
            i -= 1
            start = tokens[i].start()
        starts.append(start)
        i -= 1
    starts.reverse()
    if (
        starts
        and _DATE_BEFORE.search(line[: starts[0]].rstrip())
        and re.fullmatch(r"\d{4} ?", line[starts[0] : starts[0] + 5])
    ):
        starts.pop(0)
    label = line[: starts[0]] if starts else ""
    return starts if len(starts) >= 2 and re.search(r"[A-Za-z]", label) else []


def period_cells(line: str) -> list[int]:
    """Start offsets of the dates or years a heading line ends with (two or more), else []."""
    found = list(_PERIOD.finditer(line))
    run: list[re.Match] = []
    for m in reversed(found):
        end = run[0].start() - 1 if run else len(line.rstrip())
        if m.end() != end:
            break
        run.insert(0, m)
    return [m.start() for m in run] if len(run) >= 2 else []


def statement_cells(text: str) -> str:
    """The text with the rows of its tables (and their period headings) tab-separated."""
    lines = text.split("\n")
    cells = [amount_cells(line) for line in lines]
    for i, line in enumerate(lines):
        if cells[i]:
            continue
        periods = period_cells(line)
        below = cells[i + 1 : i + 1 + HEADER_REACH]
        if periods and any(len(row) == len(periods) for row in below):
            cells[i] = periods
    return "\n".join(_tabbed(line, starts) for line, starts in zip(lines, cells, strict=True))


def _tabbed(line: str, starts: list[int]) -> str:
    chars = list(line)
    for s in starts:
        if s > 0 and chars[s - 1] == " ":
            chars[s - 1] = "\t"
    return "".join(chars)
