"""The one stateful object: build / update / save (atomic) / load (validated) / status / search / ask."""

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
from qa.doc_identity import Identity, identify
from qa.errors import IndexProblem, IngestError, UsageError
from qa.folder import checksums, fresh_tmp, fsync_dir, read_jsonl, recover, swap_in, write_jsonl
from qa.ingest import FileReport, ReadOptions, read_file, scan_corpus, sha256_file
from qa.milvus import Location
from qa.records import Chunk, Document, Hit, Page
from qa.retrieve import Tables
from qa.units import Progress, embed_units, unit_offsets

FILES = (
    "manifest.json",
    "pages.jsonl",
    "chunks.jsonl",
    "vectors.npy",
    "sentences.npy",
    "dense.faiss",
    "lexical",
    "references.json",
)


# ---------------------------------------------------------------- build


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


# ---------------------------------------------------------------- load


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its context (a table's title and header) and its text."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def _no_index(index: Path) -> IndexProblem:
    return IndexProblem(f"no index at {index}; build it with: qa index --index {index}")


def _bad(index: Path, what: str, kind: type[IndexProblem] = IndexProblem) -> IndexProblem:
    return kind(f"index at {index} {what}; rebuild it with: qa index --rebuild --index {index}")


# What the code reads from a manifest, by type: a hand edit or another tool's file that differs is refused
# with one clear error instead of a KeyError or TypeError deep inside load, status or an update.
_MANIFEST_SHAPE = {
    "created": str,
    "fingerprint": str,
    "model": {"id": str, "dim": int},
    "counts": {"documents": int, "pages": int, "chunks": int, "skipped": int},
    "dense": {"kind": str},
    "bm25": {"stemmer": str},
    "settings": dict,
    "checksums": dict,
    "files": [{"path": str, "sha256": str, "status": str, "reason": str}],
}


def _fits(value, shape) -> bool:
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(k in value and _fits(value[k], s) for k, s in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and all(_fits(v, shape[0]) for v in value)
    return isinstance(value, shape) and not (shape is int and isinstance(value, bool))


class OtherFormat(IndexProblem):
    """The index was written in another qa-index format version."""


def read_manifest(index: Path) -> dict:
    """The index's manifest, checked for its format version and shape; problems raise IndexProblem."""
    try:
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _no_index(index) from None
    except (OSError, ValueError):
        raise _bad(index, "has an unreadable manifest.json") from None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(fmt, dict):
        raise _bad(index, "has an unreadable manifest.json (no format)")
    if fmt.get("name") != FORMAT_NAME or fmt.get("version") != FORMAT_VERSION:
        raise _bad(
            index,
            f"has format {fmt.get('name')} v{fmt.get('version')!r}, "
            f"this qa reads {FORMAT_NAME} v{FORMAT_VERSION}",
            OtherFormat,
        )
    wrong = [k for k, shape in _MANIFEST_SHAPE.items() if not _fits(manifest.get(k), shape)]
    if wrong:
        raise _bad(index, f"has an unreadable manifest.json (bad or missing: {', '.join(wrong)})")
    return manifest


class Index:
    """A loaded index: pages, chunks, vectors, the FAISS store and BM25, plus the embedder (lazy)."""

    def __init__(
        self,
        path: Path,
        manifest: dict,
        pages: list[Page],
        chunks: list[Chunk],
        vectors: np.ndarray,
        store,
        lexical,
        embedder=None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.pages = {(p.doc, p.page): p for p in pages}
        self.chunks = chunks
        self.vectors = vectors
        self.store = store
        self.lexical = lexical
        self._embedder = embedder
        self.documents = {f["path"]: f for f in manifest["files"] if f["status"] == "ok"}
        self.identities = {p: Identity.from_dict(f.get("identity")) for p, f in self.documents.items()}
        self.row_of = {c.id: i for i, c in enumerate(chunks)}
        self.doc_rows: dict[str, np.ndarray] = {}
        for i, c in enumerate(chunks):
            self.doc_rows.setdefault(c.doc, []).append(i)
        self.doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in self.doc_rows.items()}
        self.tables = Tables()  # its table pages as searches work them out, once (qa.retrieve)

    @property
    def embedder(self):
        if self._embedder is None:
            from qa.embed import get_embedder

            self._embedder = get_embedder(self.manifest["model"]["id"], self.backend)
        return self._embedder

    @property
    def backend(self) -> str:
        """The backend that embedded the index, and so its queries (indexes before backends: torch)."""
        return self.manifest["settings"].get("backend", "torch")

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])[0]

    def search(
        self, query: str, k: int = 5, docs: list[str] | None = None, retriever: str = "hybrid"
    ) -> list[Hit]:
        """Ranked hits for a query (dense, BM25 or their fusion), optionally inside some documents."""
        from qa.retrieve import search

        return search(self, query, k=k, docs=docs, retriever=retriever)

    def ask(
        self,
        question: str,
        history: list | None = None,
        docs: list[str] | None = None,
        k: int = 8,
        retriever: str = "hybrid",
    ):
        """An extractive answer with citations, or an abstention (see qa.answer)."""
        from qa.answer import ask

        return ask(self, question, history=history, docs=docs, k=k, retriever=retriever)

    def saved_stats(self):
        """The answer step's term statistics as the build counted them (qa.answer.candidates.Stats), or None
        (an index in Milvus, or built before they were saved, or by other counting code). The file is covered
        by the manifest's checksums, which load_index verified: it belongs to these chunks."""
        from qa.answer.candidates import TERM_DF, Stats

        if not isinstance(self.path, Path) or TERM_DF not in self.manifest["checksums"]:
            return None
        return Stats.load(self.path, self.chunks)

    def examples(self) -> list[str]:
        """Example questions drawn from this index's documents (or listed in the corpus) at build time."""
        from qa.examples import load

        return load(self.path) if isinstance(self.path, Path) else []

    def references_for(self, chunk: Chunk, start: int, end: int) -> list[dict]:
        """The entries of the document's own References list that the text [start, end) relies on."""
        return self.bibliography.for_span(chunk.doc, chunk.page, start, end)

    def authors_of(self, doc: str) -> str:
        """Who wrote a document, where another document's References list names it (catalogued copies)."""
        return self.bibliography.authors_of(doc)

    def evidence_for(self, quote: str, references: list[dict]) -> list[dict]:
        """For cited references with a copy in the corpus, that copy's passage best matching the quote."""
        from qa.citing import follow

        return follow(self, quote, references)

    def resolve_docs(self, docs: list[str] | None) -> list[str] | None:
        """Document filters by id (relative path), file name or prefix; unknown ones raise UsageError."""
        if not docs:
            return None
        out = []
        for d in docs:
            if d not in self.documents:  # a name exactly as indexed wins (a POSIX name may hold a backslash)
                d = d.strip().replace("\\", "/").removeprefix("corpus/")
            matches = [x for x in self.documents if x == d] or [
                x for x in self.documents if x.startswith(d) or Path(x).name == d or Path(x).stem == d
            ]
            if not matches:
                raise UsageError(f"unknown document '{d}' (see: qa status --json for the documents)")
            out.extend(m for m in matches if m not in out)
        return out

    def status(self, corpus: str | Path | None = None, settings: Settings | None = None) -> dict:
        return status(self.path, corpus, settings, manifest=self.manifest)

    def latest(self) -> Index:
        """The index to answer the next request from: this one (a shared index in Milvus may be newer)."""
        return self


