"""Which PDF text extractor: speed and retrieval quality measured together (issue 13).

    .venv/bin/python bench/extractors.py [--extractors pypdfium2,pypdfium2-cells,pypdf,pypdf-layout]
                                         [--speed-only] [--no-pdfplumber]
                                         [--work /tmp/qa-bench-extractors] [--out bench/results]

Speed: seconds to extract the text of every page of the FinanceBench dev filings and of the shipped corpus's
PDF with each extractor (pypdf opening the file is counted once, apart, as every extractor needs it for page
labels and metadata); pdfplumber too when it is installed (speed only: its text is PDFium's, line for line).

Quality, per extractor, through the real pipeline (``build_index`` with ``Settings(pdf_text=...)``, the
bundled model, hybrid retrieval):
- FinanceBench dev (``eval/financebench-dev``: 9 filings, 27 questions with gold pages, free-form answers):
  page hit@1/5/10 — a hit is a retrieved chunk on a gold page of the question's filing (``doc`` = stem).
- The shipped corpus with ``eval/sources_dev.jsonl``: hit@1/5 as ``qa eval`` counts them (a gold answer string
  inside a top-k chunk) and the same page hit@k over its questions with gold pages. Retrieval only: the
  answer step (page accuracy) is measured with ``qa eval`` on the index this leaves in ``--work``.
Indexes are updated, not rebuilt, when ``--work`` already holds them (``--rebuild`` to time the builds).
Writes ``<out>/<date>-extractors.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
FINANCE = ROOT / "eval" / "financebench-dev"
CORPUS = ROOT / "corpus"
SOURCES_DEV = ROOT / "eval" / "sources_dev.jsonl"


def pdfs() -> list[Path]:
    return sorted((FINANCE / "pdfs").glob("*.pdf")) + sorted(CORPUS.rglob("*.pdf"))


def speed(extractors: list[str], with_pdfplumber: bool = True) -> dict:
    """Seconds per extractor over all pages (and for pypdf's opening of the files, counted apart)."""
    from pypdf import PdfReader

    from qa.ingest import FileReport
    from qa.ingest.pdf import page_texts

    files = pdfs()
    t = time.perf_counter()
    readers = []
    for p in files:
        r = PdfReader(p, strict=False)
        if r.is_encrypted:
            r.decrypt("")
        _ = list(r.page_labels)
        readers.append(r)
    out = {"files": len(files), "pages": sum(len(r.pages) for r in readers)}
    out["pypdf_open_and_labels_s"] = round(time.perf_counter() - t, 2)
    for name in extractors:
        t = time.perf_counter()
        chars = 0
        for p in files:
            r = PdfReader(p, strict=False)
            if r.is_encrypted:
                r.decrypt("")
            chars += sum(len(x) for x in page_texts(p, r, name, FileReport(p.name)))
        out[f"{name}_s"] = round(time.perf_counter() - t, 2)
        out[f"{name}_chars"] = chars
    if not with_pdfplumber:
        return out
    try:
        import pdfplumber
    except ImportError:
        return out
    t = time.perf_counter()
    for p in files:
        with pdfplumber.open(p) as pdf:
            for page in pdf.pages:
                page.extract_text()
    out["pdfplumber_s"] = round(time.perf_counter() - t, 2)
    return out


def _hits(idx, questions: list[dict], by_page: bool) -> dict:
    """hit@k by page (a top-k chunk on a gold page of the question's document, by file stem) or by answer
    (a gold answer string inside a top-k chunk, as ``qa eval`` counts), over the questions that have them."""
    from qa.evaluate import contains_gold

    def hit(h, q) -> bool:
        if by_page:
            return Path(h.chunk.doc).stem == q["doc"] and h.chunk.page in q["pages"]
        return contains_gold(h.chunk.text, q["answers"])

    asked = [q for q in questions if ((q.get("pages") and q.get("doc")) if by_page else q["answers"])]
    ranks = []
    for q in asked:
        hits = idx.search(q["question"], k=10, retriever="hybrid")
        ranks.append(next((h.rank for h in hits if hit(h, q)), None))
    name = "page_hit" if by_page else "hit"
    n = len(asked)
    out = {f"{name}@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 3) for k in (1, 5, 10)}
    return out | {f"{name}_questions": n}


def quality(extractors: list[str], work: Path, rebuild: bool) -> dict:
    from qa.build import build_index
    from qa.config import Settings
    from qa.embed import get_embedder
    from qa.evaluate import load_questions
    from qa.index import load_index

    emb = get_embedder(Settings().model)
    finance_q = load_questions(FINANCE / "questions.jsonl")
    sources_q = load_questions(SOURCES_DEV)
    out = {}
    for name in extractors:
        settings = Settings(pdf_text=name)
        row = {}
        t = time.perf_counter()
        rep = build_index(FINANCE / "pdfs", work / f"finance-{name}", settings, embedder=emb, rebuild=rebuild)
        if rep["updated"]:
            row["finance_build_s"] = round(time.perf_counter() - t, 1)
            row["finance_ingest_s"] = rep["timings"]["ingest"]
        idx = load_index(work / f"finance-{name}", embedder=emb)
        row["finance_chunks"] = len(idx.chunks)
        row["finance_table_rows"] = sum(1 for c in idx.chunks if c.kind == "table_row")
        row["finance"] = _hits(idx, finance_q, by_page=True)
        build_index(CORPUS, work / f"corpus-{name}", settings, embedder=emb, rebuild=rebuild)
        idx = load_index(work / f"corpus-{name}", embedder=emb)
        row["sources_dev"] = _hits(idx, sources_q, by_page=False) | _hits(idx, sources_q, by_page=True)
        out[name] = row
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    return out


def table(result: dict) -> str:
    s, q = result["speed"], result.get("quality", {})
    lines = [
        f"Text of {s['pages']} pages in {s['files']} PDFs (pypdf opening the files and reading page labels: "
        f"{s['pypdf_open_and_labels_s']} s, apart).",
        "",
        "| extractor | extraction s | ms / page | FinanceBench page hit@1 / @5 / @10 | table-row chunks "
        "| sources_dev hit@1 / @5 | sources_dev page hit@1 / @5 |",
        "|---|---|---|---|---|---|---|",
    ]
    names = [k[:-2] for k in s if k.endswith("_s") and k != "pypdf_open_and_labels_s"]
    for name in names:
        sec = s[f"{name}_s"]
        row = q.get(name)
        cells = [name, f"{sec}", f"{1000 * sec / s['pages']:.1f}"]
        if row:
            f, d = row["finance"], row["sources_dev"]
            cells += [
                f"{f['page_hit@1']} / {f['page_hit@5']} / {f['page_hit@10']}",
                f"{row['finance_table_rows']} of {row['finance_chunks']}",
                f"{d['hit@1']} / {d['hit@5']}",
                f"{d['page_hit@1']} / {d['page_hit@5']}",
            ]
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extractors", default="pypdfium2,pypdfium2-cells,pypdf,pypdf-layout")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--no-pdfplumber", action="store_true", help="skip timing pdfplumber (about 5 min)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the indexes in --work (timed)")
    ap.add_argument("--speed-from", type=Path, help="the speed figures of an earlier run's JSON")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-extractors"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    if args.speed_from:
        measured = json.loads(args.speed_from.read_text())["speed"]
    else:
        measured = speed(names, not args.no_pdfplumber)
    result = {"date": date.today().isoformat(), "speed": measured}
    print(json.dumps(result["speed"]), file=sys.stderr, flush=True)
    if not args.speed_only:
        result["quality"] = quality(names, args.work, args.rebuild)
    md = table(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{result['date']}-extractors"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
