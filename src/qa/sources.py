"""`qa sources`: the references the indexed documents cite, and fetching the cited sources into the corpus.

``qa sources`` lists every reference entry of the index's bibliography. ``qa sources fetch`` downloads
the cited URLs: an HTML page becomes ``<key>.md`` (main text by trafilatura, under a title heading with
its date), a PDF is saved as ``<key>.pdf``; each gets a provenance sidecar ``<key>.source.json`` and an
entry in the corpus catalogue (``sources.json``) naming the reference and the citing document, so answers
can follow the citation. Every file is written to a hidden temporary file in the same folder and renamed
into place: an interrupted or failed fetch leaves nothing half-written. One failure (HTTP error, timeout,
too big, wrong type, redirect loop) is reported and the others go on; then the index is updated
incrementally.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError, UsageError
from qa.references import CATALOGUE, load_catalogue

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_DIR = "sources"  # inside the corpus
SIDECAR = ".source.json"
IGNORE_PATTERNS = ("*" + SIDECAR, CATALOGUE)  # what the corpus walk must not index
USER_AGENT = "qa-sources (+https://github.com; fetches references cited by a document)"

_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_PDF_TYPES = {"application/pdf", "application/x-pdf"}
_OCTET_TYPES = {"application/octet-stream", "binary/octet-stream"}  # accepted only when the bytes say %PDF
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*")
_EXTS = (".md", ".pdf")


class FetchFailed(Exception):
    """One source could not be fetched; the message is the reason shown to the user."""


# ---------------------------------------------------------------- listing


def list_references(index: str | Path) -> list[dict]:
    """Every reference entry of the indexed documents' bibliographies, with ``cited_by`` and ``in_corpus``."""
    from qa.index import load_index

    return load_index(index).bibliography.references()


