"""The page view: a cited page shown inside the app with the quote on it.

A PDF page is rendered with pypdfium2 and the quote is highlighted where it is printed: its characters are
found in PDFium's text layer (matched on letters and digits, so hyphenation, ligatures and spacing that the
index normalised away do not matter; the occurrence nearest the quote's offset wins) and their character
boxes, merged per line, are drawn over the image. A page the index read by OCR has no text layer: its boxes
are Tesseract's word boxes on the same 300 dpi rendering the index read, where Tesseract is installed;
without it the page is shown unmarked and says why. Text, Markdown, HTML and Word pages show the page text
with the quote marked. Everything from a document is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import functools
import html
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.links import doc_links

IMAGE_WIDTH = 1200  # px of a rendered page; the view scales it to the window
TEXT_LAYER = "text layer"
OCR_BOXES = "OCR (Tesseract word boxes)"


@dataclass(frozen=True)
class Placement:
    """Where a quote is on a rendered page: boxes as fractions of the page (left, top, right, bottom)."""

    size: tuple[float, float]  # the page's width and height in points, as rendered
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    source: str = ""  # TEXT_LAYER, OCR_BOXES, or "" when the quote is not placed
    note: str = ""  # why it is not placed


def _alnum(pieces) -> tuple[str, list]:
    """Letters and digits of ``(text, unit)`` pieces, lower-cased and NFKC-folded, and the unit of each."""
    chars, owner = [], []
    for text, unit in pieces:
        for ch in unicodedata.normalize("NFKC", text).lower():
            if ch.isalnum():
                chars.append(ch)
                owner.append(unit)
    return "".join(chars), owner


def locate(pieces, page_text: str, start: int, end: int) -> list:
    """The units (characters or words) of ``pieces`` that spell ``page_text[start:end]``, in order; [] if
    the quote is not among them. Of several occurrences, the one nearest the quote's place in the page."""
    seq, owner = _alnum(pieces)
    quote, _ = _alnum([(page_text[start:end], None)])
    if not quote:
        return []
    expected = len(_alnum([(page_text[:start], None)])[0])
    best, pos = None, seq.find(quote)
    while pos >= 0:
        if best is None or abs(pos - expected) < abs(best - expected):
            best = pos
        pos = seq.find(quote, pos + 1)
    if best is None:
        return []
    return list(dict.fromkeys(owner[best : best + len(quote)]))


def merge_lines(rects: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Boxes (left, top, right, bottom; y down) in reading order merged into one box per line."""
    lines: list[list[float]] = []
    for left, top, right, bottom in rects:
        cur = lines[-1] if lines else None
        mid = (top + bottom) / 2
        if cur and cur[1] <= mid <= cur[3] and left >= cur[0] - (cur[3] - cur[1]):
            cur[:] = [min(cur[0], left), min(cur[1], top), max(cur[2], right), max(cur[3], bottom)]
        else:
            lines.append([left, top, right, bottom])
    return [tuple(x) for x in lines]


# ---------------------------------------------------------------- PDF pages


@functools.lru_cache(maxsize=64)
def _unsafe_pages(path: str, mtime_ns: int) -> frozenset[int]:
    """0-based pages PDFium must not open (their content inflates past the ingest's limit)."""
    from pypdf import PdfReader

    from qa.ingest.pdf import inflating_pages

    try:
        return frozenset(inflating_pages(PdfReader(path, strict=False), Path(path).stat().st_size))
    except Exception:
        return frozenset()


@contextlib.contextmanager
def _locked_page(path: Path, n: int):
    """1-based page ``n`` of the PDF, opened under PDFium's lock and closed after; None where the page is
    missing or unsafe to render."""
    import pypdfium2 as pdfium

    from qa.ingest.pdf import PDFIUM_LOCK

    with PDFIUM_LOCK:
        if n - 1 in _unsafe_pages(str(path), path.stat().st_mtime_ns):
            yield None
            return
        try:
            pdf = pdfium.PdfDocument(path)
        except Exception:
            yield None
            return
        try:
            yield pdf[n - 1] if 1 <= n <= len(pdf) else None
        finally:
            pdf.close()


def render_png(path: Path, n: int, width: int = IMAGE_WIDTH) -> bytes | None:
    """Page ``n`` of a PDF as PNG bytes, ``width`` pixels wide; None where it cannot be rendered."""
    import io

    with _locked_page(path, n) as page:
        if page is None:
            return None
        try:
            image = page.render(scale=width / max(page.get_width(), 1)).to_pil()
        except Exception:
            return None
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def place_quote(path: Path, n: int, page_text: str, start: int | None, end: int | None, ocr: bool):
    """The Placement of ``page_text[start:end]`` on page ``n`` of the PDF at ``path`` (None: no page)."""
    with _locked_page(path, n) as page:
        if page is None:
            return None
        size = (page.get_width(), page.get_height())
        if start is None or end is None or not 0 <= start < end <= len(page_text):
            return Placement(size)
        if not ocr:
            return _text_layer(page, size, page_text, start, end)
    return _ocr_placement(path, n, size, page_text, start, end)


def _text_layer(page, size, page_text: str, start: int, end: int) -> Placement:
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    count = textpage.count_chars()
    chars = [(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)), i) for i in range(count)]
    left, bottom, right, top = page.get_cropbox()
    w, h = max(right - left, 1e-6), max(top - bottom, 1e-6)
    rects = []
    for i in locate(chars, page_text, start, end):
        x0, y0, x1, y1 = textpage.get_charbox(i)
        if x1 > x0 and y1 > y0:
            rects.append(((x0 - left) / w, (top - y1) / h, (x1 - left) / w, (top - y0) / h))
    if not rects:
        return Placement(size, note="The quote was not found in this page's text layer; it is quoted above.")
    return Placement(size, tuple(_rotated(r, page.get_rotation()) for r in merge_lines(rects)), TEXT_LAYER)


