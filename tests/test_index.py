"""The index: build → save → load round trips, the on-disk contract, incremental updates, staleness,
validated loading, atomic builds (failures and kill -9), and real questions over the shipped corpus."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.config import FORMAT_NAME, FORMAT_VERSION, Settings
from qa.embed import FakeEmbedder
from qa.errors import IndexProblem
from qa.index import load_index, status
from qa.records import Chunk, Page
from qa.units import unit_offsets, unit_texts

FAKE_MODEL = "fake:bow-64"


def fake_settings(**overrides) -> Settings:
    return Settings(model=FAKE_MODEL, **overrides)


FILE_KEYS = {
    "path",
    "sha256",
    "bytes",
    "pages",
    "chunks",
    "status",
    "reason",
    "warnings",
    "title",
    "format",
    "url",
    "identity",  # what identifies the document (qa.doc_identity)
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ranked(index, query: str, k: int = 6) -> list[tuple[str, float]]:
    return [(h.chunk.id, round(h.score, 5)) for h in index.search(query, k=k, retriever="dense")]


def n_units(chunks) -> int:
    """Sentences (or whole rows / References entries) the embedder is given for these chunks."""
    return int(unit_offsets(chunks)[-1])


@pytest.fixture
def built(tmp_path, fake_corpus, build_fake):
    """The five fake documents, built into tmp_path/index; returns (corpus, index, report)."""
    corpus = fake_corpus()
    index = tmp_path / "index"
    return corpus, index, build_fake(corpus, index)


# ---------------------------------------------------------------- round trip and the on-disk contract


def test_build_load_search(built):
    corpus, index, report = built
    assert report["summary"] == "0 unchanged, 5 added (6 chunks embedded)"
    idx = qa.load_index(index)
    # 6 sentences and the "# Mango Notes" heading
    assert report["embedder"].texts_embedded == n_units(idx.chunks) == 7
    assert (report["documents"], report["pages"], report["chunks"]) == (5, 6, 6)
    assert [c.id for c in idx.chunks] == [
        "fruit/apples.txt#p1:0-60",
        "fruit/mangoes.md#p1:0-63",
        "music.txt#p1:0-57",
        "music.txt#p2:0-47",
        "space/rockets.txt#p1:0-54",
        "space/telescopes.txt#p1:0-65",
    ]
    hits = idx.search("violins orchestra concert", k=3, retriever="dense")
    assert [(h.rank, h.chunk.id) for h in hits] == [
        (1, "music.txt#p1:0-57"),
        (2, "space/rockets.txt#p1:0-54"),  # a hash collision of the fake embedder's word buckets
        (3, "music.txt#p2:0-47"),
    ]
    assert hits[0].score == pytest.approx(0.745, abs=1e-3) and hits[0].dense == hits[0].score
    assert ranked(idx, "rockets orbit launch", k=1) == [("space/rockets.txt#p1:0-54", 0.61237)]
    assert idx.search("pianos monsoon", k=1, retriever="dense")[0].chunk.page == 2
    assert len(idx.search("anything", k=100, retriever="dense")) == 6  # k clamped to the chunks


def test_loaded_vectors_equal_a_fresh_embedding(built):
    """On disk: each unit (sentence) embedded, row order = chunk order; a chunk's vector is the normalised
    mean of its units' vectors."""
    _, index, _ = built
    idx = qa.load_index(index)
    titles = {d: f["title"] for d, f in idx.documents.items()}
    units = [unit_texts(c, titles[c.doc], True) for c in idx.chunks]
    assert units[1] == ["Mango Notes", "Alphonso mangoes ripen in the humid Konkan summer."]
    fresh_units = FakeEmbedder().encode([t for u in units for t in u])
    np.testing.assert_array_equal(np.load(index / "sentences.npy", allow_pickle=False), fresh_units)
    offsets = unit_offsets(idx.chunks)
    means = np.stack([fresh_units[offsets[i] : offsets[i + 1]].mean(axis=0) for i in range(len(idx.chunks))])
    expected = (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)
    np.testing.assert_allclose(np.load(index / "vectors.npy", allow_pickle=False), expected, rtol=1e-6)
    q = FakeEmbedder().encode(["violins orchestra concert"])[0]
    scores = expected @ q
    brute = sorted(
        ((idx.chunks[i].id, round(float(s), 5)) for i, s in enumerate(scores)), key=lambda x: -x[1]
    )
    assert sorted(ranked(idx, "violins orchestra concert"), key=lambda x: (-x[1], x[0])) == sorted(
        brute, key=lambda x: (-x[1], x[0])
    )


