"""The `qa` command: thin edge over the package. Errors become one stderr line and an exit code."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch or faiss load: idle OpenMP threads sleep
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from qa.config import BACKENDS, DEFAULT_BACKEND, Settings  # noqa: E402
from qa.errors import QAError, UsageError  # noqa: E402

# Modules with an add_parser(subparsers) function; each sets func=... on its parser(s).
_COMMAND_MODULES: tuple[str, ...] = ("qa.server", "qa.sources", "qa.bench", "qa.answer.train")


def _out(args, obj: dict, human: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print(human)


def _settings(args) -> Settings:
    """The settings the arguments name; with --milvus-uri (or $QA_MILVUS_URI) the index is in Milvus."""
    from dataclasses import replace

    from qa.milvus import location_from

    s = _folder_settings(args)
    milvus = location_from(getattr(args, "milvus_uri", None), getattr(args, "collection", None))
    return replace(s, index=milvus) if milvus else s


def _folder_settings(args) -> Settings:
    return Settings.from_env(
        corpus=Path(args.corpus) if getattr(args, "corpus", None) else None,
        index=Path(args.index) if getattr(args, "index", None) else None,
        model=getattr(args, "model", None),
        backend=getattr(args, "backend", None),
        dense_kind=getattr(args, "dense", None),
    )


def cmd_index(args) -> int:
    from qa.build import build_index, progress_printer

    s = _settings(args)
    if args.from_index:
        return _load_into_milvus(args, s)
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
    for path, warnings in report["warnings"].items():
        lines += [f"  warning {path}: {w}" for w in warnings]
    if report.get("updated"):
        lines.append(
            f"index: {report['index']} ({report['documents']} documents, {report['pages']} pages, "
            f"{report['chunks']} chunks)"
        )
    if not args.quiet or args.json:
        _out(args, report, "\n".join(lines))
    return 0


def _load_into_milvus(args, s: Settings) -> int:
    """qa index --milvus-uri URI --from index/ [--from shard2/ ...]: existing index folders into Milvus as one
    index (the shards workers built of parts of one corpus), nothing re-embedded."""
    from qa.milvus import Location
    from qa.milvus.sync import write_index

    if not isinstance(s.index, Location):
        raise UsageError("--from needs --milvus-uri (or $QA_MILVUS_URI): the Milvus to load the index into")
    report = write_index(s.index, [Path(f) for f in args.from_index])
    human = (
        f"loaded {', '.join(args.from_index)} into {s.index}: generation {report['generation']}, "
        f"{len(report['written'])} documents written ({report['chunks_written']} chunks), "
        f"{report['kept']} unchanged, {len(report['removed'])} removed"
    )
    if not args.quiet or args.json:
        _out(args, report, human)
    return 0


def milvus_options(sp) -> None:
    """--milvus-uri and --collection: the index in a Milvus server instead of a folder (qa.milvus)."""
    sp.add_argument(
        "--milvus-uri", help="the index in Milvus at this URI, e.g. http://127.0.0.1:19530 ($QA_MILVUS_URI)"
    )
    sp.add_argument("--collection", help="the index's name in Milvus (default qa)")


def cmd_status(args) -> int:
    from qa.index import status

    s = _settings(args)
    explicit = args.corpus or os.environ.get("QA_CORPUS")
    # Without a corpus folder here (and none named), describe the index without comparing.
    st = status(s.index, s.corpus if explicit or s.corpus.is_dir() else None, s)
    c = st["counts"]
    lines = [
        f"index: {st['index']} built {st['created']} with {st['model']['id']}",
        f"{c['documents']} documents, {c['pages']} pages, {c['chunks']} chunks, {c['skipped']} skipped",
    ]
    if "stale" not in st:
        lines.append("no corpus folder to compare with (give --corpus)")
        _out(args, st, "\n".join(lines))
        return 0
    for key in ("added", "changed", "removed"):
        lines += [f"  {key}: {p}" for p in st[key]]
    if st["settings_changed"]:
        lines.append(f"  settings changed: {', '.join(st['settings_changed'])}")
    lines.append("stale: run `qa index` to update" if st["stale"] else "up to date")
    _out(args, st, "\n".join(lines))
    return 0


def _format_answer(ans, documents: dict | None = None) -> str:
    """The answer as a person reads it; ``documents`` (the index's manifest entries) tell which documents
    have pages: one without (a text file with no form feeds) is cited by its section alone."""
    from qa.wording import has_pages, location

    documents = documents or {}

    def titled(c) -> str:
        where = location(c, has_pages(documents.get(c.doc)))
        return f"{c.title}, {where}" if where else c.title

    lines = []
    if ans.message and not ans.abstained:
        lines.append(f"({ans.message})")
    if ans.abstained:
        lines.append(ans.message)
        if ans.related:
            lines.append("\nRelated reading (not an answer):")
            for c in ans.related:
                lines.append(f"  - {titled(c)}: {c.quote[:200]}")
        return "\n".join(lines)
    if ans.by_document:  # a question across documents: each document's quotes under its title
        for col in ans.by_document:
            lines.append(f"\n{col['title']} ({col['doc']}):")
            lines += [f"  [{c.n}] {c.quote}" for c in col["citations"]]
    else:
        lines.append(ans.display or ans.answer)
    if ans.kind == "evidence":
        lines.append(f"\n(evidence, not an answer: confidence {ans.confidence:.2f} that it answers)")
    else:
        lines.append(f"\nconfidence {ans.confidence:.2f}")
    for c in ans.citations:
        lines.append(f"[{c.n}] {titled(c)} [{c.doc}:{c.start}-{c.end}]")
        for ref in c.references:
            lines.append(
                f"    The document cites: {ref.get('label', '')}, {ref.get('title', '')}"
                f" — {ref.get('url', '')}"
            )
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from qa.index import load_index

    s = _settings(args)
    idx = load_index(s.index, backend=args.backend)
    history = [h for h in (args.history or [])]
    ans = idx.ask(args.question, history=history, docs=args.doc, k=args.k, retriever=args.retriever)
    _out(args, ans.to_dict(), _format_answer(ans, idx.documents))
    return 0


def backend_option(sp, what: str = f"how the model runs (default {DEFAULT_BACKEND}, or $QA_BACKEND)") -> None:
    sp.add_argument("--backend", choices=BACKENDS, help=what)


_OWN_COMMANDS = ("index", "status", "ask")  # defined here; the others by the modules above


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``command`` one of this module's own, only its commands (a cold
    ``qa ask`` then imports none of the other commands' modules)."""
    p = argparse.ArgumentParser(prog="qa", description="Extractive, cited answers from your documents.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, corpus=True):
        sp.add_argument("--index", help="index folder (default: index/, or $QA_INDEX)")
        if corpus:
            sp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        milvus_options(sp)

    sp = sub.add_parser("index", help="build or update the index of the corpus")
    common(sp)
    sp.add_argument(
        "--model", help="embedding model: a local sentence-transformers folder (default: bundled)"
    )
    backend_option(sp)
    sp.add_argument(
        "--dense",
        choices=["flat", "hnsw", "ivf", "auto"],
        help="FAISS index kind (default auto: exact up to 50,000 chunks, then HNSW)",
    )
    sp.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of updating")
    sp.add_argument(
        "--from",
        dest="from_index",
        metavar="DIR",
        action="append",
        help="with --milvus-uri: load this index folder as it is; repeated: the shards built by several "
        "workers from disjoint parts of one corpus, as one index",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("status", help="what the index holds and whether the corpus changed since")
    common(sp)
    sp.add_argument("--model", help="the embedding model `qa index` would use (default: bundled)")
    backend_option(sp)
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("ask", help="ask a question; prints cited verbatim sentences or an abstention")
    sp.add_argument("question")
    common(sp, corpus=False)
    sp.add_argument("--doc", action="append", help="only this document (relative path or id); repeatable")
    sp.add_argument("--k", type=int, default=8, help="hits to retrieve (default 8)")
    sp.add_argument("--retriever", choices=["dense", "bm25", "hybrid"], default="hybrid")
    sp.add_argument("--history", action="append", help="an earlier question of the conversation; repeatable")
    backend_option(sp, "refuse an index embedded with another backend (default: the index's)")
    sp.set_defaults(func=cmd_ask)

    if command in _OWN_COMMANDS:
        return p
    importlib.import_module("qa.evaluation.command").add_parser(sub)  # qa eval
    # Each further command lives in its own module, which adds its parser here (heavy imports stay inside).
    for name in _COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = build_parser(args[0] if args else None)
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
