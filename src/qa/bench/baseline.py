"""The baseline people would write by hand: fixed 200-word windows (50-word overlap) over the pages qa.ingest
reads, embedded with the same model on PyTorch, a flat FAISS inner-product index, search only. Its build and
serving run in fresh processes (tasks of qa.bench.workers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from qa.bench.common import SEARCH_K, _pinned_faiss, _rss, _timed, latency_summary

BACKEND = "torch"  # what the baseline's user runs: sentence-transformers as installed

WINDOW_WORDS = 200


WINDOW_OVERLAP = 50


def window_starts(n_words: int, size: int = WINDOW_WORDS, overlap: int = WINDOW_OVERLAP) -> list[int]:
    """Word offsets of the baseline's windows: one every size−overlap words until one reaches the end."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError("need size > 0 and 0 <= overlap < size")
    if n_words <= 0:
        return []
    return [0, *range(size - overlap, n_words - overlap, size - overlap)]


def windows(text: str, size: int = WINDOW_WORDS, overlap: int = WINDOW_OVERLAP) -> list[str]:
    """The baseline's chunks: fixed word windows over whitespace-split text."""
    words = text.split()
    return [" ".join(words[s : s + size]) for s in window_starts(len(words), size, overlap)]


def _task_baseline_build(corpus: str, out: str) -> dict:
    from qa.config import Settings
    from qa.embed import get_embedder
    from qa.errors import IngestError
    from qa.ingest import FileReport, read_file, scan_corpus

    settings = Settings()
    t0 = time.perf_counter()
    timings = {}
    found, _ = scan_corpus(Path(corpus))
    texts, pages = [], 0
    t = time.perf_counter()
    for rel, path in found:
        try:
            _, doc_pages = read_file(path, rel, settings.cap(path), FileReport(rel))
        except IngestError:
            continue
        pages += len(doc_pages)
        texts.append((rel, "\n".join(p.text for p in doc_pages)))
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = [{"doc": rel, "text": w} for rel, text in texts for w in windows(text)]
    timings["window"] = time.perf_counter() - t
    emb, timings["model_load"] = _timed(get_embedder, settings.model, BACKEND)
    t = time.perf_counter()
    batch = settings.batch_size * 4  # as build_index feeds the embedder
    parts = [emb.encode([r["text"] for r in rows[i : i + batch]]) for i in range(0, len(rows), batch)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, emb.dim), dtype=np.float32)
    timings["embed"] = time.perf_counter() - t
    t = time.perf_counter()
    faiss = _pinned_faiss()
    index = faiss.IndexFlatIP(emb.dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out_dir / "dense.faiss"))
    with open(out_dir / "windows.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return {
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "documents_count": len(texts),
        "pages_count": pages,
        "chunks_count": len(rows),
        "words_count": sum(len(t.split()) for _, t in texts),
    }


def _task_baseline_serve(baseline: str, questions: list[str]) -> dict:
    """The baseline's serving process: model, flat index and windows; embed and search each question."""
    from qa.config import Settings
    from qa.embed import get_embedder

    t = time.perf_counter()
    faiss = _pinned_faiss()
    index = faiss.read_index(str(Path(baseline) / "dense.faiss"))
    with open(Path(baseline) / "windows.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    load_s = time.perf_counter() - t
    emb, model_s = _timed(get_embedder, Settings().model, BACKEND)
    lat, answers = [], []
    for q in questions:
        t = time.perf_counter()
        _, ids = index.search(emb.encode([q]), SEARCH_K)
        answers.append([rows[i]["text"] for i in ids[0] if i >= 0])
        lat.append(time.perf_counter() - t)
    return {
        "load_s": round(load_s, 3),
        "model_load_s": round(model_s, 3),
        "search": latency_summary(lat),
        "rss_after_bytes": _rss(),
    }