def test_manifest(built, fake_docs):
    corpus, index, _ = built
    m = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert (
        m["format"] == {"name": FORMAT_NAME, "version": FORMAT_VERSION} == {"name": "qa-index", "version": 1}
    )
    assert m["package"] == {"name": "qa", "version": qa.__version__}
    assert m["model"] == {"id": FAKE_MODEL, "dim": 64}
    assert m["fingerprint"] == fake_settings().fingerprint()
    assert m["settings"] == fake_settings().index_settings()
    assert m["chunking"] == {"max_tokens": 200, "max_chars": 900, "embed_context": True}
    assert m["bm25"]["stemmer"] == "english" and m["dense"] == {"kind": "flat", "metric": "inner_product"}
    assert m["counts"] == {"documents": 5, "pages": 6, "chunks": 6, "skipped": 0}
    assert m["created"].endswith("+00:00")
    files = {f["path"]: f for f in m["files"]}
    assert list(files) == sorted(fake_docs)
    for rel, f in files.items():
        data = (corpus / rel).read_bytes()
        assert set(f) == FILE_KEYS
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        assert f["bytes"] == len(data)
        assert (f["status"], f["reason"], f["warnings"]) == ("ok", "", [])
    assert (files["music.txt"]["pages"], files["music.txt"]["chunks"], files["music.txt"]["format"]) == (
        2,
        2,
        "text",
    )
    assert (files["fruit/mangoes.md"]["title"], files["fruit/mangoes.md"]["format"]) == (
        "Mango Notes",
        "markdown",
    )


def test_bad_files_are_recorded_and_the_build_goes_on(tmp_path, fake_corpus, fake_docs, build_fake, make_pdf):
    corpus = fake_corpus(
        {**fake_docs, "bad/empty.txt": b"", "bad/notes.pptx": b"PK", "bad/bin.txt": bytes(256) * 8}
    )
    make_pdf(corpus / "bad" / "locked.pdf", [["secret"]], password="secret")
    make_pdf(corpus / "scanned.pdf", [["Typed page about harbours."], None])
    report = build_fake(corpus, tmp_path / "index")
    assert report["documents"] == 6
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped == {
        "bad/bin.txt": "binary data, not text",
        "bad/empty.txt": "empty file",
        "bad/locked.pdf": "encrypted with a password",
        "bad/notes.pptx": "unsupported file type '.pptx'",
    }
    assert report["embedder"].texts_embedded == n_units(qa.load_index(tmp_path / "index").chunks)
    assert report["summary"].endswith(" (7 chunks embedded), 4 skipped")
    m = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in m["files"]}
    assert {p: f["reason"] for p, f in files.items() if f["status"] == "skipped"} == skipped
    assert files["scanned.pdf"]["status"] == "ok"
    assert files["scanned.pdf"]["warnings"] == ["no text layer (scanned?) on page 2"]
    assert m["counts"]["skipped"] == 4
    # an unchanged bad file stays recorded on the next (up-to-date) run
    again = build_fake(corpus, tmp_path / "index")
    assert again["updated"] is False and {s["path"] for s in again["skipped"]} == set(skipped)


def test_summary_counts_skipped_files_once(tmp_path, fake_corpus, fake_docs, build_fake):
    corpus = fake_corpus({**fake_docs, "bad/empty.txt": b"", "bad/notes.pptx": b"PK"})
    report = build_fake(corpus, tmp_path / "index")
    assert report["added"] == sorted(fake_docs)
    assert report["summary"] == "0 unchanged, 5 added (6 chunks embedded), 2 skipped"


