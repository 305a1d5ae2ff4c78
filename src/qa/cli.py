"""The `qa` command: thin edge over the package. Errors become one stderr line and an exit code."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch or faiss load: idle OpenMP threads sleep
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.errors import QAError, UsageError  # noqa: E402


def _out(args, obj: dict, human: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print(human)


def _settings(args) -> Settings:
    return Settings.from_env(
        corpus=Path(args.corpus) if getattr(args, "corpus", None) else None,
        index=Path(args.index) if getattr(args, "index", None) else None,
        model=getattr(args, "model", None),
        dense_kind=getattr(args, "dense", None),
    )


def cmd_index(args) -> int:
    from qa.index import build_index, progress_printer

    s = _settings(args)
    report = build_index(
        s.corpus,
        s.index,
        settings=s,
        rebuild=args.rebuild,
        progress=progress_printer(args.quiet or args.json),
    )
    lines = [report["summary"]]
    for sk in report["skipped"]:
        lines.append(f"  skipped {sk['path']}: {sk['reason']}")
    if report.get("updated"):
        lines.append(
            f"index: {report['index']} ({report['documents']} documents, {report['pages']} pages, "
            f"{report['chunks']} chunks)"
        )
    if not args.quiet or args.json:
        _out(args, report, "\n".join(lines))
    return 0


def cmd_status(args) -> int:
    from qa.index import status

    s = _settings(args)
    st = status(s.index, s.corpus, s)
    c = st["counts"]
    lines = [
        f"index: {st['index']} built {st['created']} with {st['model']['id']}",
        f"{c['documents']} documents, {c['pages']} pages, {c['chunks']} chunks, {c['skipped']} skipped",
    ]
    for key in ("added", "changed", "removed"):
        lines += [f"  {key}: {p}" for p in st[key]]
    if st["settings_changed"]:
        lines.append(f"  settings changed: {', '.join(st['settings_changed'])}")
    lines.append("stale: run `qa index` to update" if st["stale"] else "up to date")
    _out(args, st, "\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Extractive, cited answers from your documents.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, corpus=True):
        sp.add_argument("--index", help="index folder (default: index/, or $QA_INDEX)")
        if corpus:
            sp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    sp = sub.add_parser("index", help="build or update the index of the corpus")
    common(sp)
    sp.add_argument(
        "--model", help="embedding model: a local sentence-transformers folder (default: bundled)"
    )
    sp.add_argument(
        "--dense", choices=["flat", "hnsw", "ivf", "auto"], help="FAISS index kind (default flat)"
    )
    sp.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of updating")
    sp.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("status", help="what the index holds and whether the corpus changed since")
    common(sp)
    sp.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return args.func(args)
    except QAError as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("qa: interrupted; the previous index is unchanged", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return UsageError.exit_code if isinstance(e, ValueError) else 1


if __name__ == "__main__":
    raise SystemExit(main())
