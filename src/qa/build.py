"""Building an index, or updating one: the corpus read (what an unchanged file had is reused), chunked, what
is new embedded, and the files written into a fresh folder that is then swapped in (qa.folder), so the
previous index survives any failure. Reading an index back, and its manifest, is qa.index's."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qa import __version__
from qa.config import FORMAT_NAME, FORMAT_VERSION, Settings
from qa.doc_identity import identify
from qa.errors import IndexProblem, IngestError, UsageError
from qa.folder import checksums, fresh_tmp, fsync_dir, read_jsonl, recover, swap_in, write_jsonl
from qa.index import OtherFormat, fingerprint, read_manifest
from qa.ingest import FileReport, ReadOptions, read_file, scan_corpus
from qa.milvus import Location
from qa.records import Chunk, Document, Page
from qa.units import Progress, embed_units, unit_offsets


class _Previous:
    """What an existing, compatible index can lend to an update: pages, chunks and vectors per file."""

    def __init__(self, index: Path, settings: Settings) -> None:
        self.files: dict[str, dict] = {}
        self.pages: dict[str, list[Page]] = {}
        self.chunks: dict[str, list[tuple[Chunk, int]]] = {}
        self.vectors: np.ndarray | None = None
        self.units: np.ndarray | None = None
        self.offsets: np.ndarray | None = None
        self.reason = ""
        if not (index / "manifest.json").exists():
            return
        try:
            manifest = read_manifest(index)
        except OtherFormat:
            self.reason = "format version changed"
            return
        except IndexProblem:
            self.reason = "previous index unreadable"
            return
        if manifest["fingerprint"] != settings.fingerprint():
            self.reason = "settings changed"
            return
        try:
            vectors = np.load(index / "vectors.npy", allow_pickle=False)
            units = np.load(index / "sentences.npy", allow_pickle=False, mmap_mode="r")
            chunks = [Chunk.from_dict(d) for d in read_jsonl(index / "chunks.jsonl")]
            pages = [Page.from_dict(d) for d in read_jsonl(index / "pages.jsonl")]
        except (OSError, ValueError, KeyError):
            self.reason = "previous index unreadable"
            return
        self.offsets = unit_offsets(chunks)
        if len(vectors) != len(chunks) or len(units) != self.offsets[-1]:
            self.reason = "previous index inconsistent"
            return
        self.files = {f["path"]: f for f in manifest["files"]}
        self.vectors = vectors
        self.units = units
        for p in pages:
            self.pages.setdefault(p.doc, []).append(p)
        for i, c in enumerate(chunks):
            self.chunks.setdefault(c.doc, []).append((c, i))


def build_index(
    corpus: str | Path = "corpus",
    index: str | Path = "index",
    settings: Settings | None = None,
    embedder=None,
    rebuild: bool = False,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Build or incrementally update the index; returns a report. The previous index survives any failure.
    ``index`` is a folder, or a Milvus ``Location`` (see qa.milvus)."""
    from qa.chunk import chunk_document  # build-only imports: loading an index needs neither
    from qa.embed import get_embedder
    from qa.examples import refresh as refresh_examples
    from qa.ingest.ocr import OcrCache

    if isinstance(index, Location):
        from qa.milvus.build import build_milvus

        return build_milvus(corpus, index, settings, embedder, rebuild, progress, log)
    corpus, index = Path(corpus), Path(index)
    settings = settings or Settings()
    if embedder is not None and embedder.model_id != settings.model:
        settings = replace(settings, model=embedder.model_id)  # vectors of another model are never reused
    if getattr(embedder, "backend", None) and embedder.backend != settings.backend:
        settings = replace(settings, backend=embedder.backend)  # nor those of another backend
    timings = {"ingest": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0}
    t0 = time.perf_counter()
    found, refused = scan_corpus(corpus)
    if not found and not refused:
        raise UsageError(f"corpus folder {corpus} has no documents (add PDF, TXT, MD or HTML files)")
    recover(index)
    prev = None if rebuild else _Previous(index, settings)
    ocr_cache = OcrCache.load(index)  # even on a rebuild: an OCR'd page is never read again
    read_options = ReadOptions.from_settings(settings, ocr_cache, progress)
    reports: list[FileReport] = list(refused)
    docs: list[tuple[Document, list[Page], list[Chunk], list[int | None]]] = []
    identities: dict[str, dict] = {}  # what identifies each document (qa.doc_identity), by path
    added, changed, unchanged = [], [], []
    for n, (rel, path) in enumerate(found):
        if progress:
            progress("read", n, len(found))
        rep = FileReport(rel)
        try:
            rep.bytes = path.stat().st_size
            rep.sha256 = fingerprint(path, settings.cap(path))
        except OSError as e:
            reports.append(FileReport(rel, status="skipped", reason=f"cannot read ({e.strerror})"))
            continue
        old = prev.files.get(rel) if prev else None
        if old and old.get("sha256") == rep.sha256 and rep.sha256:
            unchanged.append(rel)
            if old["status"] != "ok":
                reports.append(FileReport(**{k: old[k] for k in FileReport.__dataclass_fields__ if k in old}))
                continue
            kept = prev.chunks.get(rel, [])
            identities[rel] = old.get("identity") or {}
            doc = Document(
                doc=rel, title=old["title"], format=old["format"], pages=old["pages"], url=old.get("url")
            )
            docs.append((doc, prev.pages.get(rel, []), [c for c, _ in kept], [i for _, i in kept]))
            reports.append(FileReport(**{k: old[k] for k in FileReport.__dataclass_fields__ if k in old}))
            continue
        (changed if old else added).append(rel)
        t = time.perf_counter()
        try:
            doc, pages = read_file(path, rel, settings.cap(path), rep, read_options)
        except IngestError as e:
            rep.status, rep.reason = "skipped", str(e)
            reports.append(rep)
            timings["ingest"] += time.perf_counter() - t
            continue
        t1 = time.perf_counter()
        timings["ingest"] += t1 - t
        chunks = chunk_document(pages, doc.title, settings.max_tokens, settings.max_chars)
        timings["chunk"] += time.perf_counter() - t1
        if not chunks:
            rep.status, rep.reason = "skipped", "no text to index"
            reports.append(rep)
            continue
        rep.pages = len(pages)
        # a PDF is identified as it is read (its cover may title it); any other document here, by its title
        identities[rel] = (doc.identity or identify(path, doc.title, pages)[0]).to_dict()
        docs.append((doc, pages, chunks, [None] * len(chunks)))
        reports.append(rep)
    removed = sorted(set(prev.files) - {r for r, _ in found} - {r.path for r in refused}) if prev else []
    if progress:
        progress("read", len(found), len(found))
    if not docs:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in reports) or "none found"
        raise UsageError(f"no readable documents in {corpus} ({reasons}); the previous index is unchanged")

    from qa.citing import link_documents

    t = time.perf_counter()
    docs, bibliography = link_documents(corpus, docs)
    timings["references"] = time.perf_counter() - t
    timings["ocr"] = ocr_cache.seconds  # part of "ingest"

    up_to_date = (
        prev is not None
        and prev.vectors is not None
        and not added
        and not changed
        and not removed
        and index.joinpath("manifest.json").is_file()
        and {r.path for r in refused}
        == {p for p, f in prev.files.items() if f["status"] != "ok" and p not in unchanged}
    )
    skipped_paths = {r.path for r in reports if r.status != "ok"}
    report = {
        "index": str(index),
        "corpus": str(corpus),
        "added": [p for p in added if p not in skipped_paths],
        "changed": [p for p in changed if p not in skipped_paths],
        "removed": removed,
        "unchanged": unchanged,
        "skipped": [r.to_dict() for r in reports if r.status != "ok"],
        "warnings": {r.path: r.warnings for r in reports if r.warnings},
        "ocr_pages": ocr_cache.pages,  # pages OCR'd by this build (not found in the OCR cache)
    }
    if up_to_date and not rebuild:
        report.update(
            embedded=0,
            updated=False,
            summary="index up to date: " + _summary(report, 0),
            timings={k: round(v, 3) for k, v in timings.items()},
            previous=(prev.reason if prev else ""),
        )
        report["examples"] = refresh_examples(index, corpus)  # the corpus may list new ones
        return report

    t = time.perf_counter()
    emb = embedder or get_embedder(settings.model, settings.backend)
    timings["model"] = time.perf_counter() - t
    all_chunks = [c for _, _, cs, _ in docs for c in cs]
    tmp = fresh_tmp(index)
    try:
        t = time.perf_counter()
        vectors, embedded = embed_units(
            docs, all_chunks, prev, emb, settings, progress, tmp / "sentences.npy"
        )
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        per_doc = Counter(c.doc for c in all_chunks)
        for rep in reports:
            rep.chunks = per_doc[rep.path]
        by_doc = {d.doc: d for d, _, _, _ in docs}
        manifest = _manifest(settings, emb, docs, reports, by_doc, all_chunks, identities)
        ocr_cache.save(tmp, keep_docs=set(unchanged))
        _write(tmp, index, manifest, docs, all_chunks, vectors, settings, bibliography)
        timings["write"] = time.perf_counter() - t
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    timings["total"] = time.perf_counter() - t0
    report.update(
        embedded=embedded,
        updated=True,
        summary=_summary(report, embedded),
        documents=len(docs),
        pages=sum(len(p) for _, p, _, _ in docs),
        chunks=len(all_chunks),
        timings={k: round(v, 3) for k, v in timings.items()},
        previous=(prev.reason if prev else "rebuild"),
    )
    report["examples"] = refresh_examples(index, corpus, emb)
    if log:
        log(report["summary"])
    return report


