"""How an answer is put to people, as plain text: where a quote is and how sure the answer is.

A document has pages when it is a PDF or was split into pages (form feeds, Word page breaks); a text or
Markdown file in one piece, like the shipped brief, is cited by its section, not as "p. 1" on every answer.
Confidence is said in words from the calibrated probability that the answer is right (the number stays
available, e.g. on hover); below ``UNSURE`` an answer says it is uncertain before its quote.
"""

from __future__ import annotations

from qa.records import Citation

LIKELY = 0.8  # at least this calibrated probability: "likely right"
UNSURE = 0.5  # below it: "uncertain"
UNCERTAIN_NOTE = "Uncertain: this may not answer the question; check the source before relying on it."


def has_pages(meta: dict | None) -> bool:
    """Whether a document (its manifest entry: format, pages) is cited by page."""
    meta = meta or {}
    return meta.get("format") in ("pdf", None) or (meta.get("pages") or 1) > 1


def page_words(page: int, label: str | None) -> str:
    """ "p. 19 (printed 15)", or "p. 3" where the printed label is the page number or unknown."""
    return f"p. {page}" + (f" (printed {label})" if label and label != str(page) else "")


def location(c: Citation, paged: bool = True) -> str:
    """Where a quote is, without the title: "p. 19 (printed 15) · Part › Section", or by section alone
    in a document without pages ("" when it has no section either)."""
    section = " › ".join(c.section[-3:])
    where = [page_words(c.page, c.label)] if paged else []
    if c.ocr and paged:
        where[0] += ", OCR"
    return " · ".join([*where, section] if section else where)


def confidence_words(p: float, abstained: bool = False) -> str:
    """The calibrated probability in words."""
    if abstained:
        return "no answer found"
    if p >= LIKELY:
        return "likely right"
    return "probably right" if p >= UNSURE else "uncertain"


def confidence_title(p: float) -> str:
    """The number behind the words, for a tooltip."""
    return f"calibrated probability that the answer is right: {p:.2f}"
