"""Text, Markdown and HTML files → pages: decoding (BOMs, detection, binary refused), form feeds as pages."""

from __future__ import annotations

import re
from pathlib import Path

from qa.errors import IngestError
from qa.ingest.normalise import first_block_title, pages_from_texts
from qa.records import Document, Page

_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # C0 controls: a sign of binary data

_WESTERN = ("cp1252", "latin_1", "iso8859_15")


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]+")


def _mixed_utf8(data: bytes) -> str | None:
    """UTF-8 with lines of single-byte text pasted in (cp1252/Latin-1): each part decoded as itself.

    Only where lines with non-ASCII text are valid UTF-8 often enough (a whole line is never valid UTF-8 by
    accident); a file wholly in one legacy code page is left to detection (None)."""
    good = bad = 0
    for line in data[: 4 << 20].split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    if not good or good * 3 < bad:
        return None
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")

    def legacy(m: re.Match) -> str:
        raw = m.group().encode("utf-8", errors="surrogateescape")
        return raw.decode("cp1252", errors="replace")

    return _ESCAPED_BYTE.sub(legacy, text)


def _bomless_utf16(data: bytes) -> str | None:
    """The codec of UTF-16 text without a BOM (mostly-ASCII text has a NUL in every other byte), or None."""
    sample = data[:65536]
    if len(sample) < 8 or len(sample) % 2:
        return None
    half = len(sample) // 2
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd >= 0.6 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.6 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


def decode_text(data: bytes) -> str:
    """Bytes → str: UTF-8 / BOMs first, UTF-8 with stray cp1252 bytes, else detected with
    charset-normalizer; binary data is refused."""
    if not data.strip():
        raise IngestError("empty file")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        text = data.decode("utf-32", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif wide := _bomless_utf16(data):
        text = data.decode(wide, errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _mixed_utf8(data)
        if text is None:
            from charset_normalizer import from_bytes

            results = from_bytes(data[: 4 << 20])
            best = results.best()
            if best is None:
                raise IngestError("binary data, not text") from None
            # On short texts charset-normalizer ranks the Western code pages arbitrarily ("crème" read as
            # cp1257 "crčme"); where the Windows/Latin-1 one is about as plausible, it is the likely one.
            western = [m for m in results if m.encoding in _WESTERN and m.chaos <= best.chaos + 0.1]
            text = data.decode((western[0] if western else best).encoding, errors="replace")
    sample = text[:200_000]
    bad = len(_BINARY.findall(sample)) + sample.count("\ufffd")
    if bad > max(8, len(sample) // 50):
        raise IngestError("binary data, not text")
    if not text.strip():
        raise IngestError("empty file")
    return text


def _split_form_feeds(text: str) -> list[str]:
    parts = text.split("\f")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # pdftotext ends every page with a form feed
    return parts


def read_text(path: Path, doc: str, data: bytes, markdown: bool = False) -> tuple[Document, list[Page]]:
    pages = pages_from_texts(doc, _split_form_feeds(decode_text(data)), markdown)
    heads = [h.title for p in pages for h in p.headings]
    first = next((p.text for p in pages if p.text), "")
    title = (heads[0] if markdown and heads else None) or first_block_title(first) or path.stem
    return Document(doc=doc, title=title, format="markdown" if markdown else "text", pages=len(pages)), pages


def main_text_markdown(html: str) -> str | None:
    """The main text of a web page as Markdown (headings and tables kept; navigation, scripts, links gone)."""
    import trafilatura

    return trafilatura.extract(
        html,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_recall=True,
    )


def read_html(path: Path, doc: str, data: bytes) -> tuple[Document, list[Page]]:
    import trafilatura

    html = decode_text(data)
    md = main_text_markdown(html)
    if not md:
        md = trafilatura.html2txt(html) or ""
    if not md.strip():
        raise IngestError("no readable text in the HTML")
    meta = trafilatura.extract_metadata(html)
    pages = pages_from_texts(doc, [md], markdown=True)
    heads = [h.title for h in pages[0].headings]
    title = (meta.title if meta and meta.title else None) or (heads[0] if heads else None) or path.stem
    url = meta.url if meta and meta.url else None
    return Document(doc=doc, title=title, format="html", pages=1, url=url), pages
