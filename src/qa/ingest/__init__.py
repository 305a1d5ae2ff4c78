"""Files → normalised pages. One reader per format (``pdf``, ``ocr`` for scanned PDF pages, ``word`` for
.docx, ``text`` for text, Markdown and HTML); one normaliser for all (``normalise``); the corpus walk
(``corpus``). Every reader raises IngestError with the reason a file cannot be read; nothing else is fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import IngestError
from qa.ingest.corpus import FORMATS, IGNORE_FILE, FileReport, scan_corpus, sha256_file
from qa.ingest.normalise import find_headings, join_page_hyphens, markdown_to_marked, normalise
from qa.ingest.text import decode_text, main_text_markdown, read_html, read_text
from qa.records import Document, Page

__all__ = [
    "FORMATS",
    "IGNORE_FILE",
    "FileReport",
    "ReadOptions",
    "decode_text",
    "find_headings",
    "join_page_hyphens",
    "main_text_markdown",
    "markdown_to_marked",
    "normalise",
    "read_file",
    "read_html",
    "read_text",
    "scan_corpus",
    "sha256_file",
]


@dataclass
class ReadOptions:
    """How PDFs are read: the text extractor, the OCR cap per file, the OCR cache shared by a build (None:
    no cache) and a progress callback ``(stage, done, total)`` for the OCR of a file's pages."""

    pdf_text: str = "pypdfium2"
    max_ocr_pages: int = 50
    ocr_cache: object | None = None  # qa.ingest.ocr.OcrCache
    progress: Callable[[str, int, int], None] | None = None

    @classmethod
    def from_settings(cls, settings, ocr_cache=None, progress=None) -> ReadOptions:
        return cls(settings.pdf_text, settings.max_ocr_pages, ocr_cache, progress)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def read_file(
    path: Path, doc: str, max_bytes: int, report: FileReport, options: ReadOptions | None = None
) -> tuple[Document, list[Page]]:
    """Read one corpus file into pages. Raises IngestError with the reason when it cannot."""
    size = path.stat().st_size
    fmt = FORMATS[path.suffix.lower()]
    if size > max_bytes:
        kind = {"pdf": "PDFs", "docx": "Word documents"}.get(fmt, "text, Markdown and HTML")
        raise IngestError(f"file too large ({_size(size)} > cap of {_size(max_bytes)} for {kind})")
    if size == 0:
        raise IngestError("empty file")
    if fmt in ("pdf", "docx"):
        with open(path, "rb") as f:
            head = f.read(1024)
        if fmt == "pdf":
            if not head.lstrip().startswith(b"%PDF"):
                raise IngestError("not a PDF (no %PDF header)")
            from qa.ingest.pdf import read_pdf

            return read_pdf(path, doc, report, options or ReadOptions())
        from qa.ingest.word import read_docx

        return read_docx(path, doc, head)
    data = path.read_bytes()
    if data.lstrip()[:5] == b"%PDF-":
        raise IngestError(f"PDF data in a {path.suffix} file")
    if fmt == "html":
        return read_html(path, doc, data)
    return read_text(path, doc, data, markdown=fmt == "markdown")
