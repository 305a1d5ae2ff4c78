"""The build section: our full build of the corpus and an incremental update of one file, against the
baseline's build of the same corpus, each in a fresh process; and the same for a corpus of PDFs, with its
time split into text extraction, OCR and embedding."""

from __future__ import annotations

import shutil
from pathlib import Path

from qa.bench.baseline import BACKEND as BASELINE_BACKEND
from qa.bench.baseline import WINDOW_OVERLAP, WINDOW_WORDS
from qa.bench.common import _ratio, dir_bytes, log
from qa.bench.workers import run_worker
from qa.errors import UsageError

TOUCH_LINE = "\nBenchmark note: this line was appended to measure an incremental update.\n"


def tiny_corpus(corpus: Path, dest: Path, chars: int = 2500) -> Path:
    """Two small text files cut from the corpus's two smallest text documents (for --quick)."""
    from qa.ingest import scan_corpus

    found, _ = scan_corpus(corpus)
    text_files = sorted((p.stat().st_size, rel, p) for rel, p in found if p.suffix.lower() in (".txt", ".md"))
    if len(text_files) < 2:
        raise UsageError(f"--quick needs two .txt or .md files in {corpus}")
    dest.mkdir(parents=True)
    for _, rel, path in text_files[:2]:
        text = path.read_text(encoding="utf-8", errors="replace")
        cut = text.rfind("\n\n", 0, chars)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text[: cut if cut > chars // 2 else chars] + "\n", encoding="utf-8")
    return dest


def touch_smallest(corpus: Path) -> str:
    """Append a line to the smallest text file of the corpus; returns its id."""
    from qa.ingest import scan_corpus

    found, _ = scan_corpus(corpus)
    small = min((p.stat().st_size, rel, p) for rel, p in found if p.suffix.lower() in (".txt", ".md"))
    with open(small[2], "a", encoding="utf-8") as f:
        f.write(TOUCH_LINE)
    return small[1]


def _build_entry(result: dict, wall: float, size: int, stages: tuple[str, ...]) -> dict:
    t = result["timings"]
    total = t["total"]
    split = {f"{k}_s": t.get(k, 0.0) for k in stages}
    split["other_s"] = round(max(0.0, total - sum(split.values())), 3)
    return {
        "stages": split,
        "total_s": total,
        "process_wall_s": round(wall, 3),
        "documents_count": result["documents_count"],
        "pages_count": result["pages_count"],
        "chunks_count": result["chunks_count"],
        "chunks_per_s": round(result["chunks_count"] / total, 2) if total else None,
        "pages_per_s": round(result["pages_count"] / total, 2) if total else None,
        "index_bytes": size,
        "peak_rss_bytes": result["peak_rss_bytes"],
        "threads": result["threads"],
    }


STAGES = ("extract", "ocr", "chunk", "references", "model_load", "embed", "write")
BASELINE_STAGES = ("ingest", "window", "model_load", "embed", "write")


def _ours_and_baseline(corpus: Path, work: Path) -> tuple[dict, dict, dict]:
    """Our full build of a copy of ``corpus`` in ``work`` and the baseline's: (ours, baseline, raw result)."""
    ours_corpus = work / "corpus"
    shutil.copytree(corpus, ours_corpus)
    index = work / "index"
    log(f"building {corpus} (our pipeline, subprocess)")
    full, full_wall = run_worker("build", corpus=str(ours_corpus), index=str(index), rebuild=True)
    ours = _build_entry(full, full_wall, dir_bytes(index), STAGES)
    ours["backend"] = full["backend"]
    ours["note"] = (
        "model loaded before build_index; extract: reading files (text layers, HTML, Word) without OCR; "
        "other_s: corpus scan and file hashing"
    )
    log("building the baseline (200-word windows, torch, flat IP, subprocess)")
    base_dir = work / "baseline"
    base, base_wall = run_worker("baseline_build", corpus=str(corpus), out=str(base_dir))
    baseline = _build_entry(base, base_wall, dir_bytes(base_dir), BASELINE_STAGES)
    baseline["settings"] = {
        "window_words_count": WINDOW_WORDS,
        "overlap_words_count": WINDOW_OVERLAP,
        "index": "faiss.IndexFlatIP",
        "backend": BASELINE_BACKEND,
    }
    baseline["words_count"] = base["words_count"]
    return ours, baseline, full


def _ratios(ours: dict, baseline: dict) -> dict:
    return {
        "total_vs_baseline_ratio": _ratio(ours["total_s"], baseline["total_s"]),
        "process_wall_vs_baseline_ratio": _ratio(ours["process_wall_s"], baseline["process_wall_s"]),
        "embed_vs_baseline_ratio": _ratio(ours["stages"]["embed_s"], baseline["stages"]["embed_s"]),
        "index_bytes_vs_baseline_ratio": _ratio(ours["index_bytes"], baseline["index_bytes"]),
        "peak_rss_vs_baseline_ratio": _ratio(ours["peak_rss_bytes"], baseline["peak_rss_bytes"]),
    }


def bench_build(corpus: Path, work: Path) -> dict:
    """Our full build, the incremental update, and the baseline build, each in a fresh process."""
    ours, baseline, full = _ours_and_baseline(corpus, work)
    ours_corpus, index = work / "corpus", work / "index"
    touched = touch_smallest(ours_corpus)
    log(f"incremental update after appending a line to {touched}")
    inc, inc_wall = run_worker("build", corpus=str(ours_corpus), index=str(index), rebuild=False)
    incremental = {
        "touched": touched,
        "changed": inc["changed"],
        "embedded_count": inc["embedded_count"],
        "summary": inc["summary"],
        "stages": {f"{k}_s": v for k, v in inc["timings"].items() if k != "total"},
        "total_s": inc["timings"]["total"],
        "process_wall_s": round(inc_wall, 3),
        "of_full_pct": round(100 * inc["timings"]["total"] / full["timings"]["total"], 2),
        "process_wall_of_full_pct": round(100 * inc_wall / ours["process_wall_s"], 2),
        "peak_rss_bytes": inc["peak_rss_bytes"],
    }
    return {
        "ours": ours,
        "baseline": baseline,
        "incremental": incremental,
        "ratios": _ratios(ours, baseline),
        "_paths": {"index": str(index), "baseline": str(work / "baseline")},
    }


def bench_pdf(pdfs: Path, work: Path) -> dict:
    """A corpus of PDFs built by us and by the baseline: where our time goes (text extraction, OCR,
    embedding) and the ratio to the baseline's build."""
    ours, baseline, _ = _ours_and_baseline(pdfs, work)
    return {"corpus": str(pdfs), "ours": ours, "baseline": baseline, "ratios": _ratios(ours, baseline)}


def tiny_pdf_corpus(corpus: Path, dest: Path, pages: int = 4) -> Path:
    """The first pages of the corpus's smallest PDF, as a one-file corpus (for --quick)."""
    from pypdf import PdfReader, PdfWriter

    found = sorted((p.stat().st_size, p) for p in corpus.rglob("*.pdf"))
    if not found:
        raise UsageError(f"--quick needs a PDF in {corpus} for the PDF build")
    reader, writer = PdfReader(found[0][1]), PdfWriter()
    for page in reader.pages[:pages]:
        writer.add_page(page)
    dest.mkdir(parents=True)
    with open(dest / found[0][1].name, "wb") as f:
        writer.write(f)
    return dest
