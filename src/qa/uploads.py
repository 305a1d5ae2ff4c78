"""Upload checks, pure: a safe file name, content that fits its extension, a file that reads and chunks
exactly as the index would, and where to save it without overwriting another. ``UploadRejected`` names the
reason of a refusal and its HTTP status; the server and the chat both report it.
"""

import errno
import re
import tempfile
import unicodedata
from pathlib import Path

from qa.config import Settings
from qa.errors import IngestError, QAError

UPLOAD_FOLDER = "uploads"
UPLOAD_TYPES = {".pdf": "pdf", ".txt": "text", ".md": "markdown", ".markdown": "markdown"}
UPLOAD_TYPES |= {".html": "html", ".htm": "html", ".docx": "docx"}
_HTMLISH = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|title|meta|p|div|h[1-6]|article|main|section|table|ul|ol)\b",
    re.I,
)


class UploadRejected(QAError):
    """An uploaded file that is not added: the message names the reason, ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def sanitize_filename(name: str) -> str:
    """A safe base name for an upload: no folders, only [A-Za-z0-9._-], a supported extension."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()  # "ü" → "u"
    base = re.split(r"[\\/]", ascii_name)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext.lower()
    if f".{ext}" not in UPLOAD_TYPES:
        shown = f"'.{ext}'" if ext else "none"
        raise UploadRejected(
            f"unsupported file type (extension {shown}); upload a PDF, DOCX, TXT, MD or HTML file", 415
        )
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("._-")[:100].strip("._-")
    return f"{stem or 'upload'}.{ext}"


def check_content(name: str, data: bytes, max_bytes: int) -> None:
    """Refuse a file whose size or bytes do not fit its extension (checked by content, not by name)."""
    from qa.ingest import decode_text

    if len(data) > max_bytes:
        raise UploadRejected(
            f"file too large ({len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB)", 413
        )
    if not data.strip():
        raise UploadRejected("empty file", 422)
    kind = UPLOAD_TYPES[Path(name).suffix.lower()]
    is_pdf = data[:1024].lstrip().startswith(b"%PDF-")
    if kind == "pdf":
        if not is_pdf:
            raise UploadRejected("not a PDF: the file does not start with a %PDF header", 415)
        return
    if is_pdf:
        raise UploadRejected(f"PDF data in a {Path(name).suffix} file; rename it to .pdf", 415)
    if kind == "docx":
        if not data.startswith(b"PK\x03\x04"):
            raise UploadRejected("not a Word document: a .docx file is a zip archive", 415)
        return
    try:
        decode_text(data)
    except IngestError as e:
        raise UploadRejected(f"not a text file ({e})", 415) from None
    if kind == "html" and not _HTMLISH.search(data[: 1 << 16]):
        raise UploadRejected("not HTML: no HTML tags found in the file", 415)


def validate_readable(name: str, data: bytes, settings: Settings) -> tuple[dict, int]:
    """Read and chunk the file outside the corpus, exactly as the index would; any failure rejects it."""
    from qa.chunk import chunk_document
    from qa.ingest import FileReport, read_file

    with tempfile.TemporaryDirectory(prefix="qa-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        rel = f"{UPLOAD_FOLDER}/{name}"
        try:
            doc, pages = read_file(path, rel, settings.cap(path), FileReport(rel))
        except IngestError as e:
            raise UploadRejected(f"cannot read {name}: {e}", 422) from None
        except Exception as e:  # a parser crash on hostile input is still just a bad file
            raise UploadRejected(f"cannot read {name} ({type(e).__name__})", 422) from None
    chunks = chunk_document(pages, doc.title, settings.max_tokens, settings.max_chars)
    if not chunks:
        raise UploadRejected(f"{name} has no text to index", 422)
    return doc.to_dict(), len(chunks)


def storage_error(name: str, e: OSError) -> UploadRejected:
    full = e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    why = e.strerror or str(e) or type(e).__name__
    return UploadRejected(
        f"cannot add {name}: {why} while saving it or writing the index; "
        "the documents being served are unchanged",
        507 if full else 503,
    )


def free_name(folder: Path, name: str, data: bytes, sha) -> tuple[Path, bool]:
    """Where to save: the name itself, or name-2, name-3... so an upload never overwrites another file."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    stem, ext = name.rsplit(".", 1)
    for i in range(1, 1000):
        path = folder / (name if i == 1 else f"{stem}-{i}.{ext}")
        if not path.exists():
            return path, False
        if path.is_file() and not path.is_symlink() and sha(path) == digest:
            return path, True
    raise UploadRejected(f"too many uploads named {name}", 409)