def _summary(report: dict, embedded: int) -> str:
    parts = [f"{len(report['unchanged'])} unchanged"]
    if report["added"]:
        parts.append(f"{len(report['added'])} added")
    if report["changed"]:
        parts.append(f"{len(report['changed'])} changed")
    parts[-1] += f" ({embedded} chunks embedded)" if embedded or report["added"] or report["changed"] else ""
    if report["removed"]:
        parts.append(f"{len(report['removed'])} removed")
    if report["skipped"]:
        parts.append(f"{len(report['skipped'])} skipped")
    return ", ".join(parts)


def _manifest(settings, emb, docs, reports, by_doc, all_chunks, identities) -> dict:
    files = []
    for rep in sorted(reports, key=lambda r: r.path):
        entry = rep.to_dict()
        if rep.path in by_doc:
            d = by_doc[rep.path]
            entry.update(title=d.title, format=d.format, url=d.url, identity=identities.get(rep.path, {}))
        files.append(entry)
    from qa.store import choose_kind

    return {
        "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
        "package": {"name": "qa", "version": __version__},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {"id": emb.model_id, "dim": emb.dim},
        "embedding": _embedding(settings, emb),
        "chunking": {
            "max_tokens": settings.max_tokens,
            "max_chars": settings.max_chars,
            "embed_context": settings.embed_context,
        },
        "bm25": {
            "stemmer": settings.bm25_stemmer,
            "k1": settings.bm25_k1,
            "b": settings.bm25_b,
            "stopwords": "en",
        },
        "dense": {"kind": choose_kind(settings.dense_kind, len(all_chunks)), "metric": "inner_product"},
        "settings": settings.index_settings(),
        "fingerprint": settings.fingerprint(),
        "counts": {
            "documents": len(docs),
            "pages": sum(len(p) for _, p, _, _ in docs),
            "chunks": len(all_chunks),
            "skipped": sum(1 for r in reports if r.status != "ok"),
        },
        "files": files,
    }


