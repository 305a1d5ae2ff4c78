"""PDF files → pages: one page per physical page, 1-based.

pypdf opens the file (encryption with an empty password, page count), gives the printed page labels from
/PageLabels and the metadata title; where a PDF has no labels, a number printed alone on a page's first or
last line is its label. The text comes from the extractor in ``Settings.pdf_text``, chosen by measured
retrieval and speed (``bench/extractors.py``, table in the README): pypdfium2 by default (about 20× faster
than pypdf's own extraction, with at least its retrieval quality); ``pypdf`` and ``pypdf-layout`` (pypdf's
layout mode, runs of three or more spaces read as table cell boundaries) stay selectable. A file pypdfium2
cannot open is read with pypdf. Pages with no text layer are OCR'd where they hold an image (qa.ingest.ocr);
the rest are reported.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

from qa.errors import IngestError
from qa.ingest.corpus import FileReport
from qa.ingest.normalise import first_block_title, pages_from_texts
from qa.records import Document, Page

EXTRACTORS = ("pypdfium2", "pypdf", "pypdf-layout")
# PDFium is not thread-safe; the server reads uploads while a build may run in another thread.
PDFIUM_LOCK = threading.Lock()

_LONE_NUMBER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6})\s*$", re.I)
# PDFium puts U+FFFE for a hyphen that ended a line, and drops the line break: both restored, so the
# normaliser joins "in-" / "frastructure" and keeps "India-" / "Japan". Symbol-font bullets are private-use.
_PDFIUM_CHARS = str.maketrans({"\ufffe": "-\n", "\uf0b7": "•", "\uf09e": "•", "\uf0a7": "▪", "\uf0d8": "•"})
_COLUMN_GAP = re.compile(r"(?<=\S) {3,}(?=\S)")
_LONE_CURRENCY = re.compile(r"(?:^|(?<=\t))([$€£¥])\t")


def read_pdf(path: Path, doc: str, report: FileReport, options=None) -> tuple[Document, list[Page]]:
    """``options``: a ``qa.ingest.ReadOptions`` (extractor, OCR cap, OCR cache, progress)."""
    from pypdf import PasswordType, PdfReader

    from qa.ingest import ReadOptions
    from qa.ingest.ocr import ocr_empty_pages

    options = options or ReadOptions()
    extractor = options.pdf_text
    if extractor not in EXTRACTORS:
        raise ValueError(f"unknown PDF text extractor {extractor!r} (one of {', '.join(EXTRACTORS)})")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError("encrypted with a password")
        n = len(reader.pages)
        labels = list(reader.page_labels) if "/PageLabels" in reader.trailer["/Root"] else None
    except IngestError:
        raise
    except Exception as e:  # pypdf raises many types for damaged files
        raise IngestError(f"corrupt or unreadable PDF ({type(e).__name__}: {e})") from None
    if n == 0:
        raise IngestError("PDF has no pages")
    raw = page_texts(path, reader, extractor, report)
    ocr, unread = ocr_empty_pages(path, doc, raw, report, options)
    for i, result in ocr.items():
        raw[i] = result.text
    if not any(t.strip() for t in raw):
        raise IngestError("no text layer on any page (scanned?)" + "".join(f"; {why}" for why in unread))
    pages = pages_from_texts(doc, raw, markdown=False, labels=labels or [_printed_number(t) for t in raw])
    pages = [
        replace(p, ocr=True, ocr_confidence=ocr[p.page - 1].confidence) if p.page - 1 in ocr else p
        for p in pages
    ]
    meta_title = None
    try:
        meta_title = (reader.metadata.title or "").strip() if reader.metadata else None
    except Exception:
        meta_title = None
    first = next((p.text for p in pages if p.text), "")
    title = meta_title or first_block_title(first) or path.stem
    return Document(doc=doc, title=title, format="pdf", pages=n), pages


def page_texts(path: Path, reader, extractor: str, report: FileReport) -> list[str]:
    """Raw text of every page with the chosen extractor ("" where a page has none or extraction failed)."""
    n = len(reader.pages)
    if extractor == "pypdfium2":
        texts = _pdfium_texts(path, n, report)
        if texts is not None:
            return texts
    mode = {"extraction_mode": "layout"} if extractor == "pypdf-layout" else {}
    out = []
    for i in range(n):
        try:
            text = reader.pages[i].extract_text(**mode) or ""
        except Exception as e:
            report.warnings.append(f"page {i + 1}: text extraction failed ({type(e).__name__})")
            text = ""
        out.append(layout_cells(text) if mode else text)
    return out


def _pdfium_texts(path: Path, n: int, report: FileReport) -> list[str] | None:
    """Page texts from PDFium, or None where it cannot open the file or counts other pages than pypdf."""
    import pypdfium2 as pdfium

    out = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
        except Exception:
            return None
        try:
            if len(pdf) != n:
                return None
            for i in range(n):
                try:
                    page = pdf[i]
                    text = page.get_textpage().get_text_range()
                except Exception as e:
                    report.warnings.append(f"page {i + 1}: text extraction failed ({type(e).__name__})")
                    text = ""
                out.append(text.replace("\r\n", "\n").translate(_PDFIUM_CHARS))
        finally:
            pdf.close()
    return out


def layout_cells(text: str) -> str:
    """pypdf layout-mode text with table cells tab-separated: a gap of three or more spaces inside a line
    is a column boundary; a currency sign alone in its column joins the amount after it ("$ 46,298")."""
    lines = (_COLUMN_GAP.sub("\t", line.strip()) for line in text.split("\n"))
    return "\n".join(_LONE_CURRENCY.sub(r"\1 ", line) for line in lines)


def _printed_number(text: str) -> str | None:
    """A page number printed alone on the first or last line of a page (used where a PDF has no labels)."""
    lines = [ln for ln in text.strip().split("\n") if ln.strip()]
    for line in (lines[:1] + lines[-1:]) if lines else []:
        if _LONE_NUMBER.match(line):
            return line.strip()
    return None


def ranges(nums: list[int]) -> str:
    """1, 2, 3, 5 → "1-3, 5"."""
    out, start = [], nums[0]
    for a, b in zip(nums, nums[1:] + [None], strict=True):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)
