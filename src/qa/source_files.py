"""What a fetched source leaves in the corpus, each file written atomically (temp file, then rename).

An HTML page becomes ``<key>.md`` (main text by trafilatura, under a title heading with its date), a PDF is
saved as ``<key>.pdf``; each gets a provenance sidecar ``<key>.source.json``. The corpus catalogue
(``sources.json``) names the reference and the citing document of each copy, and ``.qaignore`` keeps the
sidecars and the catalogue out of the index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from qa.references import CATALOGUE
from qa.source_download import Download, FetchFailed, temp_in
from qa.source_list import cut

SIDECAR = ".source.json"
IGNORE_PATTERNS = ("*" + SIDECAR, CATALOGUE)  # what the corpus walk must not index


def atomic_write(path: Path, data: bytes) -> None:
    tmp = temp_in(path.parent, path.name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _charset(content_type: str) -> str | None:
    m = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else None


def html_to_markdown(data: bytes, content_type: str, ref: dict, final_url: str) -> tuple[str, dict]:
    """Main text of an HTML page as Markdown under a ``# title`` heading, and what was extracted."""
    import trafilatura

    from qa.errors import IngestError
    from qa.ingest import decode_text, main_text_markdown

    html = None
    charset = _charset(content_type)
    if charset:
        with contextlib.suppress(LookupError):
            html = data.decode(charset, errors="replace")
    try:
        html = html if html is not None else decode_text(data)
    except IngestError as e:
        raise FetchFailed(f"cannot decode the HTML ({e})") from None
    body = main_text_markdown(html)
    if not body or not body.strip():
        raise FetchFailed("no readable main text in the HTML")
    meta = trafilatura.extract_metadata(html)
    title = cut((meta.title if meta and meta.title else None) or ref.get("title") or ref["key"], 300)
    date = (meta.date if meta and meta.date else None) or ref.get("date") or ref.get("year")
    site = (meta.sitename if meta and meta.sitename else None) or ref.get("outlet") or ref.get("author")
    byline = ", ".join(x for x in (site, date) if x)
    first, _, rest = body.strip().partition("\n")
    if first.startswith("#") and " ".join(first.lstrip("#").split()).casefold() == title.casefold():
        body = rest  # the page's own headline: already the title heading
    text = f"# {title}\n\n{byline + '. ' if byline else ''}Fetched from <{final_url}>.\n\n{body.strip()}\n"
    return text, {
        "title": title,
        "date": date,
        "site": site,
        "extractor": f"trafilatura {trafilatura.__version__}",
    }


def save(dl: Download, ref: dict, folder: Path, cites_from: str) -> tuple[Path, dict]:
    """Move the download into ``folder/<key>.<ext>`` with its sidecar; returns (path, sidecar)."""
    key = ref["key"]
    try:
        if dl.kind == "html":
            text, extracted = html_to_markdown(dl.tmp.read_bytes(), dl.content_type, ref, dl.final_url)
            content = text.encode("utf-8")
            path = folder / f"{key}.md"
        else:
            content, extracted, path = None, {}, folder / f"{key}.pdf"
        sidecar = {
            "reference": key,
            "cites_from": cites_from,
            "reference_title": ref.get("title"),
            "url": dl.url,
            "final_url": dl.final_url,
            "redirects": dl.redirects,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": dl.status,
            "content_type": dl.content_type,
            "sha256": dl.sha256,
            "bytes": dl.bytes,
            "file": path.name,
            "file_sha256": hashlib.sha256(content).hexdigest() if content is not None else dl.sha256,
            **({"extracted": extracted} if extracted else {}),
        }
        side = json.dumps(sidecar, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        if content is not None:
            atomic_write(path, content)
        else:
            os.replace(dl.tmp, path)
        atomic_write(folder / f"{key}{SIDECAR}", side)
        return path, sidecar
    finally:
        dl.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- corpus bookkeeping


def write_catalogue(corpus: Path, catalogue: dict) -> None:
    data = json.dumps(dict(sorted(catalogue.items())), ensure_ascii=False, indent=2) + "\n"
    atomic_write(corpus / CATALOGUE, data.encode("utf-8"))


def ensure_ignored(corpus: Path) -> list[str]:
    """Add the sidecar and catalogue patterns to ``corpus/.qaignore`` when missing; returns those added."""
    from qa.ingest import IGNORE_FILE

    f = corpus / IGNORE_FILE
    text = f.read_text(encoding="utf-8") if f.is_file() else ""
    have = {ln.strip() for ln in text.splitlines()}
    missing = [p for p in IGNORE_PATTERNS if p not in have]
    if missing:
        sep = "" if not text or text.endswith("\n") else "\n"
        atomic_write(f, (text + sep + "\n".join(missing) + "\n").encode("utf-8"))
    return missing