def _cut(s: str | None, n: int) -> str:
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def format_table(refs: list[dict]) -> str:
    """A compact table: one line per reference."""
    if not refs:
        return "no references: no indexed document has a References list"
    several = len({r["cited_by"] for r in refs}) > 1
    rows = [("KEY", "AUTHOR", "DATE", "TITLE", "OUTLET", "COPY", "URL")]
    for r in refs:
        rows.append(
            (
                (f"{r['cited_by']}: " if several else "") + r["key"],
                _cut(r.get("author"), 28),
                _cut(r.get("date") or r.get("year"), 18),
                _cut(r.get("title"), 48),
                _cut(r.get("outlet"), 20),
                r.get("in_corpus") or "-",
                r.get("url") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ]
    copies = sum(1 for r in refs if r.get("in_corpus"))
    lines.append(f"{len(refs)} references, {copies} with a copy in the corpus")
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------- downloading one URL


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


def _temp_in(folder: Path, name: str) -> Path:
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
    tmp = _temp_in(folder, name)
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


# ---------------------------------------------------------------- saving


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = _temp_in(path.parent, path.name)
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
    title = _cut((meta.title if meta and meta.title else None) or ref.get("title") or ref["key"], 300)
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


def _save(dl: Download, ref: dict, folder: Path, cites_from: str) -> tuple[Path, dict]:
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
            _atomic_write(path, content)
        else:
            os.replace(dl.tmp, path)
        _atomic_write(folder / f"{key}{SIDECAR}", side)
        return path, sidecar
    finally:
        dl.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- corpus bookkeeping


def _write_catalogue(corpus: Path, catalogue: dict) -> None:
    data = json.dumps(dict(sorted(catalogue.items())), ensure_ascii=False, indent=2) + "\n"
    _atomic_write(corpus / CATALOGUE, data.encode("utf-8"))


def ensure_ignored(corpus: Path) -> list[str]:
    """Add the sidecar and catalogue patterns to ``corpus/.qaignore`` when missing; returns those added."""
    from qa.ingest import IGNORE_FILE

    f = corpus / IGNORE_FILE
    text = f.read_text(encoding="utf-8") if f.is_file() else ""
    have = {ln.strip() for ln in text.splitlines()}
    missing = [p for p in IGNORE_PATTERNS if p not in have]
    if missing:
        sep = "" if not text or text.endswith("\n") else "\n"
        _atomic_write(f, (text + sep + "\n".join(missing) + "\n").encode("utf-8"))
    return missing


def _target_dir(corpus: Path, folder: str | Path | None) -> tuple[Path, str]:
    """(absolute target folder, its path relative to the corpus); it must lie inside the corpus."""
    root = corpus.resolve()
    target = (Path(folder) if folder else corpus / DEFAULT_DIR).resolve()
    if not target.is_relative_to(root):
        raise UsageError(
            f"--dir {folder} is outside the corpus {corpus}: fetched sources must be in the corpus"
        )
    return target, target.relative_to(root).as_posix()


def _select(refs: list[dict], only: list[str] | None) -> list[dict]:
    by_key: dict[str, dict] = {}
    for r in sorted(refs, key=lambda r: r["cited_by"]):  # a key cited by two documents: the first one
        by_key.setdefault(r["key"], r)
    if not only:
        return [by_key[k] for k in dict.fromkeys(r["key"] for r in refs)]
    unknown = [k for k in only if k not in by_key]
    if unknown:
        hints = [m for k in unknown for m in difflib.get_close_matches(k, list(by_key), n=3)]
        hint = f"; did you mean {', '.join(dict.fromkeys(hints))}?" if hints else "; see: qa sources"
        raise UsageError(f"unknown reference key {', '.join(unknown)}{hint}")
    return [by_key[k] for k in dict.fromkeys(only)]


def _copy_in_corpus(ref: dict, catalogue: dict, corpus: Path) -> str | None:
    for doc, entry in sorted(catalogue.items()):
        if (
            entry["reference"] == ref["key"]
            and entry["cites_from"] == ref["cited_by"]
            and (corpus / doc).is_file()
        ):
            return doc
    return ref.get("in_corpus") if ref.get("in_corpus") and (corpus / ref["in_corpus"]).is_file() else None


# ---------------------------------------------------------------- fetch


def fetch_sources(
    corpus: str | Path,
    index: str | Path,
    only: list[str] | None = None,
    folder: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    force: bool = False,
    build: Callable[[Path, Path], dict] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Fetch the cited URLs into the corpus, then ``build(corpus, index)`` (None: don't update the index).

    Returns a report: ``fetched``, ``failed`` (key, url, reason), ``skipped``, ``index`` and ``ok``.
    """
    import httpx

    corpus, index = Path(corpus), Path(index)
    if timeout <= 0 or max_bytes <= 0 or max_redirects < 0:
        raise UsageError("--timeout and --max-bytes must be positive, --max-redirects not negative")
    if not corpus.is_dir():
        raise UsageError(f"corpus folder not found: {corpus}")
    refs = _select(list_references(index), only)
    target, rel_dir = _target_dir(corpus, folder)
    catalogue = load_catalogue(corpus)
    report: dict = {
        "corpus": str(corpus),
        "dir": str(target),
        "fetched": [],
        "failed": [],
        "skipped": [],
        "ignore_added": [],
        "index": None,
    }
    say = log or (lambda _msg: None)
    todo = []
    for ref in refs:
        copy = _copy_in_corpus(ref, catalogue, corpus)
        if not ref.get("url"):
            (report["failed"] if only else report["skipped"]).append(
                {"key": ref["key"], "url": None, "reason": "the reference has no URL"}
            )
        elif copy and not force:
            report["skipped"].append(
                {
                    "key": ref["key"],
                    "url": ref["url"],
                    "reason": f"already in the corpus as {copy} (--force fetches it again)",
                }
            )
        elif not _KEY.fullmatch(ref["key"]):
            report["failed"].append(
                {"key": ref["key"], "url": ref["url"], "reason": "key unusable as a file name"}
            )
        else:
            todo.append(ref)
    if todo:
        target.mkdir(parents=True, exist_ok=True)
        report["ignore_added"] = ensure_ignored(corpus)
    limits = httpx.Timeout(timeout)
    with httpx.Client(timeout=limits, headers={"User-Agent": USER_AGENT}, follow_redirects=False) as client:
        for n, ref in enumerate(todo, 1):
            key, url = ref["key"], ref["url"]
            say(f"[{n}/{len(todo)}] {key}: {url}")
            try:
                dl = download(client, url, target, key, max_bytes, max_redirects, deadline_s=10 * timeout)
                path, sidecar = _save(dl, ref, target, ref["cited_by"])
            except FetchFailed as e:
                report["failed"].append({"key": key, "url": url, "reason": str(e)})
                continue
            except OSError as e:
                report["failed"].append(
                    {"key": key, "url": url, "reason": f"cannot write ({e.strerror or e})"}
                )
                continue
            doc = f"{rel_dir}/{path.name}" if rel_dir != "." else path.name
            for ext in _EXTS:  # a refetch that changed format: drop our older copy of the other kind
                old = f"{rel_dir}/{key}{ext}" if rel_dir != "." else f"{key}{ext}"
                if old != doc and catalogue.get(old, {}).get("reference") == key:
                    (corpus / old).unlink(missing_ok=True)
                    del catalogue[old]
            catalogue[doc] = {"reference": key, "cites_from": ref["cited_by"]}
            _write_catalogue(corpus, catalogue)
            report["fetched"].append(
                {
                    "key": key,
                    "url": url,
                    "doc": doc,
                    "kind": "pdf" if path.suffix == ".pdf" else "html",
                    "sidecar": f"{doc.rsplit('.', 1)[0]}{SIDECAR}",
                    "final_url": sidecar["final_url"],
                    "bytes": sidecar["bytes"],
                }
            )
    if report["fetched"] and build is not None:
        try:
            report["index"] = build(corpus, index)
        except QAError as e:
            report["index"] = {"error": str(e)}
    report["ok"] = not report["failed"] and not (report["index"] or {}).get("error")
    return report


def _index_settings(base: Settings) -> Settings:
    """``base`` with the existing index's model, chunking and BM25 settings, so the update is incremental."""
    from qa.index import read_manifest

    try:
        stored = read_manifest(base.index)["settings"]
    except QAError:
        return base
    names = {f.name for f in fields(Settings)}  # the manifest may hold derived entries too
    return replace(base, **{k: v for k, v in stored.items() if k in names})


def format_fetch(report: dict) -> str:
    lines = [f"fetched {f['key']} -> {f['doc']} ({f['kind']}, {f['bytes']} bytes)" for f in report["fetched"]]
    lines += [
        f"failed  {f['key']}: {f['reason']}" + (f" [{f['url']}]" if f["url"] else "")
        for f in report["failed"]
    ]
    lines += [f"skipped {s['key']}: {s['reason']}" for s in report["skipped"]]
    if report["ignore_added"]:
        lines.append(f"added to {report['corpus']}/.qaignore: {', '.join(report['ignore_added'])}")
    summary = (
        f"{len(report['fetched'])} fetched, {len(report['failed'])} failed, {len(report['skipped'])} skipped"
    )
    idx = report["index"]
    if idx is None:
        summary += "; index not updated" + (" (run: qa index)" if report["fetched"] else "")
    elif idx.get("error"):
        summary += f"; index update failed: {idx['error']}"
    else:
        summary += f"; index: {idx.get('summary', 'updated')}"
    return "\n".join([*lines, summary])


# ---------------------------------------------------------------- CLI


def cmd_list(args) -> int:
    s = Settings.from_env(index=Path(args.index) if args.index else None)
    refs = list_references(s.index)
    if args.json:
        print(json.dumps({"references": refs}, ensure_ascii=False))
    else:
        print(format_table(refs))
    return 0


def cmd_fetch(args) -> int:
    import sys

    from qa.build import build_index, progress_printer

    s = Settings.from_env(
        corpus=Path(args.corpus) if args.corpus else None, index=Path(args.index) if args.index else None
    )
    settings = _index_settings(s)

    def build(corpus: Path, index: Path) -> dict:
        return build_index(corpus, index, settings=settings, progress=progress_printer(args.json))

    report = fetch_sources(
        s.corpus,
        s.index,
        only=args.only,
        folder=args.dir,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        max_redirects=args.max_redirects,
        force=args.force,
        build=None if args.no_index else build,
        log=None if args.json else lambda m: print(m, file=sys.stderr),
    )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print(format_fetch(report))
    return 0 if report["ok"] else 1


def add_parser(sub) -> None:
    sp = sub.add_parser(
        "sources",
        help="list the references the indexed documents cite; `sources fetch` gets them",
        description="List the references of every indexed document with a References list.",
    )
    sp.add_argument("--index", help="index folder (default: index/, or $QA_INDEX)")
    sp.add_argument("--json", action="store_true", help='print {"references": [...]} on stdout')
    sp.set_defaults(func=cmd_list)
    ssub = sp.add_subparsers(dest="sources_command", metavar="{fetch}")
    fp = ssub.add_parser(
        "fetch",
        help="download the cited URLs into the corpus and update the index",
        description="Download each cited URL (HTML -> <key>.md main text, PDF -> <key>.pdf) with a "
        "provenance sidecar <key>.source.json, record it in corpus/sources.json, then update the index. "
        "Exit code 1 when any source failed.",
    )
    # SUPPRESS: options also given before `fetch` keep their value instead of being reset by this parser
    fp.add_argument("--index", default=argparse.SUPPRESS, help="index folder (default: index/, or $QA_INDEX)")
    fp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS)")
    fp.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON report")
    fp.add_argument("--only", action="append", metavar="KEY", help="only this reference key; repeatable")
    fp.add_argument("--dir", help="folder inside the corpus for the files (default: <corpus>/sources)")
    fp.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to connect and per read (default {DEFAULT_TIMEOUT:g}); 10x for a whole file",
    )
    fp.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help=f"size cap per source (default {DEFAULT_MAX_BYTES})",
    )
    fp.add_argument(
        "--max-redirects",
        type=int,
        default=DEFAULT_MAX_REDIRECTS,
        help=f"redirects to follow (default {DEFAULT_MAX_REDIRECTS})",
    )
    fp.add_argument("--force", action="store_true", help="fetch again references already in the corpus")
    fp.add_argument("--no-index", action="store_true", help="do not update the index afterwards")
    fp.set_defaults(func=cmd_fetch)