def load_index(
    index: str | Path = "index", model: str | None = None, embedder=None, backend: str | None = None
) -> Index:
    """Load and validate an index (a folder, or a Milvus ``Location``); any problem raises an error naming
    the command that fixes it."""
    from qa.lexical import Lexical
    from qa.store import VectorStore

    if isinstance(index, Location):
        from qa.milvus.load import load_milvus

        return load_milvus(index, model, embedder)
    index = Path(index)
    recover(index)
    if not (index / "manifest.json").is_file():
        if index.is_dir() and any(index.iterdir()):
            raise _bad(index, "has no manifest.json (incomplete or damaged)")
        raise _no_index(index)
    manifest = read_manifest(index)
    if model and model != manifest["model"]["id"]:
        raise _bad(index, f"was built with model '{manifest['model']['id']}', not '{model}'")
    built_with = manifest["settings"].get("backend", "torch")
    backend = backend or getattr(embedder, "backend", None)
    if backend and backend != built_with:
        raise IndexProblem(
            f"index at {index} was embedded with the {built_with} backend, not {backend} (its vectors "
            f"and the queries' would not match); rebuild it with: "
            f"qa index --rebuild --backend {backend} --index {index}"
        )
    if embedder is None:
        from qa.embed import preload

        preload(manifest["model"]["id"], built_with)  # the model loads while the rest of the index does
    for name in FILES:
        if not (index / name).exists():
            raise _bad(index, f"is missing {name}")
    try:
        pages = [Page.from_dict(d) for d in read_jsonl(index / "pages.jsonl")]
        chunks = [Chunk.from_dict(d) for d in read_jsonl(index / "chunks.jsonl")]
    except (ValueError, KeyError, TypeError):
        raise _bad(index, "has a damaged pages.jsonl or chunks.jsonl") from None
    try:
        vectors = np.load(index / "vectors.npy", allow_pickle=False, mmap_mode="r")
        units = np.load(index / "sentences.npy", allow_pickle=False, mmap_mode="r")
        store = VectorStore.load(index / "dense.faiss", manifest["dense"]["kind"])
        lexical = Lexical.load(index / "lexical", manifest["bm25"]["stemmer"])
    except Exception as e:  # numpy, faiss and bm25s each raise their own types on damaged files
        raise _bad(index, f"has a damaged vector or BM25 file ({type(e).__name__})") from None
    n = manifest["counts"]["chunks"]
    counts = {
        "chunks.jsonl": len(chunks),
        "vectors.npy": len(vectors),
        "dense.faiss": store.ntotal,
        "lexical": lexical.num_docs,
    }
    wrong = {k: v for k, v in counts.items() if v != n}
    if wrong:
        raise _bad(
            index,
            f"is inconsistent: manifest says {n} chunks but "
            + ", ".join(f"{k} has {v}" for k, v in wrong.items()),
        )
    if vectors.shape[1:] != (manifest["model"]["dim"],):
        raise _bad(
            index, f"has vectors of dimension {vectors.shape[1:]} for a model of {manifest['model']['dim']}"
        )
    try:
        bibliography = json.loads((index / "references.json").read_text(encoding="utf-8"))
    except ValueError:
        raise _bad(index, "has a damaged references.json") from None
    from qa.citing import Bibliography

    offsets = unit_offsets(chunks)
    if len(units) != offsets[-1] or units.shape[1:] != vectors.shape[1:]:
        raise _bad(index, f"has {len(units)} sentence vectors for {offsets[-1]} sentences")
    # Last, after the checks that name a specific problem: a file swapped in from another index, or damaged
    # in a way the counts don't show, no longer matches the checksum the build recorded.
    actual = checksums(index)
    for name, digest in manifest["checksums"].items():
        if actual.get(name) != digest:
            raise _bad(
                index, f"has a {name} that does not match its manifest (damaged, or from another index)"
            )
    idx = Index(index, manifest, pages, chunks, vectors, store, lexical, embedder)
    idx.units, idx.unit_offsets = units, offsets
    idx.bibliography = Bibliography(bibliography)
    return idx


