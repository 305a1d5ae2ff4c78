"""Files → normalised pages. One reader per format; one normaliser for all.

Normalisation (every later offset refers to its output):
- Unicode NFKC (folds ligatures such as "ﬁ", odd spaces, full-width forms); soft hyphens and zero-width
  characters dropped.
- Markup escapes undone (``US\\$`` → ``US$``); Markdown emphasis markers (``**``, ``*``, ``__``) and inline
  formatting tags (``<i>``, ``<ul …>``, …) dropped, so users read clean text.
- Words hyphenated across a line or page break joined (``in-`` / ``frastructure`` → ``infrastructure``); a
  hyphen before a capital stays (``India-`` / ``Japan`` → ``India-Japan``).
- Runs of spaces collapsed to one, spaces around tabs (table cells) dropped, blank lines collapsed to one; a
  blank line inside a sentence (a line that does not end one, then one in lower case) is a wrapped line.
- Control characters (C0 and C1) blanked; CRLF and CR become LF.

Corpus walk: hidden files and folders are not corpus files; symlinked folders are not followed; a file is
refused with its reason (never opened) when its name is not UTF-8, it is a link out of the corpus, a broken
link or a link loop, or not a regular file (a named pipe would block the build forever).

Text files: UTF-8 (BOM or not), UTF-16/UTF-32 with a BOM, UTF-16 without one, UTF-8 with lines of cp1252
pasted in (each part decoded as itself), else detected with charset-normalizer (preferring cp1252/Latin-1
where it is about as plausible as a rarer code page); binary data is refused. A form feed
starts a new page; a trailing one adds none. PDF: one page per physical page, labelled from /PageLabels, else
from a number printed alone on the page's first or last line; pages with no text layer are reported.

Headings: Markdown/HTML headings keep their levels. In plain text, numbered ("4. Title"), labelled
("Table 1:", "Case Study 2:", …) and short title-case lines between blank lines are headings; numbered list
items (a run of "1.", "2." a few lines apart, or a line that runs on in lower case), bare-numbered footnotes
low on a page and "Source:"/"Note:" lines are not. A title line right after a labelled heading nests under it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import IngestError, UsageError
from qa.records import Document, Heading, Page

FORMATS = {
    ".pdf": "pdf",
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
IGNORE_FILE = ".qaignore"

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$<>|~&])")
_PLACEHOLDER = {"*": "\ue000", "_": "\ue001"}
_STRONG = re.compile(r"\*\*|__(?=\w)|(?<=\w)__")
_EMPH = re.compile(r"(?<![\w*])\*(?=[^\s*])|(?<=[^\s*])\*(?![\w*])")
_INLINE_TAGS = re.compile(
    r"</?(?:i|b|em|strong|u|ul|ol|li|span|br|sup|sub|p|div|font)\b[^<>\n]{0,300}?/?>", re.I
)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_HYPHEN_LOWER = re.compile(r"(?<=[^\W\d_])-[ \t]*\n\s*(?=[a-z])")
_HYPHEN_OTHER = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[A-Z])")
# Runs of spaces and other blanks to one space; a lone " " is not matched (re.sub would rebuild the text
# from a piece per word, ~10x its size, for nothing).
_SPACES = re.compile(r"[^\S\n\t]{2,}|[^\S\n\t ]")
_TAB_SPACES = re.compile(r" *\t *")
_TRAILING_SPACES = re.compile(r" +(?=\n)")
_TWO_NON_SPACES = re.compile(r"\S(?=\S)")
_BLANK_LINE_SPACES = re.compile(r"\n[ \t]+(?=\n)")
_BLANKS = re.compile(r"\n{3,}")
# A blank line between a line that does not end a sentence and one starting in lower case is a line wrap
# (pdftotext's double-spaced output), not a paragraph break.
_WRAPPED_BLANK = re.compile(r"(?<=[^\s.?!:;])[ \t]*\n[ \t]*\n(?=[ \t]*[a-z(])")
_TOC_LEADER = re.compile(r"(\.{4,}|·{3,}|…{2,}|_{4,})\s*[\divxlc]*$", re.I)
_LONE_NUMBER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6})\s*$", re.I)
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # C0 controls: a sign of binary data
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # blanked: C0 and C1 (\x9b is a terminal CSI)

# Sentinel that marks a Markdown heading line through normalisation: <H><level><T>title. Private-use
# characters, because normalise() blanks control characters (a \x01 sentinel would leak "1 " into the text).
_H_OPEN, _H_CLOSE = "\ue010", "\ue011"
_HMARK = re.compile(f"^{_H_OPEN}(\\d){_H_CLOSE}", re.M)
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?[ \t]+([A-Z][^\n\t]{1,120})$")
_LABELLED = re.compile(
    r"^(?:Case Study|Table|Figure|Box|Exhibit|Annexure|Annex|Appendix)[ \t]+[\dA-Z]{1,3}[:.][^\n\t]*$"
)
_LIST_SPAN = 12  # lines between consecutive numbers of one list
_CAPTION_NOTE = re.compile(r"^(?:\d{1,3}[ \t]+)?(?:Sources?|Credits?|Notes?)[ \t]*:")
_TOP_WORDS = {
    "references",
    "bibliography",
    "works cited",
    "abstract",
    "executive summary",
    "acknowledgements",
    "about the authors",
    "about the author",
    "glossary",
    "endnotes",
    "notes",
    "appendix",
    "acknowledgments",
    "conclusion",
    "introduction",
    "foreword",
    "preface",
}


@dataclass
class FileReport:
    """The fate of one corpus file, as recorded in the manifest."""

    path: str
    sha256: str = ""
    bytes: int = 0
    pages: int = 0
    chunks: int = 0
    status: str = "ok"  # ok | skipped
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "pages": self.pages,
            "chunks": self.chunks,
            "status": self.status,
            "reason": self.reason,
            "warnings": self.warnings,
        }


# ---------------------------------------------------------------- corpus walk


def _ignore_patterns(root: Path) -> list[str]:
    f = root / IGNORE_FILE
    if not f.is_file():
        return []
    lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def scan_corpus(root: Path) -> tuple[list[tuple[str, Path]], list[FileReport]]:
    """Sorted (doc id, path) of readable candidates, and reports for files refused before reading."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(
            f"corpus folder not found: {root} (create it and put PDF, TXT, MD or HTML files in it)"
        )
    real_root = root.resolve()
    ignore = _ignore_patterns(root)
    found: list[tuple[str, Path]] = []
    refused: list[FileReport] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in dirnames:
            if (Path(dirpath) / d).is_symlink():
                rel = (Path(dirpath) / d).relative_to(root).as_posix()
                refused.append(FileReport(rel, status="skipped", reason="symlinked folder not followed"))
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(rel, pat) for pat in ignore):
                continue
            reason = _refusal(path, rel, real_root)
            if reason:
                refused.append(FileReport(_printable(rel), status="skipped", reason=reason))
                continue
            found.append((rel, path))
    return sorted(found), sorted(refused, key=lambda r: r.path)


