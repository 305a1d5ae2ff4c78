"""PDF files → pages: one page per physical page, 1-based.

pypdf opens the file (encryption with an empty password, page count), gives the printed page labels from
/PageLabels and the metadata title; where a PDF has no labels, a number printed alone on a page's first or
last line is its label. A filing's title is what its cover says (registrant, form, period: EDGAR's PDFs
often have an accession number as their metadata title), else the metadata title where it has a word,
else the first page's first lines.

The text comes from the extractor in ``Settings.pdf_text``, chosen by retrieval and speed measured together
(``bench/extractors.py``, table in the README): ``pypdfium2`` by default (15× faster than pypdf's
extraction, retrieval as good or better); ``pypdfium2-cells`` and ``pypdf-layout`` keep table columns as
tab-separated cells (measured: they lower retrieval today, rows crowd the hits); ``pypdf`` as before. The
plain extractors' text gets tabs only in the rows of financial statements and their period headings
(``qa.ingest.tables``), so each row is chunked with its table's title and header. A file pypdfium2 cannot
open is read with pypdf; a page whose content would inflate past ``INFLATE_LIMIT`` is not read. Pages with
no text layer are OCR'd where they hold an image (qa.ingest.ocr); the rest are reported.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

from qa.doc_identity import identify, is_title, pdf_metadata
from qa.errors import IngestError
from qa.ingest.corpus import FileReport
from qa.ingest.normalise import first_block_title, pages_from_texts
from qa.ingest.tables import statement_cells
from qa.records import Document, Page

EXTRACTORS = ("pypdfium2", "pypdfium2-cells", "pypdf", "pypdf-layout")
PLAIN = ("pypdfium2", "pypdf")  # text with single spaces between columns (qa.ingest.tables finds the rows)
# PDFium is not thread-safe; the server reads uploads while a build may run in another thread.
PDFIUM_LOCK = threading.Lock()

# PDFium inflates a page's content streams whole, with no limit: a deflate bomb (2 MB on disk, GiBs
# inflated) would take that much memory. A page whose compressed contents pass ``_BIG_CONTENT`` is inflated
# here first, as far as ``INFLATE_LIMIT`` (pypdf's default limit); a page past it is not read (reported).
_BIG_CONTENT = 1 << 20
INFLATE_LIMIT = 75_000_000
_LONE_NUMBER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6})\s*$", re.I)
# PDFium puts U+FFFE for a hyphen that ended a line, and drops the line break: both restored, so the
# normaliser joins "in-" / "frastructure" and keeps "India-" / "Japan". Symbol-font bullets are private-use.
_PDFIUM_CHARS = str.maketrans({"\ufffe": "-\n", "\uf0b7": "•", "\uf09e": "•", "\uf0a7": "▪", "\uf0d8": "•"})
_COLUMN_GAP = re.compile(r"(?<=\S) {3,}(?=\S)")
_WORD_SPACE = re.compile(r"(?<=\S) (?=\S)")
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
    bombs = inflating_pages(reader, path.stat().st_size)
    for i in sorted(bombs):
        report.warnings.append(
            f"page {i + 1}: not read (its content inflates past {INFLATE_LIMIT >> 20} MiB)"
        )
    raw = page_texts(path, reader, extractor, report, skip=bombs)
    if extractor in PLAIN:
        raw = [statement_cells(t) for t in raw]  # a statement's rows and period headings as cells
    ocr, unread = ocr_empty_pages(path, doc, raw, report, options, skip=bombs)
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
    if not is_title(meta_title):
        meta_title = None  # an accession number ("0000320193-23-000106") is no title
    # A filing's cover says what it is (registrant, form, period); its metadata title is often an accession
    # number or the cover's first line ("UNITED STATES SECURITIES AND EXCHANGE COMMISSION").
    identity, cover_title = identify(path, meta_title or "", pages, pdf_metadata(reader))
    title = cover_title or meta_title or first_block_title(first) or path.stem
    return Document(doc=doc, title=title, format="pdf", pages=n, identity=identity), pages


def page_texts(
    path: Path, reader, extractor: str, report: FileReport, skip: set[int] = frozenset()
) -> list[str]:
    """Raw text of every page with the chosen extractor ("" where a page has none, extraction failed, or it
    is in ``skip``)."""
    n = len(reader.pages)
    if extractor.startswith("pypdfium2"):
        texts = _pdfium_texts(path, n, report, extractor == "pypdfium2-cells", skip)
        if texts is not None:
            return texts
    mode = {"extraction_mode": "layout"} if extractor == "pypdf-layout" else {}
    out = []
    for i in range(n):
        if i in skip:
            out.append("")
            continue
        try:
            text = reader.pages[i].extract_text(**mode) or ""
        except Exception as e:
            report.warnings.append(f"page {i + 1}: text extraction failed ({type(e).__name__})")
            text = ""
        out.append(layout_cells(text) if mode else text)
    return out


def _pdfium_texts(path: Path, n: int, report: FileReport, cells: bool, skip: set[int]) -> list[str] | None:
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
                if i in skip:
                    out.append("")
                    continue
                try:
                    textpage = pdf[i].get_textpage()
                    text = textpage.get_text_range()
                    text = _pdfium_cells(textpage, text) if cells else text
                except Exception as e:
                    report.warnings.append(f"page {i + 1}: text extraction failed ({type(e).__name__})")
                    text = ""
                out.append(text.replace("\r\n", "\n").translate(_PDFIUM_CHARS))
        finally:
            pdf.close()
    return out


def inflating_pages(reader, file_size: int) -> set[int]:
    """Indexes of pages whose content streams inflate past ``INFLATE_LIMIT`` (checked where they are big)."""
    import zlib

    from pypdf.generic import ArrayObject

    out = set()
    if not _has_big_object(reader, file_size):
        return out  # no stream in the file is big enough to hide a bomb: no page is walked
    for i, page in enumerate(reader.pages):
        try:
            contents = page.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            streams = [
                s.get_object() for s in (contents if isinstance(contents, ArrayObject) else [contents]) if s
            ]
            if sum(len(getattr(s, "_data", b"")) for s in streams) < _BIG_CONTENT:
                continue
            total = 0
            for s in streams:
                filters = s.get("/Filter")
                if (
                    filters[0] if isinstance(filters, ArrayObject) and filters else filters
                ) != "/FlateDecode":
                    continue
                inflate, data = zlib.decompressobj(), s._data
                while data and total <= INFLATE_LIMIT:
                    total += len(inflate.decompress(data, 1 << 24))
                    data = inflate.unconsumed_tail
            if total > INFLATE_LIMIT:
                out.add(i)
        except Exception:  # a damaged page: its extraction reports it
            continue
    return out


def _has_big_object(reader, file_size: int) -> bool:
    """Whether some object of the file takes ``_BIG_CONTENT`` bytes or more (from the xref's offsets; a
    stream is never inside an object stream). Scans and bombs have such objects; text PDFs rarely."""
    try:
        offsets = sorted({o for objs in reader.xref.values() for o in objs.values() if isinstance(o, int)})
    except Exception:
        return True
    if not offsets:
        return True
    bounds = [*offsets, file_size]
    return any(b - a >= _BIG_CONTENT for a, b in zip(bounds, bounds[1:], strict=False))


def _pdfium_cells(textpage, text: str) -> str:
    """PDFium's text with table cells tab-separated: a space between two words wider than twice the line's
    height (the character's loose box: ascent to descent) is a column gap. Measured: word spaces are
    0.1-1.3 heights (justified prose included), the columns of a financial statement 2.7 and more."""
    import pypdfium2.raw as pdfium_c

    if len(text) != textpage.count_chars():  # characters outside the BMP: offsets differ, keep it plain
        return text
    raw, out = textpage.raw, list(text)
    before, after = pdfium_c.FS_RECTF(), pdfium_c.FS_RECTF()
    for m in _WORD_SPACE.finditer(text):
        i = m.start()
        if not (
            pdfium_c.FPDFText_GetLooseCharBox(raw, i - 1, before)
            and pdfium_c.FPDFText_GetLooseCharBox(raw, i + 1, after)
        ):
            continue
        height = before.top - before.bottom
        if height > 0 and after.left - before.right > 2 * height:
            out[i] = "\t"
    return "\n".join(_join_currency(line) for line in "".join(out).split("\r\n"))


def layout_cells(text: str) -> str:
    """pypdf layout-mode text with table cells tab-separated: a gap of three or more spaces inside a line
    is a column boundary."""
    return "\n".join(_join_currency(_COLUMN_GAP.sub("\t", line.strip())) for line in text.split("\n"))


def _join_currency(line: str) -> str:
    """A currency sign alone in its column joins the amount after it ("$", "46,298" → "$ 46,298")."""
    return _LONE_CURRENCY.sub(r"\1 ", line) if "\t" in line else line


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
