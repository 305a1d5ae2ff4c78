"""The one stateful object, a loaded index: load (validated) / status / search / ask, and its manifest read
and checked. Building or updating one is qa.build's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qa.config import FORMAT_NAME, FORMAT_VERSION, Settings
from qa.doc_identity import Identity
from qa.errors import IndexProblem, UsageError
from qa.folder import checksums, read_jsonl, recover
from qa.ingest import scan_corpus, sha256_file
from qa.milvus import Location
from qa.records import Chunk, Hit, Page
from qa.retrieve import Tables
from qa.units import unit_offsets

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


# ---------------------------------------------------------------- load


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