def _printable(rel: str) -> str:
    """A path that JSON and UTF-8 can hold: undecodable bytes of a file name shown as \\xNN."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _refusal(path: Path, rel: str, real_root: Path) -> str:
    """Why a file found by the walk is not read (empty: it is a candidate). Nothing is opened here."""
    if _printable(rel) != rel:
        # os.walk hands undecodable bytes back as lone surrogates, which no index file can store.
        return "file name is not valid UTF-8 (rename the file)"
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
            return "broken symlink or symlink loop"
        if not target.is_relative_to(real_root):
            return "symlink points outside the corpus"
    if path.suffix.lower() not in FORMATS:
        return f"unsupported file type '{path.suffix or path.name}'"
    try:
        mode = path.stat().st_mode
    except OSError as e:
        return f"cannot read ({e.strerror})"
    if not stat.S_ISREG(mode):
        # Opening a named pipe blocks forever and a device never ends: neither is a document.
        kind = "named pipe" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
        return f"not a regular file ({kind})"
    return ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- normalisation


def normalise(text: str) -> str:
    """Clean one page of text (see the module docstring for what changes)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _ESCAPED.sub(lambda m: _PLACEHOLDER.get(m.group(1), m.group(1)), text)
    text = _STRONG.sub("", text)
    text = _EMPH.sub("", text)
    text = _INLINE_TAGS.sub(" ", text)
    for char, mark in _PLACEHOLDER.items():
        text = text.replace(mark, char)
    text = _HYPHEN_LOWER.sub("", text)
    text = _HYPHEN_OTHER.sub("-", text)
    text = _SPACES.sub(" ", text)
    text = _TAB_SPACES.sub("\t", text)
    # Line ends and whitespace-only lines cleaned where there is something to clean: rebuilding the text
    # line by line would hold a string per line, ~20x a text of short lines.
    text = _TRAILING_SPACES.sub("", text)
    text = _BLANK_LINE_SPACES.sub("\n", text)
    text = _sub_in_blocks(_WRAPPED_BLANK, "\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip(" \n")


def _sub_in_blocks(pattern: re.Pattern, repl: str, text: str, block: int = 1 << 16) -> str:
    """``pattern.sub`` over blocks of about ``block`` characters, cut between two non-space characters.

    Only for patterns whose matches are whitespace and whose look-behind and look-ahead stop at the first
    non-space character: no match or context crosses such a cut, so the result is the same as one
    ``sub``, but a text with a match on every line never builds a list of pieces as long as itself."""
    out, start = [], 0
    while len(text) - start > block:
        m = _TWO_NON_SPACES.search(text, start + block)
        if m is None:
            break
        out.append(pattern.sub(repl, text[start : m.end()]))
        start = m.end()
    out.append(pattern.sub(repl, text[start:]))
    return "".join(out)


def join_page_hyphens(texts: list[str]) -> list[str]:
    """Move the tail of a word hyphenated across a page break onto the page where it starts."""
    out = list(texts)
    for i in range(len(out) - 1):
        m = re.search(r"(?<=[^\W\d_])-$", out[i])
        nxt = re.match(r"\s*([a-z][^\s]*)", out[i + 1])
        if m and nxt:
            out[i] = out[i][:-1] + nxt.group(1)
            out[i + 1] = out[i + 1][nxt.end() :].lstrip(" \n")
    return out


def _is_heading_line(line: str, prev_blank: bool, next_line: str, footer: bool = False) -> int:
    """Heading level of a plain-text line (0 = not a heading).

    ``next_line`` is the following line (empty when blank); ``footer``: the line is low on a page.
    """
    s = line.strip()
    next_blank = not next_line.strip()
    if not s or "\t" in s or len(s) > 130 or _TOC_LEADER.search(s) or _CAPTION_NOTE.match(s):
        return 0
    if _LABELLED.match(s):
        return 3
    if not prev_blank:
        return 0
    m = _NUMBERED.match(s)
    if m:
        # A numbered line whose sentence runs on into the next line is a list item; "26 NTDPC, India
        # Transport Report" low on a page (no dot after the number) is a footnote.
        bare = "." not in s[: m.start(2)]
        runs_on = next_line.strip()[:1].islower()
        if s.endswith((".", ",", ";")) or len(s.split()) > 16 or runs_on or (bare and footer):
            return 0
        return m.group(1).count(".") + 1
    if not next_blank:
        return 0
    if s.lower().rstrip(":") in _TOP_WORDS:
        return 1
    words = s.split()
    if (
        len(words) <= 8
        and s[0].isupper()
        and not s.endswith((".", ",", ";", ":", "?", "!"))
        and not s.replace(" ", "").isdigit()
    ):
        long_words = [w for w in words if len(w) >= 4]
        capitalised = [w for w in long_words if w[0].isupper()]
        if long_words and len(capitalised) * 2 >= len(long_words):
            return 2
    return 0


def _list_items(lines: list[str]) -> set[int]:
    """Indexes of numbered lines that are items of a list: "1." and "2." within a few lines of each other."""
    numbered = []
    for i, line in enumerate(lines):
        m = _NUMBERED.match(line.strip())
        if m:
            numbered.append((i, tuple(int(n) for n in m.group(1).split("."))))
    items = set()
    for (i, a), (j, b) in zip(numbered, numbered[1:], strict=False):
        if j - i <= _LIST_SPAN and a[:-1] == b[:-1] and b[-1] == a[-1] + 1:
            items |= {i, j}
    return items


def find_headings(text: str, state: dict | None = None) -> tuple[Heading, ...]:
    """Headings of a plain-text page: numbered, labelled (Table/Figure/Case Study) and short title lines.

    A short title line right after a labelled heading is that case study's (or table's) own title, so it
    nests under the label (one level deeper). ``state`` carries this across the pages of one document and
    says whether it has several pages (then a bare-numbered line low on a page is a footnote, not a
    heading). Markdown and HTML headings keep their explicit levels and never come here.
    """
    state = {} if state is None else state
    lines = text.split("\n")
    in_list = _list_items(lines)
    out, pos = [], 0
    for i, line in enumerate(lines):
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        footer = state.get("paged", False) and pos > 0.6 * len(text)
        level = 0 if i in in_list else _is_heading_line(line, prev_blank, next_line, footer)
        title = line.strip()
        if level:
            lead = len(line) - len(line.lstrip())
            if _LABELLED.match(title):
                state["label"] = level
            elif level == 2 and state.get("label"):
                level = state["label"] + 1
            out.append(Heading(pos + lead, pos + lead + len(title), level, title))
        if title and not _LABELLED.match(title):
            state["label"] = 0  # only the title line right after a label nests under it
        pos += len(line) + 1
    return tuple(out)


def _take_marked_headings(text: str) -> tuple[str, tuple[Heading, ...]]:
    """Strip Markdown heading sentinels from normalised text, returning their spans."""
    parts, headings, pos, last = [], [], 0, 0
    for m in _HMARK.finditer(text):
        parts.append(text[last : m.start()])
        pos += m.start() - last
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        title = text[m.end() : line_end].strip()
        headings.append(Heading(pos, pos + len(title), int(m.group(1)), title))
        parts.append(title)
        pos += len(title)
        last = line_end
    parts.append(text[last:])
    return "".join(parts), tuple(headings)


def markdown_to_marked(text: str) -> str:
    """Markdown → text with heading sentinels; links and images reduced to their words."""
    text = text.replace(_H_OPEN, "").replace(_H_CLOSE, "")
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    return _MD_HEADING.sub(lambda m: f"{_H_OPEN}{len(m.group(1))}{_H_CLOSE}{m.group(2)}", text)


# ---------------------------------------------------------------- readers


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


def _first_block_title(text: str) -> str | None:
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if lines:
            title = " ".join(lines[:3])
            return title if len(title) <= 150 else None
    return None


def _pages_from_texts(
    doc: str, raw_pages: list[str], markdown: bool, labels: list[str | None] | None = None
) -> list[Page]:
    texts = [markdown_to_marked(t) if markdown else t for t in raw_pages]
    texts = join_page_hyphens([normalise(t) for t in texts])
    pages, state = [], {"paged": len(texts) > 1}
    for i, text in enumerate(texts):
        if markdown:
            text, headings = _take_marked_headings(text)
        else:
            headings = find_headings(text, state)
        pages.append(
            Page(doc=doc, page=i + 1, text=text, label=labels[i] if labels else None, headings=headings)
        )
    return pages


def _split_form_feeds(text: str) -> list[str]:
    parts = text.split("\f")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # pdftotext ends every page with a form feed
    return parts


def read_text(path: Path, doc: str, data: bytes, markdown: bool = False) -> tuple[Document, list[Page]]:
    pages = _pages_from_texts(doc, _split_form_feeds(decode_text(data)), markdown)
    heads = [h.title for p in pages for h in p.headings]
    first = next((p.text for p in pages if p.text), "")
    title = (heads[0] if markdown and heads else None) or _first_block_title(first) or path.stem
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
    pages = _pages_from_texts(doc, [md], markdown=True)
    heads = [h.title for h in pages[0].headings]
    title = (meta.title if meta and meta.title else None) or (heads[0] if heads else None) or path.stem
    url = meta.url if meta and meta.url else None
    return Document(doc=doc, title=title, format="html", pages=1, url=url), pages


def read_pdf(path: Path, doc: str, report: FileReport) -> tuple[Document, list[Page]]:
    from pypdf import PasswordType, PdfReader

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
    raw, empty = [], []
    for i in range(n):
        try:
            raw.append(reader.pages[i].extract_text() or "")
        except Exception as e:
            report.warnings.append(f"page {i + 1}: text extraction failed ({type(e).__name__})")
            raw.append("")
        if not raw[-1].strip():
            empty.append(i + 1)
    if len(empty) == n:
        raise IngestError("no text layer on any page (scanned?)")
    if empty:
        report.warnings.append(
            f"no text layer (scanned?) on page{'s' if len(empty) > 1 else ''} " + _ranges(empty)
        )
    pages = _pages_from_texts(doc, raw, markdown=False, labels=labels or [_printed_number(t) for t in raw])
    meta_title = None
    try:
        meta_title = (reader.metadata.title or "").strip() if reader.metadata else None
    except Exception:
        meta_title = None
    first = next((p.text for p in pages if p.text), "")
    title = meta_title or _first_block_title(first) or path.stem
    return Document(doc=doc, title=title, format="pdf", pages=n), pages


def _printed_number(text: str) -> str | None:
    """A page number printed alone on the first or last line of a page (used where a PDF has no labels)."""
    lines = [ln for ln in text.strip().split("\n") if ln.strip()]
    for line in (lines[:1] + lines[-1:]) if lines else []:
        if _LONE_NUMBER.match(line):
            return line.strip()
    return None


def _ranges(nums: list[int]) -> str:
    out, start = [], nums[0]
    for a, b in zip(nums, nums[1:] + [None], strict=True):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def read_file(path: Path, doc: str, max_bytes: int, report: FileReport) -> tuple[Document, list[Page]]:
    """Read one corpus file into pages. Raises IngestError with the reason when it cannot."""
    size = path.stat().st_size
    fmt = FORMATS[path.suffix.lower()]
    if size > max_bytes:
        kind = "PDFs" if fmt == "pdf" else "text, Markdown and HTML"
        raise IngestError(f"file too large ({_size(size)} > cap of {_size(max_bytes)} for {kind})")
    if size == 0:
        raise IngestError("empty file")
    if fmt == "pdf":
        with open(path, "rb") as f:
            if not f.read(1024).lstrip().startswith(b"%PDF"):
                raise IngestError("not a PDF (no %PDF header)")
        return read_pdf(path, doc, report)
    data = path.read_bytes()
    if data.lstrip()[:5] == b"%PDF-":
        raise IngestError(f"PDF data in a {path.suffix} file")
    if fmt == "html":
        return read_html(path, doc, data)
    return read_text(path, doc, data, markdown=fmt == "markdown")
