"""`qa sources`: the references the indexed documents cite, and fetching the cited sources into the corpus.

``qa sources`` lists every reference entry of the index's bibliography (``qa.source_list``); ``qa sources
fetch`` downloads the cited URLs into the corpus (``qa.source_fetch``) and updates the index incrementally,
with the existing index's settings.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError
from qa.source_fetch import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
    fetch_sources,
    format_fetch,
)
from qa.source_list import format_table, list_references


def _index_settings(base: Settings) -> Settings:
    """``base`` with the existing index's model, chunking and BM25 settings, so the update is incremental."""
    from qa.index import read_manifest

    try:
        stored = read_manifest(base.index)["settings"]
    except QAError:
        return base
    names = {f.name for f in fields(Settings)}  # the manifest may hold derived entries too
    return replace(base, **{k: v for k, v in stored.items() if k in names})


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
