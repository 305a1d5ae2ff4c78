"""One run of the bench: the sections in order, each failure recorded and the others still run; the JSON,
summary and plots written."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from qa.bench.answering import bench_answering
from qa.bench.api import bench_api
from qa.bench.build import bench_build, bench_pdf, tiny_corpus, tiny_pdf_corpus
from qa.bench.common import BUILTIN_QUESTIONS, SCHEMA, SEARCH_K, SECTIONS, UNITS, load_questions, log
from qa.bench.goals import evaluate_goals, index_advice
from qa.bench.machine import machine_info, thread_info, versions
from qa.bench.plots import make_plots
from qa.bench.report import summary_markdown
from qa.bench.scaling import FULL_SIZES, QUICK_SIZES, _scaling_from_texts
from qa.bench.workers import run_worker
from qa.errors import UsageError


def _strip_private(obj):
    if isinstance(obj, dict):
        return {k: _strip_private(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_strip_private(v) for v in obj]
    return obj


def run_bench(
    corpus: Path,
    out: Path,
    questions_file: Path | None,
    quick: bool = False,
    sizes: tuple[int, ...] | None = None,
    command: str = "",
    sections: tuple[str, ...] = SECTIONS,
    pdf_corpus: Path | None = None,
) -> tuple[dict, Path]:
    """Run the sections; one that fails is recorded under "errors" and the others still run."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    corpus, out = Path(corpus), Path(out)
    if not corpus.is_dir():
        raise UsageError(f"corpus folder not found: {corpus}")
    started = time.perf_counter()
    questions, source = load_questions(questions_file, limit=4 if quick else None)
    sizes = tuple(sizes or (QUICK_SIZES if quick else FULL_SIZES))
    data: dict = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "command": command,
        "units": UNITS,
        "machine": machine_info(),
        "versions": versions(),
        "settings": {
            "corpus": str(corpus),
            "questions_file": source,
            "questions": len(questions),
            "model": None,
            "dense_kind": None,
            "k": SEARCH_K,
        },
        "errors": {},
    }
    from qa.config import Settings

    data["settings"].update(
        model=Settings().model,
        backend=Settings().backend,
        dense_kind=Settings().dense_kind,
        sections=list(sections),
    )
    export, _ = run_worker("export", model=data["settings"]["model"], backend=data["settings"]["backend"])
    data["settings"]["onnx_export"] = {k: export[k] for k in ("made", "export_s")}
    idx = None
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        bench_corpus = tiny_corpus(corpus, work / "tiny") if quick else corpus
        data["settings"]["bench_corpus"] = "two files cut from the corpus (quick)" if quick else str(corpus)
        if "build" in sections:
            _section(data, "build", bench_build, bench_corpus, work / "build")
        if "pdf" in sections:
            pdfs = tiny_pdf_corpus(corpus, work / "tiny-pdf") if quick else pdf_corpus
            data["settings"]["pdf_corpus"] = "the first pages of a corpus PDF (quick)" if quick else str(pdfs)
            if pdfs is None or not Path(pdfs).is_dir():
                data["errors"]["pdf"] = f"PDF corpus folder not found: {pdfs}"
            else:
                _section(data, "pdf", bench_pdf, Path(pdfs), work / "pdf")
        paths = data.get("build", {}).get("_paths")
        if paths and "answering" in sections:
            answering = _section(
                data,
                "answering",
                bench_answering,
                Path(paths["index"]),
                Path(paths["baseline"]),
                questions,
                quick,
            )
            if answering:
                data["answering"], idx = answering
        if "api" in sections:
            if idx is None:
                data["api"] = {"measured": False, "reason": "no index was built and loaded in this run"}
            elif not _section(data, "api", bench_api, idx, questions, quick):
                data["api"] = {"measured": False, "reason": data["errors"]["api"]}
        data["threads"] = thread_info()
        if "scaling" in sections:
            qtexts = [*load_questions(questions_file)[0], *BUILTIN_QUESTIONS][: 10 if quick else 50]
            embedder = idx.embedder if idx is not None else None
            _section(data, "scaling", _scaling_from_texts, qtexts, sizes, quick, embedder)
        if "milvus" in sections:  # the built index in a milvus-lite server beside FAISS (qa.milvus.bench)
            from qa.milvus.bench import section as milvus_section

            if paths:
                _section(data, "milvus", milvus_section, Path(paths["index"]), questions, quick)
            else:
                data["milvus"] = {"measured": False, "reason": "no index was built in this run"}
        idx = None
    data["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data["duration_s"] = round(time.perf_counter() - started, 1)
    data["goals"] = evaluate_goals(data)
    data["index_advice"] = index_advice(data)
    data = _strip_private(data)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now().strftime('%Y-%m-%d')}-{_safe(socket.gethostname())}{'-quick' if quick else ''}"
    try:
        data["plots"] = make_plots(data, out, stem)
    except Exception as e:
        data["errors"]["plots"] = f"{type(e).__name__}: {e}"
        data["plots"] = {}
    path = out / f"{stem}.json"
    tmp_path = out / f"{stem}.json.tmp"
    tmp_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp_path.replace(path)
    (out / f"{stem}.md").write_text(summary_markdown(data), encoding="utf-8")
    return data, path


def _section(data: dict, name: str, fn, *args):
    """Run one section into data[name] (a tuple result is returned whole); record a failure and go on."""
    try:
        result = fn(*args)
    except Exception as e:  # one broken section must not lose the others' figures
        data["errors"][name] = f"{type(e).__name__}: {e}"
        log(f"{name} failed: {data['errors'][name]}")
        return None
    if not isinstance(result, tuple):
        data[name] = result
    return result


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:60] or "host"