def _rotated(box, degrees: int):
    """A box in the unrotated page's fractions, as it appears on the page rendered with its /Rotate."""
    x0, y0, x1, y1 = box
    corners = {0: (x0, y0, x1, y1), 90: (1 - y1, x0, 1 - y0, x1), 180: (1 - x1, 1 - y1, 1 - x0, 1 - y0)}
    return corners.get(degrees % 360, (y0, 1 - x1, y1, 1 - x0))


# ---------------------------------------------------------------- OCR'd pages


@functools.lru_cache(maxsize=32)
def _page_words(path: str, mtime_ns: int, n: int) -> tuple[tuple, tuple[int, int]]:
    """Tesseract's words on page ``n`` rendered as the index read it (300 dpi, grey), and the image size;
    cached, as Tesseract takes seconds a page."""
    from qa.ingest.ocr import DPI

    with _locked_page(Path(path), n) as page:
        if page is None:
            return (), (1, 1)
        image = page.render(scale=DPI / 72, grayscale=True).to_pil()
    return tuple(ocr_words(image)), image.size


def _ocr_placement(path: Path, n: int, size, page_text: str, start: int, end: int) -> Placement:
    from qa.ingest.ocr import INSTALL

    if shutil.which("tesseract") is None:
        return Placement(
            size,
            note=f"This page was read by OCR and Tesseract is not installed here ({INSTALL}), so the quote "
            "is not marked on the page; it is quoted above.",
        )
    words, (iw, ih) = _page_words(str(path), path.stat().st_mtime_ns, n)
    covered = locate([(w[0], i) for i, w in enumerate(words)], page_text, start, end)
    if not covered:
        return Placement(size, note="The quote was not found among the OCR'd words; it is quoted above.")
    rects = [(words[i][1] / iw, words[i][2] / ih, words[i][3] / iw, words[i][4] / ih) for i in covered]
    return Placement(size, tuple(merge_lines(rects)), OCR_BOXES)


