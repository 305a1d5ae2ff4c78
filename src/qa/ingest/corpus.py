"""The corpus walk: which files are candidates, and which are refused with their reason before any is read.

Hidden files and folders are not corpus files; symlinked folders are not followed; a file is refused (never
opened) when its name is not UTF-8, it is a link out of the corpus, a broken link or a link loop, or not a
regular file (a named pipe would block the build forever); ``.qaignore`` lists files not to index.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UsageError

FORMATS = {
    ".pdf": "pdf",
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
IGNORE_FILE = ".qaignore"


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