def test_file_over_the_cap_is_unchanged_on_the_next_run(tmp_path, fake_corpus, build_fake, fake_settings):
    corpus = fake_corpus({"small.txt": "Small enough to read.\n", "big.txt": "word " * 400})
    build_fake(corpus, tmp_path / "index", max_file_bytes=1000)
    again = build_fake(corpus, tmp_path / "index", max_file_bytes=1000)
    assert again["changed"] == [] and again["updated"] is False
    assert status(tmp_path / "index", corpus, fake_settings(max_file_bytes=1000))["stale"] is False


def test_pages_and_chunks_align_with_vectors(built):
    _, index, _ = built
    pages = {(p["doc"], p["page"]): p for p in read_jsonl(index / "pages.jsonl")}
    chunks = read_jsonl(index / "chunks.jsonl")
    vectors = np.load(index / "vectors.npy", allow_pickle=False)
    assert vectors.dtype == np.float32 and vectors.shape == (len(chunks), 64) == (6, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert sorted(pages) == [
        ("fruit/apples.txt", 1),
        ("fruit/mangoes.md", 1),
        ("music.txt", 1),
        ("music.txt", 2),
        ("space/rockets.txt", 1),
        ("space/telescopes.txt", 1),
    ]
    for p in pages.values():
        assert set(p) >= {"doc", "page", "label", "text"}
    for c in chunks:
        assert set(c) >= {
            "id",
            "doc",
            "page",
            "start",
            "end",
            "section",
            "text",
            "sentences",
            "kind",
            "context",
        }
        assert pages[(c["doc"], c["page"])]["text"][c["start"] : c["end"]] == c["text"]
        Chunk.from_dict(c)  # the documented fields round-trip
    assert Page.from_dict(pages[("music.txt", 2)]).text == "Pianos need tuning after a long monsoon season."


def test_no_pickle_anywhere(built):
    import faiss

    _, index, _ = built
    files = sorted(p for p in index.rglob("*") if p.is_file())
    names = {p.relative_to(index).as_posix() for p in files}
    assert {"manifest.json", "pages.jsonl", "chunks.jsonl", "vectors.npy", "dense.faiss"} <= names
    assert any(n.startswith("lexical/") for n in names)
    for p in files:
        assert p.suffix not in {".pkl", ".pickle", ".joblib"}
        if p.suffix == ".npy":
            np.load(p, allow_pickle=False)  # raises on an object array
        elif p.suffix in {".json", ".jsonl"}:
            for line in p.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    json.loads(line) if p.suffix == ".jsonl" else None
            if p.suffix == ".json":
                json.loads(p.read_text(encoding="utf-8"))
        assert not p.read_bytes().startswith(b"\x80"), f"{p} looks like a pickle"
    assert faiss.read_index(str(index / "dense.faiss")).ntotal == 6


# ---------------------------------------------------------------- incremental updates


def test_update_reembeds_only_what_changed(built, build_fake):
    corpus, index, _ = built
    before = qa.load_index(index)
    kept_vectors = {c.id: np.array(before.vectors[i]) for i, c in enumerate(before.chunks)}
    (corpus / "music.txt").write_text("Drums keep the rhythm.\fFlutes play softly.\fHarps close the show.\n")
    (corpus / "space/rockets.txt").unlink()
    report = build_fake(corpus, index)
    assert report["changed"] == ["music.txt"] and report["removed"] == ["space/rockets.txt"]
    assert report["unchanged"] == ["fruit/apples.txt", "fruit/mangoes.md", "space/telescopes.txt"]
    assert report["added"] == []
    music = [c for c in qa.load_index(index).chunks if c.doc == "music.txt"]
    assert report["embedder"].texts_embedded == n_units(music) == 3  # music.txt's sentences, nothing else
    assert report["summary"] == "3 unchanged, 1 changed (3 chunks embedded), 1 removed"
    after = qa.load_index(index)
    ids = [c.id for c in after.chunks]
    assert "space/rockets.txt#p1:0-54" not in ids
    assert [c.id for c in after.chunks if c.doc == "music.txt"] == [
        "music.txt#p1:0-22",
        "music.txt#p2:0-19",
        "music.txt#p3:0-21",
    ]
    for i, c in enumerate(after.chunks):
        if c.doc != "music.txt":
            np.testing.assert_array_equal(after.vectors[i], kept_vectors[c.id])  # reused, not re-embedded
    assert ranked(after, "harps show", k=1)[0][0] == "music.txt#p3:0-21"
    assert after.manifest["counts"] == {"documents": 4, "pages": 6, "chunks": 6, "skipped": 0}


def test_incremental_update_equals_a_full_build(built, build_fake, tmp_path):
    corpus, index, _ = built
    (corpus / "fruit/apples.txt").write_text("Apple orchards were replaced by pear trees.\n")
    (corpus / "new.md").write_text("# Tea\n\nAssam tea gardens.\n\n## Darjeeling\n\nHill tea.\n")
    report = build_fake(corpus, index)
    assert report["summary"] == "4 unchanged, 1 added, 1 changed (3 chunks embedded)"
    fresh = build_fake(corpus, tmp_path / "fresh")
    assert fresh["embedder"].texts_embedded == n_units(qa.load_index(tmp_path / "fresh").chunks)
    for name in ("chunks.jsonl", "pages.jsonl"):
        assert (index / name).read_text() == (tmp_path / "fresh" / name).read_text()
    for name in ("vectors.npy", "sentences.npy"):
        np.testing.assert_array_equal(
            np.load(index / name, allow_pickle=False), np.load(tmp_path / "fresh" / name, allow_pickle=False)
        )


def test_unchanged_corpus_is_up_to_date(built, build_fake):
    corpus, index, _ = built
    manifest = (index / "manifest.json").read_bytes()
    report = build_fake(corpus, index)
    assert report["embedder"].texts_embedded == 0 and report["embedder"].calls == 0
    assert report["updated"] is False and report["embedded"] == 0
    assert report["summary"] == "index up to date: 5 unchanged"
    assert (index / "manifest.json").read_bytes() == manifest  # not rewritten


def test_touching_a_file_without_changing_it_is_not_a_change(built, build_fake):
    corpus, index, _ = built
    f = corpus / "music.txt"
    os.utime(f, (1, 1))
    f.write_bytes(f.read_bytes())
    assert build_fake(corpus, index)["summary"] == "index up to date: 5 unchanged"


def test_rebuild_reembeds_everything(built, build_fake):
    corpus, index, _ = built
    report = build_fake(corpus, index, rebuild=True)
    assert report["embedder"].texts_embedded == n_units(qa.load_index(index).chunks) and report["updated"]
    assert report["previous"] == "rebuild"


def test_changed_settings_rebuild_everything(built, build_fake):
    corpus, index, _ = built
    report = build_fake(corpus, index, max_tokens=150)
    assert report["embedder"].texts_embedded == n_units(qa.load_index(index).chunks)
    assert report["previous"] == "settings changed"
    m = json.loads((index / "manifest.json").read_text())
    assert (
        m["chunking"]["max_tokens"] == 150 and m["fingerprint"] == fake_settings(max_tokens=150).fingerprint()
    )


def test_update_with_another_embedder_does_not_reuse_vectors(built, build_fake):
    corpus, index, _ = built
    other = FakeEmbedder(dim=64, model_id="fake:other-64")
    report = build_fake(corpus, index, embedder=other)
    assert other.texts_embedded == n_units(qa.load_index(index).chunks) and report["updated"] is True


# ---------------------------------------------------------------- staleness


def test_status_lists_added_changed_removed(built, fake_docs):
    corpus, index, _ = built
    st = status(index, corpus, fake_settings())
    assert (st["added"], st["changed"], st["removed"], st["settings_changed"], st["stale"]) == (
        [],
        [],
        [],
        [],
        False,
    )
    assert [d["path"] for d in st["documents"]] == sorted(fake_docs)
    assert st["counts"] == {"documents": 5, "pages": 6, "chunks": 6, "skipped": 0}
    (corpus / "extra.txt").write_text("Brand new file.\n")
    (corpus / "fruit/apples.txt").write_text("Changed apples.\n")
    (corpus / "space/telescopes.txt").unlink()
    st = status(index, corpus, fake_settings())
    assert st["added"] == ["extra.txt"]
    assert st["changed"] == ["fruit/apples.txt"]
    assert st["removed"] == ["space/telescopes.txt"]
    assert st["settings_changed"] == [] and st["stale"] is True


def test_status_reports_changed_settings(built):
    corpus, index, _ = built
    st = status(index, corpus, fake_settings(max_tokens=100, bm25_k1=1.2))
    assert st["settings_changed"] == ["bm25_k1", "max_tokens"] and st["stale"] is True
    assert status(index, corpus)["settings_changed"] == ["model"]  # default settings: the bundled model


def test_status_without_corpus_only_describes(built):
    _, index, _ = built
    st = status(index)
    assert "stale" not in st and st["model"] == {"id": FAKE_MODEL, "dim": 64}


def test_status_of_a_missing_index(tmp_path):
    with pytest.raises(IndexProblem, match=r"no index at .*qa index"):
        status(tmp_path / "nothing", tmp_path)


# ---------------------------------------------------------------- validated load


def _problem(index: Path, **kwargs) -> str:
    with pytest.raises(IndexProblem) as e:
        load_index(index, **kwargs)
    msg = str(e.value)
    assert "qa index" in msg, msg
    return msg


def test_load_missing_index(tmp_path):
    assert "no index at" in _problem(tmp_path / "none")


@pytest.mark.parametrize("name", ["dense.faiss", "vectors.npy", "chunks.jsonl", "pages.jsonl", "lexical"])
def test_load_missing_file(built, name):
    import shutil

    _, index, _ = built
    target = index / name
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert f"is missing {name}" in _problem(index)


def test_load_missing_manifest(built):
    _, index, _ = built
    (index / "manifest.json").unlink()
    assert "has no manifest.json" in _problem(index)


def test_load_vector_count_mismatch(built):
    _, index, _ = built
    lines = (index / "chunks.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (index / "chunks.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    msg = _problem(index)
    assert "inconsistent: manifest says 6 chunks but chunks.jsonl has 5" in msg
    assert "qa index --rebuild" in msg


def test_load_damaged_files(built):
    _, index, _ = built
    (index / "vectors.npy").write_bytes(b"not numpy at all")
    assert "damaged" in _problem(index)


def test_load_damaged_jsonl(built):
    _, index, _ = built
    with open(index / "chunks.jsonl", "a", encoding="utf-8") as f:
        f.write("{broken\n")
    assert "damaged pages.jsonl or chunks.jsonl" in _problem(index)


def test_load_other_format_version(built):
    _, index, _ = built
    m = json.loads((index / "manifest.json").read_text())
    m["format"]["version"] = FORMAT_VERSION + 1
    (index / "manifest.json").write_text(json.dumps(m))
    msg = _problem(index)
    assert f"v{FORMAT_VERSION + 1}" in msg and f"reads qa-index v{FORMAT_VERSION}" in msg


def test_load_unreadable_manifest(built):
    _, index, _ = built
    (index / "manifest.json").write_text("{not json")
    assert "unreadable manifest.json" in _problem(index)


def test_load_other_model(built):
    _, index, _ = built
    msg = _problem(index, model="bundled:all-MiniLM-L6-v2")
    assert f"was built with model '{FAKE_MODEL}', not 'bundled:all-MiniLM-L6-v2'" in msg
    assert load_index(index, model=FAKE_MODEL).manifest["model"]["id"] == FAKE_MODEL


# ---------------------------------------------------------------- atomic builds


class Failing(FakeEmbedder):
    """Raises on its second encode call: a build that dies half-way through embedding."""

    def encode(self, texts, progress=False):
        if self.calls >= 1:
            raise RuntimeError("embedder crashed")
        return super().encode(texts, progress)


def _snapshot(index: Path) -> tuple:
    idx = qa.load_index(index)
    queries = ["violins orchestra concert", "rockets orbit launch", "mangoes summer"]
    return (
        (index / "manifest.json").read_bytes(),
        [c.id for c in idx.chunks],
        [ranked(idx, q, k=3) for q in queries],
    )


def test_failed_build_leaves_the_previous_index(built, build_fake):
    corpus, index, _ = built
    before = _snapshot(index)
    (corpus / "music.txt").write_text("Completely different music text.\n")
    with pytest.raises(RuntimeError, match="embedder crashed"):
        build_fake(corpus, index, embedder=Failing(model_id=FAKE_MODEL), rebuild=True, batch_size=1)
    assert _snapshot(index) == before
    assert sorted(p.name for p in index.parent.iterdir() if p.name.startswith(".")) == []


def test_failed_write_leaves_the_previous_index(built, build_fake, monkeypatch):
    import qa.lexical

    corpus, index, _ = built
    before = _snapshot(index)
    (corpus / "music.txt").write_text("Completely different music text.\n")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(qa.lexical.Lexical, "build", broken)
    with pytest.raises(OSError, match="disk full"):
        build_fake(corpus, index)
    assert _snapshot(index) == before
    assert [
        p.name for p in index.parent.iterdir() if p.name.startswith(".")
    ] == []  # temporary folder removed


KILL_SCRIPT = r"""
import os, sys, time
import qa.build
from qa.config import Settings
from qa.embed import FakeEmbedder

corpus, index, stage = sys.argv[1:4]


def say(word):
    print(word, flush=True)


class Slow(FakeEmbedder):
    def encode(self, texts, progress=False):
        if stage == "embed":
            say("EMBEDDING")
            time.sleep(120)
        return super().encode(texts, progress)


if stage == "write":  # hang once pages.jsonl is in the temporary folder
    real_write_jsonl = qa.build.write_jsonl

    def write_then_hang(path, rows):
        real_write_jsonl(path, rows)
        say("WRITING")
        time.sleep(120)

    qa.build.write_jsonl = write_then_hang
if stage == "swap":  # hang between moving the old index aside and moving the new one in
    def half_swap(tmp, target):
        target.rename(target.parent / f".{target.name}.old-{os.getpid()}")
        say("SWAPPING")
        time.sleep(120)

    qa.build.swap_in = half_swap

qa.build.build_index(
    corpus, index, settings=Settings(model="fake:bow-64", batch_size=1), embedder=Slow(model_id="fake:bow-64")
)
say("DONE")
"""


@pytest.mark.parametrize("stage", ["embed", "write", "swap"])
def test_kill_9_during_build_leaves_the_previous_index(built, build_fake, stage):
    corpus, index, _ = built
    before = _snapshot(index)
    (corpus / "music.txt").write_text(
        "Saxophones and trumpets in a jazz club.\fGuitars on the second page.\n"
    )
    (corpus / "more.txt").write_text("A sixth file about lighthouses on rocky coasts.\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(corpus), str(index), stage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line == {"embed": "EMBEDDING", "write": "WRITING", "swap": "SWAPPING"}[stage], (
            proc.stderr.read()
        )
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if stage == "swap":
        assert not index.exists()  # killed with the old index moved aside: load must put it back
    assert _snapshot(index) == before
    assert "saxophones" not in " ".join(c.text.lower() for c in qa.load_index(index).chunks)
    # and the next build completes and sees the new text
    report = build_fake(corpus, index)
    assert report["changed"] == ["music.txt"] and report["added"] == ["more.txt"]
    idx = qa.load_index(index)
    assert ranked(idx, "saxophones trumpets jazz", k=1)[0][0] == "music.txt#p1:0-39"
    assert ranked(idx, "lighthouses rocky coasts", k=1)[0][0] == "more.txt#p1:0-47"


# ---------------------------------------------------------------- the real index of the shipped corpus

MARKET_Q = "What size is India's AI market projected to reach by 2027?"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"


@pytest.mark.slow
def test_real_index_manifest(real_index, real_index_build):
    m = real_index.manifest
    assert m["model"] == {"id": "bundled:all-MiniLM-L6-v2", "dim": 384}
    assert m["counts"]["documents"] == 4 and m["counts"]["pages"] == 1 + 74 + 25 + 115
    assert m["counts"]["skipped"] == 0 and m["counts"]["chunks"] == len(real_index.chunks)
    files = {f["path"]: f for f in m["files"]}
    assert files["related/japan-ai-strategy-2019.pdf"]["warnings"] == [
        "no text layer (scanned?) on pages 2, 4"
    ]
    assert files[NITI]["pages"] == 115
    assert files[BRIEF]["title"] == "Indo-Japanese Collaboration on Artificial Intelligence"
    assert real_index.vectors.shape == (len(real_index.chunks), 384)
    assert real_index_build["summary"].startswith("0 unchanged, 4 added (")
    assert real_index.pages[("related/japan-ai-strategy-2019.pdf", 5)].label == "1"


@pytest.mark.slow
def test_real_market_question_finds_the_brief(real_index):
    hits = real_index.search(MARKET_Q, k=5)  # the default retriever: dense and BM25 fused
    assert any(h.chunk.doc == BRIEF and "US$ 17 billion by 2027" in h.chunk.text for h in hits), [
        h.chunk.id for h in hits
    ]


@pytest.mark.slow
def test_real_market_question_dense_finds_the_brief(real_index):
    hits = real_index.search(MARKET_Q, k=5, retriever="dense")
    assert any(h.chunk.doc == BRIEF and "17 billion" in h.chunk.text for h in hits), [
        h.chunk.id for h in hits
    ]


@pytest.mark.slow
def test_real_niti_question_finds_the_page(real_index):
    # "100-AI petaflop" appears on physical page 59 of the NITI text and nowhere else
    hits = real_index.search(
        "What computing capacity in petaflops does NITI Aayog propose for the AIRAWAT AI platform?",
        k=5,
        retriever="dense",
    )
    assert any(h.chunk.doc == NITI and h.chunk.page == 59 for h in hits), [h.chunk.id for h in hits]
    assert real_index.pages[(NITI, 59)].text.count("100-AI petaflop") == 1


@pytest.mark.slow
def test_real_table_question_finds_the_row(real_index):
    hits = real_index.search("How much was allocated to the IndiaAI Mission in 2024–2025?", k=5)
    rows = [h for h in hits if h.chunk.kind == "table_row"]
    assert any(h.chunk.text.startswith("IndiaAI Mission\t0\t173\t2000") for h in rows), [
        h.chunk.id for h in hits
    ]


@pytest.mark.slow
def test_real_index_is_up_to_date_with_the_shipped_corpus(real_index_path, corpus_dir):
    st = status(real_index_path, corpus_dir)
    assert (st["added"], st["changed"], st["removed"], st["settings_changed"], st["stale"]) == (
        [],
        [],
        [],
        [],
        False,
    )


def test_an_edit_reembeds_only_the_sentences_it_touched(built, build_fake):
    corpus, index, _ = built
    before = qa.load_index(index)
    old = {c.id: c for c in before.chunks if c.doc == "fruit/apples.txt"}
    f = corpus / "fruit/apples.txt"
    f.write_text(f.read_text() + "\nPears grow beside them.\n")
    report = build_fake(corpus, index)
    assert report["changed"] == ["fruit/apples.txt"]
    assert report["embedder"].texts_embedded == 1  # "Pears grow beside them." and nothing else
    after = qa.load_index(index)
    fresh = FakeEmbedder().encode(["Pears grow beside them."])[0]
    apples = [i for i, c in enumerate(after.chunks) if c.doc == "fruit/apples.txt"]
    units = [after.units[j] for i in apples for j in range(after.unit_offsets[i], after.unit_offsets[i + 1])]
    assert any(np.array_equal(u, fresh) for u in units)
    assert len(units) == sum(len(c.sentences) for c in old.values()) + 1


def test_a_file_swapped_in_from_another_index_is_refused(tmp_path, fake_corpus, build_fake):
    """Same counts, other content: only the manifest's checksums can tell, and they do."""
    a = build_fake(fake_corpus({"x.txt": "Rivers run to the sea.\n"}, name="a"), tmp_path / "a")
    b = build_fake(fake_corpus({"x.txt": "Mountains rise above clouds.\n"}, name="b"), tmp_path / "b")
    assert a["chunks"] == b["chunks"] == 1
    for name in ("chunks.jsonl", "vectors.npy", "sentences.npy"):
        mixed = tmp_path / f"mixed-{name}"
        shutil.copytree(tmp_path / "a", mixed)
        shutil.copy(tmp_path / "b" / name, mixed / name)
        with pytest.raises(IndexProblem, match=f"has a {re.escape(name)} that does not match its manifest"):
            load_index(mixed)
    assert load_index(tmp_path / "a").chunks[0].text == "Rivers run to the sea."


def test_a_file_over_the_cap_is_never_read(tmp_path, fake_corpus, build_fake, monkeypatch):
    corpus = fake_corpus({"small.txt": "Small enough to read.\n", "big.txt": "word " * 400})
    read = []
    real = qa.index.sha256_file
    monkeypatch.setattr(qa.index, "sha256_file", lambda p: read.append(Path(p).name) or real(p))
    report = build_fake(corpus, tmp_path / "index", max_file_bytes=1000)
    big = next(f for f in report["skipped"] if f["path"] == "big.txt")
    assert big["reason"].startswith("file too large") and big["sha256"].startswith("over-cap:2000:")
    assert "small.txt" in read and "big.txt" not in read


def test_text_formats_have_their_own_lower_cap(tmp_path, fake_corpus, build_fake, make_pdf):
    words = "Herons wade in the shallow water of the marsh. " * 60  # ~2.8 kB
    corpus = fake_corpus({"small.txt": "Small enough to read.\n", "notes.md": words, "page.html": words})
    make_pdf(corpus / "herons.pdf", [words])
    assert (corpus / "herons.pdf").stat().st_size > 2000
    caps = {"max_text_bytes": 2000, "max_file_bytes": 1 << 20}
    report = build_fake(corpus, tmp_path / "index", **caps)
    skipped = {s["path"]: s for s in report["skipped"]}
    assert sorted(skipped) == ["notes.md", "page.html"]
    assert all(
        s["reason"].endswith("> cap of 1.95 KiB for text, Markdown and HTML)") for s in skipped.values()
    )
    assert all(s["sha256"].startswith("over-cap:") for s in skipped.values())  # never read
    assert set(load_index(tmp_path / "index").documents) == {"small.txt", "herons.pdf"}
    # status fingerprints with the same caps, so nothing looks changed
    st = status(tmp_path / "index", corpus, Settings(model="fake:bow-64", **caps))
    assert st["stale"] is False, st
    # a lower file cap still wins for text
    settings = Settings(max_text_bytes=1 << 30, max_file_bytes=100)
    assert settings.cap(corpus / "notes.md") == settings.cap(corpus / "herons.pdf") == 100


def test_caps_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("QA_MAX_TEXT_MB", "1.5")
    monkeypatch.setenv("QA_MAX_FILE_MB", "300")
    s = Settings.from_env()
    assert (s.max_text_bytes, s.max_file_bytes) == (3 << 19, 300 << 20)
    assert s.cap(Path("a.TXT")) == 3 << 19 and s.cap(Path("b.PDF")) == 300 << 20
    monkeypatch.setenv("QA_MAX_TEXT_MB", "lots")
    with pytest.raises(qa.errors.UsageError, match="QA_MAX_TEXT_MB must be a number of megabytes"):
        Settings.from_env()


def test_embedding_progress_counts_the_work_of_new_chunks_and_ends_at_its_total(tmp_path, fake_corpus):
    from qa.build import build_index

    many = " ".join(f"Sentence {i} is about owls." for i in range(300))  # several embedding blocks
    corpus = fake_corpus({"owls.txt": many, "hawks.txt": "Hawks soar. They hunt by day.\n"})
    settings = Settings(model="fake:bow-64", batch_size=8)

    def build() -> list[tuple[int, int]]:
        calls: list[tuple[int, int]] = []
        build_index(corpus, tmp_path / "index", settings, FakeEmbedder(), progress=record(calls))
        return calls

    def record(calls):
        return lambda stage, done, total: calls.append((done, total)) if stage == "embed" else None

    calls = build()
    idx = load_index(tmp_path / "index")
    assert len(calls) > 3 and calls[-1] == (len(idx.units), len(idx.units))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and {t for _, t in calls} == {len(idx.units)}
    (corpus / "hawks.txt").write_text("Hawks soar. They hunt by day. Kestrels hover.\n")
    calls = build()  # an update: only the changed file's sentences are work
    assert calls[-1] == (3, 3), calls