# ---------------------------------------------------------------- status


def status(
    index: str | Path,
    corpus: str | Path | None = None,
    settings: Settings | None = None,
    manifest: dict | None = None,
) -> dict:
    """Compare the corpus with the manifest: added, changed, removed files and changed settings."""
    if isinstance(index, Location):
        from qa.milvus.manifest import read_manifest as milvus_manifest

        manifest = manifest or milvus_manifest(index)
    else:
        index = Path(index)
    if manifest is None:
        recover(index)
        manifest = read_manifest(index)
    settings = settings or Settings()
    out = {
        "index": str(index),
        "created": manifest["created"],
        "model": manifest["model"],
        "counts": manifest["counts"],
        "dense": manifest["dense"],
        "documents": [
            {k: f.get(k) for k in ("path", "title", "format", "pages", "chunks", "url", "identity")}
            for f in manifest["files"]
            if f["status"] == "ok"
        ],
        "skipped": [
            {"path": f["path"], "reason": f["reason"]} for f in manifest["files"] if f["status"] != "ok"
        ],
    }
    if corpus is not None:
        found, refused = scan_corpus(Path(corpus))
        known = {f["path"]: f for f in manifest["files"]}
        current = {rel: p for rel, p in found}
        added = sorted(set(current) - set(known) | ({r.path for r in refused} - set(known)))
        changed = sorted(
            rel
            for rel, p in current.items()
            if rel in known and known[rel]["sha256"] != _quick_sha(p, settings.cap(p))
        )
        removed = sorted(set(known) - set(current) - {r.path for r in refused})
        settings_changed = sorted(
            k for k, v in settings.index_settings().items() if manifest["settings"].get(k) != v
        )
        out.update(
            corpus=str(corpus),
            added=added,
            changed=changed,
            removed=removed,
            settings_changed=settings_changed,
            stale=bool(added or changed or removed or settings_changed),
        )
    return out


def fingerprint(path: Path, cap: int) -> str:
    """The file's sha256; for a file over the size cap (never read) its size and modification time instead."""
    st = path.stat()
    if st.st_size > cap:
        return f"over-cap:{st.st_size}:{st.st_mtime_ns}"
    return sha256_file(path)


def _quick_sha(path: Path, cap: int) -> str:
    try:
        return fingerprint(path, cap)
    except OSError:
        return ""


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
