"""Settings with defaults; ``fingerprint()`` covers every field that changes the index."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from importlib.util import find_spec
from pathlib import Path

from qa.errors import UsageError

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"
# How the model runs: PyTorch, or its ONNX export under ONNX Runtime (fp32, or int8 dynamically quantised).
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx" if find_spec("onnxruntime") else "torch"  # ONNX when installed (README: Embedding)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown embedding backend {backend!r} (choose from {', '.join(BACKENDS)})")
    return backend


FORMAT_NAME = "qa-index"
FORMAT_VERSION = 1
# Bump when ingestion or chunking changes what an index holds: an index built by older code is then stale.
PIPELINE_VERSION = 8  # 4: PDF text from pypdfium2, OCR of scanned pages, .docx; 5: statement rows as
# table cells with their title and header, document identity in the manifest; 6: a filing titled by its cover;
# 7: period headings printed one to a line, and total rows without a label, as statement rows; 8: the answer
# step's term statistics and BM25's stop words saved with the index (term_df.json, lexical/stopwords.json)

# Fields that change what is stored in the index. Others (paths, k, thresholds) do not.
_INDEX_FIELDS = (
    "chunk_vectors",
    "model",
    "backend",
    "max_tokens",
    "max_chars",
    "embed_context",
    "bm25_stemmer",
    "bm25_k1",
    "bm25_b",
    "dense_kind",
    "pdf_text",
    "max_ocr_pages",
)


@dataclass(frozen=True)
class Settings:
    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = DEFAULT_MODEL
    backend: str = DEFAULT_BACKEND  # torch | onnx | onnx-int8; vectors of different backends never mix
    max_tokens: int = 200  # word pieces per chunk, under the model's 256 window with room for the context
    max_chars: int = 900
    embed_context: bool = True  # prepend title and section to what is embedded
    chunk_vectors: str = "mean"  # mean of the chunk's sentence vectors, or "embed" the chunk text again
    bm25_stemmer: str = "english"
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    dense_kind: str = "auto"  # flat | hnsw | ivf | auto (flat up to store.AUTO_HNSW_ABOVE chunks, then HNSW)
    max_file_bytes: int = 200 * 1024 * 1024  # any file; a PDF's bytes are mostly images, fonts and streams
    # Text, Markdown and HTML: all of it is indexed text; a build holds 12-33 MB per MB of it (README).
    max_text_bytes: int = 32 * 1024 * 1024
    batch_size: int = 64
    pdf_text: str = "pypdfium2"  # PDF text extractor: pypdfium2 | pypdf | pypdf-layout (measured: README)
    max_ocr_pages: int = 50  # pages without a text layer OCR'd per file (0: no OCR); the rest are reported

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        base = cls(
            corpus=Path(os.environ.get("QA_CORPUS", "corpus")),
            index=Path(os.environ.get("QA_INDEX", "index")),
        )
        for field, var in (("max_file_bytes", "QA_MAX_FILE_MB"), ("max_text_bytes", "QA_MAX_TEXT_MB")):
            if os.environ.get(var):
                try:
                    base = replace(base, **{field: int(float(os.environ[var]) * 2**20)})
                except ValueError:
                    raise UsageError(
                        f"{var} must be a number of megabytes, not {os.environ[var]!r}"
                    ) from None
        if os.environ.get("QA_BACKEND"):
            base = replace(base, backend=os.environ["QA_BACKEND"])
        if pages := os.environ.get("QA_MAX_OCR_PAGES"):
            try:
                base = replace(base, max_ocr_pages=max(0, int(pages)))
            except ValueError:
                raise UsageError(f"QA_MAX_OCR_PAGES must be a whole number of pages, not {pages!r}") from None
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def __post_init__(self) -> None:
        check_backend(self.backend)

    def cap(self, path: Path) -> int:
        """The size cap of a corpus file: PDFs and Word files (mostly images, fonts and compressed XML) have
        ``max_file_bytes``, text formats the lower of the two."""
        from qa.ingest import FORMATS

        if FORMATS.get(path.suffix.lower()) in ("pdf", "docx"):
            return self.max_file_bytes
        return min(self.max_file_bytes, self.max_text_bytes)

    def index_settings(self) -> dict:
        d = asdict(self)
        return {**{k: d[k] for k in _INDEX_FIELDS}, "pipeline": PIPELINE_VERSION}

    def fingerprint(self) -> str:
        blob = json.dumps(self.index_settings(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
