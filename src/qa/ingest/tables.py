"""Table rows in plain extracted text → tab-separated cells, so the chunker reads them as table rows.

PDFium gives a financial statement's row as one line with single spaces ("Revenue $ 46,298 $ 51,761
$ 47,262"). A line that ends in two or more amounts gets a tab before each amount; the line of period
headings above such rows, with as many dates or years ("Fiscal Years Ended January 28, 2023 January 29, 2022
January 30, 2021"), gets one before each period. Some filings print the periods one to a line, a date's
year under it ("December 31," / "2022" / "December 31," / "2021"): such a stack right above rows with as
many amounts becomes that one heading line (the line breaks inside a date a space, those between periods a
tab). A total row with no label ("$ 45,692,206 $ 40,899,116") next to rows with as many amounts is a row
too. Only spaces and line breaks become tabs or spaces: the text keeps its length and words, and a line
that is not a row is left as it was.
"""

from __future__ import annotations

import re

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_AMOUNT = re.compile(r"[$€£¥]?\(?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\)?%?|[-—–]")
_CURRENCY = {"$", "€", "£", "¥"}
_PERIOD = re.compile(rf"(?<!\S)(?:{_MONTH} \d{{1,2}}, )?(?:19|20)\d\d(?!\S)")
_DATE_BEFORE = re.compile(rf"{_MONTH} \d{{1,2}},$")
_STACKED_DATE = re.compile(rf"(?:[A-Z][a-z]+ )?{_MONTH} \d{{1,2}},")  # "December 31," / "At January 1,"
_STACKED_PERIOD = re.compile(rf"(?:[A-Z][a-z]+ )?(?:{_MONTH} \d{{1,2}}, )?(?:19|20)\d\d")  # a line of one
_YEAR = re.compile(r"(?:19|20)\d\d")
HEADER_REACH = 3  # lines from a period-heading line down to the first row it heads


def amount_cells(line: str) -> list[int]:
    """Start offsets of the amounts a table row ends with (two or more, after a label with a letter), else
    []. A currency sign alone before an amount, and a percent sign alone after it, belong to it ("$ 46,298",
    "24.2 %"); a year after "December 31," is part of the label."""
    starts = _amount_starts(line)
    label = line[: starts[0]] if starts else ""
    return starts if len(starts) >= 2 and re.search(r"[A-Za-z]", label) else []


def bare_cells(line: str) -> list[int]:
    """Start offsets of the amounts of a line that is nothing but two or more amounts (a total row printed
    without its label), else []."""
    starts = _amount_starts(line)
    return starts if len(starts) >= 2 and not line[: starts[0]].strip() else []


def _amount_starts(line: str) -> list[int]:
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
    return starts


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


def stacked_periods(lines: list[str], i: int) -> tuple[int, list[str]]:
    """The periods printed one to a line from line ``i`` on ("December 31," / "2022" / "2021"): the index of
    the line after them and what each line break inside them becomes (a space inside a date, a tab between
    two periods); (i, []) when fewer than two periods start there."""
    j, seps = i, []
    while j < len(lines):
        line = lines[j].strip()
        if _STACKED_DATE.fullmatch(line) and j + 1 < len(lines) and _YEAR.fullmatch(lines[j + 1].strip()):
            seps += [" ", "\t"]
            j += 2
        elif _STACKED_PERIOD.fullmatch(line):
            seps.append("\t")
            j += 1
        else:
            break
    if seps.count("\t") < 2:
        return i, []
    return j, seps[:-1]


def statement_cells(text: str) -> str:
    """The text with the rows of its tables (and their period headings) tab-separated."""
    lines = text.split("\n")
    labelled = [amount_cells(line) for line in lines]
    cells = list(labelled)
    for i, line in enumerate(lines):
        bare = [] if cells[i] else bare_cells(line)
        near = labelled[max(0, i - HEADER_REACH) : i] + labelled[i + 1 : i + 1 + HEADER_REACH]
        if bare and any(len(row) == len(bare) for row in near):
            cells[i] = bare[1:]  # no label: a tab before each amount after the first
    seps = ["\n"] * len(lines)
    i = 0
    while i < len(lines):
        if cells[i]:
            i += 1
            continue
        end, joins = stacked_periods(lines, i)
        if joins:  # one period a line: no line of the stack holds two (period_cells), so past it either way
            if any(len(row) == joins.count("\t") + 1 for row in cells[end : end + HEADER_REACH]):
                seps[i : end - 1] = joins
            i = end
            continue
        periods = period_cells(lines[i])
        below = cells[i + 1 : i + 1 + HEADER_REACH]
        if periods and any(len(row) == len(periods) for row in below):
            cells[i] = periods
        i += 1
    tabbed = [_tabbed(line, starts) for line, starts in zip(lines, cells, strict=True)]
    return "".join(line + sep for line, sep in zip(tabbed, seps, strict=True))[:-1]


def _tabbed(line: str, starts: list[int]) -> str:
    chars = list(line)
    for s in starts:
        if s > 0 and chars[s - 1] == " ":
            chars[s - 1] = "\t"
    return "".join(chars)