def ocr_words(image) -> list[tuple[str, int, int, int, int]]:
    """Tesseract's words on an image with their pixel boxes: (text, left, top, right, bottom)."""
    import io

    from qa.ingest.ocr import DPI, LANG, PAGE_TIMEOUT_S

    png = io.BytesIO()
    image.save(png, format="PNG")
    cmd = [shutil.which("tesseract") or "tesseract", "stdin", "stdout", "-l", LANG, "--dpi", str(DPI), "tsv"]
    try:
        out = subprocess.run(cmd, input=png.getvalue(), capture_output=True, timeout=PAGE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return []
    words = []
    for row in out.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        words.append((cols[11].strip(), left, top, left + width, top + height))
    return words


# ---------------------------------------------------------------- HTML

_CSS = """
body{font:16px/1.55 system-ui,sans-serif;margin:0;background:#fafafa;color:#1f2328}
header{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;padding:.6em 1.2em}
header h1{font-size:1.05em;margin:0 0 .2em}
header nav a{margin-right:1em;color:#0a58ad}
main{max-width:52em;margin:1em auto;padding:0 1.2em}
pre{white-space:pre-wrap;word-wrap:break-word;font:inherit;background:#fff;border:1px solid #e3e3e3;
padding:1em 1.2em;border-radius:6px}
mark{background:#ffe066;padding:.1em 0;border-radius:2px;scroll-margin-top:6em}
.meta{color:#57606a;font-size:.9em}
.quote{margin:0 0 .8em;padding:.5em .8em;border-left:4px solid #b35c00;background:#fff}
.quote blockquote{margin:0}
.quote figcaption{color:#57606a;font-size:.85em;margin-top:.3em}
.sheet{position:relative;width:100%;background:#fff;box-shadow:0 1px 4px rgba(0,0,0,.25)}
.sheet img{display:block;width:100%;height:auto}
.box{position:absolute;background:rgba(255,200,0,.35);outline:2px solid #b35c00;border-radius:2px;
scroll-margin-top:8em}
details{margin:1em 0}
"""


def page_html(view: dict, start: int | None, end: int | None, nonce: str, placed: Placement | None) -> str:
    """The page view: a PDF page's image with the quote's boxes (``placed``), else the page's text with
    [start, end) marked; the header has the page label, previous and next page and the original file."""
    text, doc, n = view["text"], view["doc"], view["page"]
    s = max(0, min(start, len(text))) if start is not None else None
    e = max(0, min(end, len(text))) if end is not None else None
    has_quote = s is not None and e is not None and s < e
    title = html.escape(view.get("title") or doc)
    mark_id = "text-hit" if placed is not None else "hit"
    if has_quote:
        marked = (
            f'{html.escape(text[:s])}<mark id="{mark_id}">{html.escape(text[s:e])}</mark>'
            f"{html.escape(text[e:])}"
        )
    else:
        marked = html.escape(text)
    if placed is None:
        body = f'<pre id="page-text">{marked}</pre>'
    else:
        body = _pdf_body(view, title, text[s:e] if has_quote else "", placed, marked)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} — page {n}</title>"
        f'<meta name="viewport" content="width=device-width"><style>{_CSS}</style></head><body>'
        f'<header><h1>{title}</h1>{_meta(view)}<nav aria-label="Pages">{_nav(view)}</nav></header>'
        f"<main>{body}</main>"
        f'<script nonce="{nonce}">var m=document.getElementById("hit");'
        'if(m){m.scrollIntoView({block:"center"});}</script>'
        "</body></html>"
    )


def _meta(view: dict) -> str:
    n, printed = view["page"], view.get("label")
    label = f" (printed {html.escape(printed)})" if printed and printed != str(n) else ""
    ocr = " · read by OCR" if view.get("ocr") else ""
    return f'<div class="meta">{html.escape(view["doc"])} · page {n}{label} of {view["pages"]}{ocr}</div>'


def _nav(view: dict) -> str:
    doc, n = view["doc"], view["page"]
    nav = []
    if n > 1:
        nav.append(
            f'<a rel="prev" href="{html.escape(doc_links(doc, None, n - 1)["view"])}">← page {n - 1}</a>'
        )
    if view["pages"] and n < view["pages"]:
        nav.append(
            f'<a rel="next" href="{html.escape(doc_links(doc, None, n + 1)["view"])}">page {n + 1} →</a>'
        )
    orig = "the PDF at this page" if view["format"] == "pdf" else "original file"
    nav.append(
        f'<a class="original" href="{html.escape(doc_links(doc, view["format"], n)["file"])}">{orig}</a>'
    )
    return " ".join(nav)


def _pdf_body(view: dict, title: str, quote: str, placed: Placement, marked: str) -> str:
    n = view["page"]
    out = ""
    if quote:
        how = f"Highlighted on the page from its {placed.source}." if placed.boxes else placed.note
        out += (
            f'<figure class="quote"><blockquote id="quote">“{html.escape(quote)}”</blockquote>'
            f"<figcaption>{html.escape(how)}</figcaption></figure>"
        )
    w, h = placed.size
    boxes = "".join(
        f'<div class="box" id="{"hit" if i == 0 else f"hit-{i}"}" style="left:{x0 * 100:.3f}%;'
        f'top:{y0 * 100:.3f}%;width:{(x1 - x0) * 100:.3f}%;height:{(y1 - y0) * 100:.3f}%"></div>'
        for i, (x0, y0, x1, y1) in enumerate(placed.boxes)
    )
    image = html.escape(doc_links(view["doc"], "pdf", n)["image"])
    out += (
        f'<div class="sheet" style="aspect-ratio:{w:.2f}/{h:.2f}">'
        f'<img src="{image}" alt="Page {n} of {title}" width="{IMAGE_WIDTH}" '
        f'height="{round(IMAGE_WIDTH * h / max(w, 1))}">{boxes}</div>'
        f'<details><summary>Page text</summary><pre id="page-text">{marked}</pre></details>'
    )
    return out
