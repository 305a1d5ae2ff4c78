"""Word documents (.docx) → pages, with python-docx.

Headings (the "Title" and "Heading N" styles) give the section path; each paragraph is a paragraph; each
table row is one line of tab-separated cells (merged cells once), which the chunker reads as a table row
with the table's title and header row as its context, like a text table. A hard page break starts a new
page; without one the document is one page. The title is the document's core property, else its first
heading, else its first lines. A file that is not a readable .docx (a corrupt zip, another format renamed)
is refused with its reason; so is one whose XML would unpack to more than ``MAX_XML_BYTES``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from qa.errors import IngestError
from qa.ingest.normalise import first_block_title, marked_heading, pages_from_texts, strip_marks
from qa.records import Document, Page

MAX_XML_BYTES = 512 << 20  # a deflate bomb would unpack in memory: refused before python-docx parses it
_HEADING_STYLE = re.compile(r"^(?:heading|title)\s*(\d?)$", re.I)
_BLANKS = re.compile(r"\s+")
_PAGE_BREAK = ".//w:br[@w:type='page']"


def read_docx(path: Path, doc: str, head: bytes = b"") -> tuple[Document, list[Page]]:
    import docx
    from docx.table import Table

    if head and not head.startswith(b"PK"):
        raise IngestError("not a Word document (not a .docx zip file)")
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist() if i.filename.endswith(".xml"))
        if unpacked > MAX_XML_BYTES:
            raise IngestError(f"Word document too large unpacked ({unpacked >> 20} MiB of XML)")
        document = docx.Document(str(path))
    except IngestError:
        raise
    except Exception as e:  # zipfile, python-docx and lxml raise many types for damaged files
        raise IngestError(f"corrupt or unreadable Word document ({type(e).__name__}: {e})") from None
    pages: list[list[str]] = [[]]
    headings: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = _table_rows(block)
            if rows:
                pages[-1].append("\n".join(rows))
            continue
        level = _heading_level(block)
        if block.paragraph_format.page_break_before and any(pages[-1]):
            pages.append([])
        pieces = _paragraph_pieces(block)
        for n, piece in enumerate(pieces):
            if n:
                pages.append([])
            if not piece.strip():
                continue
            if level and n == 0:
                title = _BLANKS.sub(" ", piece).strip()
                headings.append(title)
                pages[-1].append(marked_heading(level, title))
            else:
                pages[-1].append(piece.strip())
    texts = ["\n\n".join(blocks) for blocks in pages]
    if not any(t.strip() for t in texts):
        raise IngestError("no text in the Word document")
    out = pages_from_texts(doc, texts, markdown=False, marked=True)
    core = (document.core_properties.title or "").strip()
    first = next((p.text for p in out if p.text), "")
    title = core or (headings[0] if headings else None) or first_block_title(first) or path.stem
    return Document(doc=doc, title=title, format="docx", pages=len(out)), out


def _heading_level(paragraph) -> int:
    """1 for Title and Heading 1, N for Heading N (by style name or id, so renamed built-ins still count)."""
    style = paragraph.style
    for name in (style.name, style.style_id) if style is not None else ():
        m = _HEADING_STYLE.match(name or "")
        if m:
            return int(m.group(1) or 1) or 1
    return 0


def _paragraph_pieces(paragraph) -> list[str]:
    """The paragraph's text, one piece per page it spans (a run holding a hard page break ends a page).
    Tabs inside a paragraph become spaces: a tab-separated line is a table row to the chunker."""
    from docx.text.hyperlink import Hyperlink

    pieces = [""]
    for item in paragraph.iter_inner_content():
        for run in item.runs if isinstance(item, Hyperlink) else [item]:
            pieces[-1] += strip_marks(run.text).replace("\t", " ")
            if run._r.xpath(_PAGE_BREAK):
                pieces.append("")
    return pieces


def _table_rows(table) -> list[str]:
    """Each row as tab-separated cells; a merged cell once; rows with no text left out."""
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if last is not None and cell._tc is last:
                continue
            last = cell._tc
            cells.append(_BLANKS.sub(" ", strip_marks(cell.text)).strip())
        if any(cells):
            rows.append("\t".join(cells))
    return rows
