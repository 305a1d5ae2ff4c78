"""``qa sources fetch``: download the cited URLs into the corpus, record them, then update the index.

One failure (HTTP error, timeout, too big, wrong type, redirect loop) is reported and the others go on; a
reference already copied into the corpus is skipped unless forced.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

from qa.errors import QAError, UsageError
from qa.references import load_catalogue
from qa.source_download import FetchFailed, download
from qa.source_files import SIDECAR, ensure_ignored, save, write_catalogue
from qa.source_list import list_references

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_DIR = "sources"  # inside the corpus
USER_AGENT = "qa-sources (+https://github.com; fetches references cited by a document)"
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*")
_EXTS = (".md", ".pdf")


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
                path, sidecar = save(dl, ref, target, ref["cited_by"])
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
            write_catalogue(corpus, catalogue)
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
