"""A sentence-transformers model exported once to ONNX (fp32, or int8 dynamically quantised), cached by the
identity of its source folder, so later runs load it with ONNX Runtime alone: no torch import, no export.

A cached export is a folder holding ``model.onnx`` (token ids in, the model's L2-normalised sentence vector
out: pooling, any dense layer and the normalisation are inside the graph), the model's fast ``tokenizer.json``
and ``export.json`` (what the runtime needs to tokenise like sentence-transformers, and the sha256 of
``model.onnx``, which an index's manifest records)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from qa.errors import QAError
from qa.ingest.corpus import sha256_file

EXPORT_VERSION = 1  # bump when the exported graph or export.json changes: old cache entries are then unused
OPSET = 17
QUANTIZATIONS = {"onnx": None, "onnx-int8": "int8-dynamic"}


@dataclass(frozen=True)
class Export:
    folder: Path
    quantization: str | None
    dim: int
    max_seq_length: int
    inputs: tuple[str, ...]
    pad_id: int
    pad_token: str
    lower_case: bool
    sha256: str

    @property
    def model(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def tokenizer(self) -> Path:
        return self.folder / "tokenizer.json"


def cache_root() -> Path:
    """``$QA_CACHE``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``."""
    if os.environ.get("QA_CACHE"):
        return Path(os.environ["QA_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"


def source_key(model_path: Path, quantization: str | None) -> str:
    """The cache key of an export: the source folder's path and every file's size and modification time
    (a changed model is exported again; hashing ~90 MB of weights on every start would cost more)."""
    files = sorted(
        (p.relative_to(model_path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in model_path.rglob("*")
        if p.is_file()
    )
    blob = json.dumps([str(model_path.resolve()), files, quantization, EXPORT_VERSION, OPSET])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cached(model_path: str | Path, backend: str) -> Export | None:
    """The cached export of a model folder for ``onnx`` or ``onnx-int8``, or None when it is not made yet."""
    model_path = Path(model_path)
    if not model_path.is_dir():
        raise QAError(f"embedding model folder {model_path} not found; give --model a local folder")
    return _read(cache_root() / "onnx" / source_key(model_path, QUANTIZATIONS[backend]))


def exported(model_path: str | Path, backend: str) -> Export:
    """The cached export of a local sentence-transformers folder for ``onnx`` or ``onnx-int8``; made (and
    cached) when missing. An int8 export quantises the fp32 one."""
    model_path = Path(model_path)
    found = cached(model_path, backend)
    if found is not None:
        return found
    quantization = QUANTIZATIONS[backend]
    folder = cache_root() / "onnx" / source_key(model_path, quantization)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if quantization is None:
            meta = _export_fp32(model_path, tmp)
        else:
            meta = _quantize(exported(model_path, "onnx"), tmp)
        meta["sha256"] = sha256_file(tmp / "model.onnx")
        (tmp / "export.json").write_text(json.dumps(meta, indent=2))
        try:
            tmp.rename(folder)
        except OSError:  # another process cached the same export first: use that one
            if _read(folder) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _read(folder)


def _read(folder: Path) -> Export | None:
    try:
        meta = json.loads((folder / "export.json").read_text())
        if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
            return None
        return Export(
            folder=folder,
            quantization=meta["quantization"],
            dim=int(meta["dim"]),
            max_seq_length=int(meta["max_seq_length"]),
            inputs=tuple(meta["inputs"]),
            pad_id=int(meta["pad_id"]),
            pad_token=str(meta["pad_token"]),
            lower_case=bool(meta["lower_case"]),
            sha256=str(meta["sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _export_fp32(model_path: Path, out: Path) -> dict:
    """Trace the whole sentence-transformers pipeline (transformer, pooling, dense, normalise) to ONNX."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(str(model_path), device="cpu")
    except Exception as e:
        raise QAError(f"cannot load embedding model {model_path} ({type(e).__name__}: {e})") from None
    st.eval()
    tokenizer = st.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise QAError(
            f"model {model_path} has no fast tokenizer; the ONNX backend needs one (use --backend torch)"
        )
    sample = tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt")
    inputs = tuple(k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample)

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors):
            return self.st(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constants it proves harmless for this graph
        torch.onnx.export(
            Pipeline(),
            tuple(sample[k] for k in inputs),
            str(out / "model.onnx"),
            input_names=list(inputs),
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{k: {0: "batch", 1: "tokens"} for k in inputs},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    first = st[0]
    return {
        "source": str(model_path.resolve()),
        "quantization": None,
        "dim": int(st.get_embedding_dimension()),
        "max_seq_length": int(st.max_seq_length),
        "inputs": list(inputs),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "lower_case": bool(getattr(first, "do_lower_case", False)),
    }


def _quantize(fp32: Export, out: Path) -> dict:
    """Dynamic int8 quantisation of the fp32 export's weights (activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(fp32.model, out / "model.onnx", weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(fp32.tokenizer, out / "tokenizer.json")
    meta = json.loads((fp32.folder / "export.json").read_text())
    meta.pop("sha256")
    return {**meta, "quantization": QUANTIZATIONS["onnx-int8"]}


if __name__ == "__main__":  # `python -m qa.onnx_export [MODEL]`: make the export now (make install does)
    import sys

    from qa.config import DEFAULT_MODEL
    from qa.embed import resolve_model_path

    made = exported(resolve_model_path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL), "onnx")
    print(f"ONNX export of the model: {made.folder}")
