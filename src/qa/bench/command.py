"""`qa bench`: its options and the command (heavy imports stay inside the command)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from qa.bench.common import SECTIONS
from qa.errors import UsageError


def cmd_bench(args) -> int:
    sizes = None
    if args.sizes:
        try:
            sizes = tuple(int(float(s)) for s in args.sizes.split(","))
        except ValueError:
            raise UsageError(f"--sizes takes comma-separated numbers, not '{args.sizes}'") from None
    sections = tuple(x.strip() for x in (args.sections or ",".join(SECTIONS)).split(",") if x.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise UsageError(f"unknown --sections {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    corpus = Path(args.corpus or os.environ.get("QA_CORPUS", "corpus"))
    from qa.bench.report import summary_markdown
    from qa.bench.run import run_bench

    data, path = run_bench(
        corpus,
        Path(args.out),
        Path(args.questions) if args.questions else None,
        quick=args.quick,
        sizes=sizes,
        command=" ".join(["qa", *sys.argv[1:]]),
        sections=sections,
        pdf_corpus=Path(args.pdf_corpus),
    )
    print(summary_markdown(data))
    print(f"qa bench: wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return 1 if data["errors"] else 0


def add_parser(sub) -> None:
    sp = sub.add_parser("bench", help="measure build, answering, API and index scaling against a baseline")
    sp.add_argument(
        "--quick", action="store_true", help="a tiny corpus and small sizes: checks it all runs (CI)"
    )
    sp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS)")
    sp.add_argument("--out", default="bench/results", help="folder for the JSON, markdown and plots")
    sp.add_argument(
        "--questions",
        default="eval/brief_dev.jsonl",
        help="question set, JSON lines (built-in questions when missing)",
    )
    sp.add_argument(
        "--pdf-corpus",
        default="eval/financebench-dev/pdfs",
        help="PDFs for the PDF build, extraction / OCR / embedding apart (quick: a corpus PDF's first pages)",
    )
    sp.add_argument("--sizes", help="scaling sizes, comma-separated (default 1e4,1e5,1e6; quick 1e3,1e4)")
    sp.add_argument(
        "--sections",
        help=f"comma-separated subset of {','.join(SECTIONS)} (default all; answering and api need build)",
    )
    sp.set_defaults(func=cmd_bench)
