"""Downloading one cited URL into a hidden temporary file beside its target, or the reason it failed.

Redirects are followed by hand (to name a loop), the body is capped in bytes and in time, and only HTML or a
PDF (by its ``%PDF-`` header) is accepted; a failure never leaves the temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_PDF_TYPES = {"application/pdf", "application/x-pdf"}
_OCTET_TYPES = {"application/octet-stream", "binary/octet-stream"}  # accepted only when the bytes say %PDF


class FetchFailed(Exception):
    """One source could not be fetched; the message is the reason shown to the user."""


@dataclass
class Download:
    """A fetched body, held in a hidden temporary file in the target folder until it is saved or dropped."""

    url: str
    final_url: str
    status: int
    content_type: str
    kind: str  # html | pdf
    tmp: Path
    sha256: str
    bytes: int
    redirects: list[str] = field(default_factory=list)


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def temp_in(folder: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def download(
    client, url: str, folder: Path, name: str, max_bytes: int, max_redirects: int, deadline_s: float
) -> Download:
    """GET ``url`` into a temp file, following at most ``max_redirects`` redirects by hand (to name loops).

    Raises FetchFailed with the reason; never leaves the temp file behind on failure.
    """
    import httpx

    seen, current = [url], url
    deadline = time.monotonic() + deadline_s
    try:
        for _ in range(max_redirects + 1):
            with client.stream("GET", current, follow_redirects=False) as resp:
                nxt = resp.next_request.url if resp.has_redirect_location and resp.next_request else None
                if nxt is not None:
                    nxt = str(nxt)
                    if not nxt.startswith(("http://", "https://")):
                        raise FetchFailed(f"redirect to a non-HTTP address {nxt}")
                    if nxt in seen:
                        raise FetchFailed("redirect loop: " + " -> ".join([*seen[seen.index(nxt) :], nxt]))
                    seen.append(nxt)
                    current = nxt
                    continue
                return _receive(resp, url, current, seen[1:], folder, name, max_bytes, deadline)
        raise FetchFailed(f"too many redirects (more than {max_redirects})")
    except httpx.TimeoutException as e:
        waited = client.timeout.connect if isinstance(e, httpx.ConnectTimeout) else client.timeout.read
        raise FetchFailed(f"timed out after {waited:g} s ({current})") from None
    except httpx.InvalidURL as e:
        raise FetchFailed(f"invalid URL ({e})") from None
    except httpx.HTTPError as e:  # connection refused, TLS, protocol errors
        raise FetchFailed(f"{type(e).__name__}: {str(e) or 'network error'}") from None


def _receive(resp, url, final_url, redirects, folder, name, max_bytes, deadline) -> Download:
    if not 200 <= resp.status_code < 300:
        raise FetchFailed(f"HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
    ctype = resp.headers.get("content-type", "")
    media = _media_type(ctype)
    if media not in _HTML_TYPES | _PDF_TYPES | _OCTET_TYPES:
        raise FetchFailed(f"unsupported content type '{media or 'none'}' (only HTML or PDF)")
    length = resp.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchFailed(f"too big: {int(length)} bytes, over the {max_bytes}-byte cap")
    tmp = temp_in(folder, name)
    digest, total, head = hashlib.sha256(), 0, b""
    try:
        with open(tmp, "wb") as f:
            for block in resp.iter_bytes():
                total += len(block)
                if total > max_bytes:  # stop reading: the rest is never downloaded
                    raise FetchFailed(f"too big: over the {max_bytes}-byte cap")
                if time.monotonic() > deadline:
                    raise FetchFailed("timed out (download too slow)")
                if len(head) < 1024:
                    head += block[: 1024 - len(head)]
                digest.update(block)
                f.write(block)
        if total == 0:
            raise FetchFailed("empty body")
        is_pdf = b"%PDF-" in head
        if media in _PDF_TYPES | _OCTET_TYPES and not is_pdf:
            raise FetchFailed(f"not a PDF: served as '{media}' but has no %PDF header")
        kind = "pdf" if is_pdf and media not in _HTML_TYPES else "html"
        return Download(
            url, final_url, resp.status_code, ctype, kind, tmp, digest.hexdigest(), total, list(redirects)
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