def _embedding(settings: Settings, emb) -> dict:
    """How the vectors were made: the backend, its quantisation and the exported graph's sha256."""
    from qa.onnx_export import QUANTIZATIONS

    return {
        "backend": settings.backend,
        "quantization": QUANTIZATIONS.get(settings.backend),
        "weights_sha256": getattr(emb, "weights_sha256", None),
    }


def _write(
    tmp: Path,
    index: Path,
    manifest: dict,
    docs,
    chunks: list[Chunk],
    vectors: np.ndarray,
    settings,
    bibliography: dict,
) -> None:
    """Write the rest of the new index into ``tmp`` (sentences.npy is there already) and swap it in."""
    from qa.answer.candidates import Stats
    from qa.lexical import Lexical
    from qa.store import VectorStore

    write_jsonl(tmp / "pages.jsonl", (p.to_dict() for _, pages, _, _ in docs for p in pages))
    write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in chunks))
    np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
    (tmp / "references.json").write_text(json.dumps(bibliography, ensure_ascii=False), encoding="utf-8")
    VectorStore.build(vectors, manifest["dense"]["kind"]).save(tmp / "dense.faiss")
    lex_texts = [lexical_text(c) for c in chunks]
    Lexical.build(lex_texts, settings.bm25_stemmer, settings.bm25_k1, settings.bm25_b).save(tmp / "lexical")
    Stats(chunks).save(tmp)  # the answer step's term statistics
    manifest["checksums"] = checksums(tmp)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    fsync_dir(tmp)
    swap_in(tmp, index)


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its context (a table's title and header) and its text."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def progress_printer(quiet: bool) -> Progress | None:
    """tqdm bars on stderr for reading and embedding when attached to a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(
                total=total,
                desc=stage,
                unit={"read": "file", "ocr": "page"}.get(stage, "chunk"),
                file=sys.stderr,
                leave=False,
            )
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bars.pop(stage).close()  # OCR has a bar per file

    return update
