"""Embedding backends: ONNX vectors match torch's, the export is cached by its source and reused, and an
index records its backend (and the exported graph's checksum) so that vectors of two backends never mix.

Most tests use a tiny sentence-transformers model made here (random 2-layer BERT, the bundled tokenizer):
it exports in a second or two and is a "local model path" like a user's own; one slow test checks the
bundled model itself."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.build import build_index
from qa.config import Settings
from qa.embed import FakeEmbedder, OnnxEmbedder, SentenceTransformerEmbedder, resolve_model_path
from qa.errors import IndexProblem, UsageError
from qa.index import load_index, status

TEXTS = [
    "The IndiaAI Mission was allocated ₹10,372 crore.",
    "short",
    "Japan and India signed a memorandum on semiconductors in 2023; it covers design and talent.",
    " ".join(["A very long sentence that the model must truncate at its window."] * 40),
    "Société 5.0 — un concept japonais.",
    "What is Society 5.0?",
    "",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer, 32-dimensional BERT with seeded random weights and the bundled tokenizer, saved as a
    sentence-transformers folder (mean pooling, normalised)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("tiny-model")
    bert = root / "bert"
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=30522
    )
    BertModel(config).save_pretrained(bert)
    bundled = Path(resolve_model_path("bundled:all-MiniLM-L6-v2"))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(bundled / name, bert / name)
    st = SentenceTransformer(
        modules=[Transformer(str(bert), max_seq_length=64), Pooling(32, "mean"), Normalize()],
        device="cpu",
    )
    st.save(str(root / "st"))
    return root / "st"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export cache for this module's tests (each export is made once, as on a user's machine)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CACHE", str(folder))
        yield folder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_vectors_match_torch_in_any_batch_order(tiny_model, cache):
    torch_vecs = SentenceTransformerEmbedder(str(tiny_model)).encode(TEXTS)
    onnx = OnnxEmbedder(str(tiny_model), "onnx", batch_size=3)  # batches cross the length-sorted order
    vecs = onnx.encode(TEXTS)
    assert vecs.shape == (len(TEXTS), 32) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert cosines(vecs, torch_vecs).min() > 0.9999
    alone = np.stack([onnx.encode([t])[0] for t in TEXTS])  # no padding at all
    assert cosines(alone, vecs).min() > 0.9999
    assert onnx.encode([]).shape == (0, 32)
    assert onnx.max_tokens == 64 and onnx.count_tokens(TEXTS[3]) > 64  # counted untruncated


def test_each_distinct_text_is_embedded_once_in_length_sorted_batches(tiny_model, cache, monkeypatch):
    onnx = OnnxEmbedder(str(tiny_model), "onnx", batch_size=2)
    fed: list[list[int]] = []  # per run: each row's real length in word pieces
    run = onnx.session.run

    def counting(names, feeds):
        fed.append([int(n) for n in feeds["attention_mask"].sum(axis=1)])
        assert feeds["input_ids"].shape[1] == max(fed[-1])  # padded to its longest row only
        return run(names, feeds)

    monkeypatch.setattr(onnx.session, "run", counting, raising=False)
    texts = TEXTS * 3
    vecs = onnx.encode(texts)
    distinct = list(dict.fromkeys(TEXTS))
    assert sum(len(rows) for rows in fed) == len(distinct)  # the repeats were not embedded again
    lengths = sorted(min(onnx.count_tokens(t), onnx.max_tokens) for t in distinct)  # as the window cuts them
    expected = sorted(lengths[a : a + 2] for a in range(0, len(lengths), 2))
    assert sorted(sorted(rows) for rows in fed) == expected  # neighbours in length, whatever order they ran
    assert np.array_equal(vecs[len(TEXTS) :], np.concatenate([vecs[: len(TEXTS)]] * 2))
    monkeypatch.setattr(onnx.session, "run", run, raising=False)
    onnx.workers = 1  # one batch at a time: the same vectors as batches run side by side
    assert np.array_equal(onnx.encode(texts), vecs)


def test_int8_export_is_smaller_and_close(tiny_model, cache):
    fp32 = OnnxEmbedder(str(tiny_model), "onnx")
    int8 = OnnxEmbedder(str(tiny_model), "onnx-int8")
    assert int8.export.quantization == "int8-dynamic" and fp32.export.quantization is None
    assert int8.weights_sha256 != fp32.weights_sha256
    assert int8.export.model.stat().st_size < fp32.export.model.stat().st_size / 2
    assert cosines(int8.encode(TEXTS), fp32.encode(TEXTS)).min() > 0.9


def test_export_is_cached_with_its_checksum_and_reused(tiny_model, cache, monkeypatch, tmp_path):
    import qa.onnx_export as export

    model = tmp_path / "model"  # a copy: another source folder, exported on first use
    shutil.copytree(tiny_model, model)
    first = OnnxEmbedder(str(model), "onnx")
    folder = first.export.folder
    assert folder.parent == cache / "onnx"
    meta = json.loads((folder / "export.json").read_text())
    assert meta["sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert first.weights_sha256 == meta["sha256"]
    assert not list(cache.glob("onnx/.*"))  # no temporary folder left behind

    def no_export(*_):
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "_export_fp32", no_export)
    again = OnnxEmbedder(str(model), "onnx")
    assert again.export.folder == folder and np.array_equal(again.encode(TEXTS), first.encode(TEXTS))
    # a changed model folder is a different source: exported anew (here refused by the patch)
    (model / "README.md").write_text("changed\n")
    with pytest.raises(AssertionError, match="exported again"):
        OnnxEmbedder(str(model), "onnx")


def test_the_bench_makes_a_missing_export_before_timing_and_reports_it(tiny_model, cache, tmp_path):
    from qa.bench.workers import _task_export
    from qa.onnx_export import cached

    model = tmp_path / "model"  # a source folder no test exported yet
    shutil.copytree(tiny_model, model)
    assert cached(model, "onnx") is None
    made = _task_export(str(model), "onnx")
    assert made["made"] is True and made["export_s"] > 0
    assert cached(model, "onnx") == OnnxEmbedder(str(model), "onnx").export
    assert _task_export(str(model), "onnx") == {"made": False, "export_s": 0.0}
    assert _task_export(str(model), "torch") == {"made": False, "export_s": 0.0}


def test_a_missing_model_folder_is_a_clear_error(tmp_path, cache):
    from qa.errors import QAError

    with pytest.raises(QAError, match="not found"):
        OnnxEmbedder(str(tmp_path / "nope"), "onnx")


def _corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Apples grow on trees. Orchards in Kashmir export apples.\n")
    (corpus / "b.txt").write_text("Telescopes see far. The Subaru telescope is in Hawaii.\n")
    return corpus


def test_the_index_records_its_backend_and_weights_and_queries_use_them(tiny_model, cache, tmp_path):
    corpus, index = _corpus(tmp_path), tmp_path / "index"
    emb = OnnxEmbedder(str(tiny_model), "onnx")
    settings = Settings(model=str(tiny_model), backend="onnx")
    build_index(corpus, index, settings=settings, embedder=emb)
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["embedding"] == {
        "backend": "onnx",
        "quantization": None,
        "weights_sha256": emb.weights_sha256,
    }
    assert manifest["settings"]["backend"] == "onnx"
    idx = load_index(index)
    assert idx.backend == "onnx" and idx.embedder.backend == "onnx"
    query = "Where is the Subaru telescope?"
    assert np.allclose(idx.embed_query(query), emb.encode([query])[0], atol=1e-6)
    # the same settings on the other backend: stale, and the index refuses to answer for it
    st = status(index, corpus, Settings(model=str(tiny_model), backend="torch"))
    assert st["settings_changed"] == ["backend"] and st["stale"] is True
    assert status(index, corpus, settings)["stale"] is False
    with pytest.raises(IndexProblem, match="embedded with the onnx backend, not torch"):
        load_index(index, backend="torch")
    # an update with a torch embedder re-embeds everything instead of mixing vectors
    report = build_index(
        corpus, index, settings=settings, embedder=SentenceTransformerEmbedder(str(tiny_model))
    )
    assert report["previous"] == "settings changed" and report["embedded"] == report["chunks"]
    assert json.loads((index / "manifest.json").read_text())["embedding"]["backend"] == "torch"


def test_backend_is_part_of_the_fingerprint():
    prints = {Settings(backend=b).fingerprint() for b in ("torch", "onnx", "onnx-int8")}
    assert len(prints) == 3
    assert "backend" in Settings().index_settings()


def test_unknown_backend_is_a_usage_error(monkeypatch, capsys):
    from qa.cli import main

    with pytest.raises(UsageError, match="unknown embedding backend 'tf'"):
        Settings(backend="tf")
    monkeypatch.setenv("QA_BACKEND", "onnx-fp16")
    with pytest.raises(UsageError, match="onnx-fp16"):
        Settings.from_env()
    assert main(["status", "--index", "/nonexistent"]) == 2
    assert "unknown embedding backend 'onnx-fp16'" in capsys.readouterr().err
    monkeypatch.delenv("QA_BACKEND")
    assert main(["index", "--backend", "tf"]) == 2  # argparse: not one of the choices
    assert "invalid choice: 'tf'" in capsys.readouterr().err


def test_fake_embedder_builds_keep_the_settings_backend(tmp_path):
    corpus, index = _corpus(tmp_path), tmp_path / "index"
    build_index(
        corpus, index, settings=Settings(model="fake:bow-64", backend="torch"), embedder=FakeEmbedder()
    )
    assert json.loads((index / "manifest.json").read_text())["embedding"]["backend"] == "torch"


@pytest.mark.slow
def test_bundled_model_onnx_matches_torch():
    """The shipped model through ONNX Runtime: the same vectors as sentence-transformers on torch."""
    from qa.embed import get_embedder

    onnx, torch = get_embedder(backend="onnx"), get_embedder(backend="torch")
    assert onnx.dim == torch.dim == 384 and onnx.max_tokens == torch.max_tokens == 256
    assert cosines(onnx.encode(TEXTS), torch.encode(TEXTS)).min() > 0.9999
    assert os.path.isfile(onnx.export.model)
