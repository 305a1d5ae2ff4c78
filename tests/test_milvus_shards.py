"""Shards of one corpus embedded by different workers, loaded into Milvus as one index
(``qa index --milvus-uri URI --from shard1/ --from shard2/``, qa.milvus.shards), against a real
``milvus-lite server``: the same hits, scores and answers as one build of the whole corpus (BM25's IDF and
average length are Milvus's, over every chunk), nothing re-embedded, clear errors for shards that don't
fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.cli import main
from qa.index import load_index
from qa.milvus import Location
from qa.milvus.bench import close_enough
from qa.milvus.load import load_milvus
from qa.milvus.sync import write_index

pytestmark = pytest.mark.slow  # a milvus-lite server per module

# Two parts with words in common across them, so BM25's IDF and the fused ranking depend on both.
PART_1 = {
    "fruit/apples.txt": "Apple orchards in Kashmir harvest crisp apples every autumn.\n",
    "fruit/mangoes.md": "# Mango Notes\n\nAlphonso mangoes ripen in the humid Konkan summer.\n",
    "music.txt": (
        "Violins fill the orchestra before the autumn concert.\n\fPianos need tuning after the monsoon.\n"
    ),
}
PART_2 = {
    "fruit/orchards.txt": "Orchards need rain in summer; the apple harvest follows the monsoon.\n",
    "space/rockets.txt": "Rockets reach orbit after the launch from Sriharikota.\n",
    "space/telescopes.txt": "Telescopes observe distant galaxies through clear mountain skies in autumn.\n",
}
QUERIES = ("apple harvest", "autumn", "monsoon rain orchards", "summer mangoes", "orbit launch", "concert")


@pytest.fixture
def built(fake_corpus, build_fake, tmp_path):
    """The whole corpus built as one folder, and its two parts built as two shards."""
    whole = tmp_path / "whole"
    build_fake(fake_corpus({**PART_1, **PART_2}, name="corpus"), whole)
    shards = []
    for n, part in enumerate((PART_1, PART_2), 1):
        shards.append(tmp_path / f"shard{n}")
        build_fake(fake_corpus(part, name=f"part{n}"), shards[-1])
    return whole, shards


def test_one_folder_is_read_as_its_build_made_it(fake_corpus, fake_docs, build_fake, tmp_path):
    """One folder goes through the same merge as many (``qa index --from index/``, and every update of the
    index in Milvus): the order, manifest, references and examples its own build wrote. A catalogued copy
    that was skipped (no text) gets no URL, as the build gives it none."""
    from qa.examples import FILE as EXAMPLES
    from qa.milvus.shards import Shards

    paper = (
        "A Paper\n\nRivers flood in spring (Doe, 2020). Dams hold water (Roe, 2021).\n\nReferences\n\n"
        "Doe, J. (2020, May 1). *Rivers and floods*. <https://example.org/rivers>\n\n"
        "Roe, K. (2021, June 2). *Dams*. <https://example.org/dams>\n"
    )
    catalogue = {
        "copies/rivers.txt": {"reference": "doe-2020", "cites_from": "paper.txt"},
        "copies/dams.txt": {"reference": "roe-2021", "cites_from": "paper.txt"},
    }
    files = {
        **fake_docs,
        "paper.txt": paper,
        "copies/rivers.txt": "Rivers and Floods\n\nSpring floods follow snowmelt.\n",
        "copies/dams.txt": "",
        "sources.json": json.dumps(catalogue),
    }
    folder = tmp_path / "index"
    build_fake(fake_corpus(files), folder)
    idx = load_index(folder)
    by_path = {f["path"]: f for f in idx.manifest["files"]}
    assert by_path["copies/rivers.txt"]["url"] == "https://example.org/rivers"
    assert by_path["copies/dams.txt"]["status"] != "ok" and "url" not in by_path["copies/dams.txt"]
    one = Shards([folder])
    assert one.manifest == idx.manifest
    assert one.order == list(dict.fromkeys(c.doc for c in idx.chunks))
    assert one.references == idx.bibliography.data and "paper.txt" in one.references
    assert one.examples == json.loads((folder / EXAMPLES).read_text(encoding="utf-8"))
    assert [r for d in one.order for r in one.docs[d].rows] == list(range(len(idx.chunks)))


def test_two_shards_in_milvus_answer_as_one_build_of_the_whole_corpus(built, location, milvus_uri):
    whole, shards = built
    report = write_index(location, shards)
    assert report["generation"] == 1 and sorted(report["written"]) == sorted({**PART_1, **PART_2})
    merged, faiss = load_milvus(location), load_index(whole)
    assert [c.to_dict() for c in merged.chunks] == [c.to_dict() for c in faiss.chunks]
    assert merged.pages == faiss.pages
    # The vectors are stored as they were built (rows of numpy float32 in, the same float32 values out).
    assert np.array_equal(merged.vectors[np.arange(len(faiss.chunks))], faiss.vectors)
    assert np.array_equal(merged.units[np.arange(len(faiss.units))], faiss.units)
    for key in ("counts", "files", "dense", "fingerprint", "model", "settings"):
        assert merged.manifest[key] == faiss.manifest[key], key
    one = Location(milvus_uri, f"{location.collection}_one")
    write_index(one, whole)
    single = load_milvus(one)
    for q in QUERIES:
        for retriever in ("dense", "bm25", "hybrid"):
            want = faiss.search(q, k=6, retriever=retriever)
            for got in (
                merged.search(q, k=6, retriever=retriever),
                single.search(q, k=6, retriever=retriever),
            ):
                assert [h.chunk.id for h in got] == [h.chunk.id for h in want], (q, retriever)
                for x, y in zip(want, got, strict=True):
                    assert close_enough([x.score, x.dense, x.lexical], [y.score, y.dense, y.lexical])
        assert close_enough(merged.ask(q).to_dict(), faiss.ask(q).to_dict())
    # The comparison can tell: a shard's own BM25 (its IDF and average length) scores otherwise.
    shard = load_index(shards[1])
    own = {h.chunk.id: h.lexical for h in shard.search("apple harvest", k=3, retriever="bm25")}
    full = {h.chunk.id: h.lexical for h in faiss.search("apple harvest", k=6, retriever="bm25")}
    assert any(not close_enough(s, full[c]) for c, s in own.items())


def test_a_merged_load_updates_per_document_and_through_the_cli(
    built, location, fake_corpus, build_fake, tmp_path, capsys
):
    whole, shards = built
    common = ["--milvus-uri", location.uri, "--collection", location.collection, "--json"]
    assert main(["index", "--from", str(shards[0]), "--from", str(shards[1]), *common]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["chunks_written"] == load_index(whole).manifest["counts"]["chunks"]
    # Worker 2 re-embeds its part after a change; the next load writes only what changed.
    build_fake(
        fake_corpus({**PART_2, "fruit/orchards.txt": "Orchards flood in the monsoon.\n"}, name="part2"),
        shards[1],
    )
    assert main(["index", "--from", str(shards[0]), "--from", str(shards[1]), *common]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["generation"] == 2 and len(second["written"]) == 6  # b was empty: all went in
    assert main(["index", "--from", str(shards[0]), "--from", str(shards[1]), *common]) == 0
    third = json.loads(capsys.readouterr().out)
    assert third["written"] == ["fruit/orchards.txt"] and third["kept"] == 5  # a had generation 1's orchards
    idx = load_milvus(location)
    assert idx.search("flood", k=1, retriever="bm25")[0].chunk.doc == "fruit/orchards.txt"
    assert (
        len(idx.chunks)
        == idx.manifest["counts"]["chunks"]
        == len(load_index(shards[0]).chunks) + len(load_index(shards[1]).chunks)
    )
    # Loading one shard alone makes Milvus hold that shard's documents only, as --from always did.
    write_index(location, shards[0])
    assert set(load_milvus(location).documents) == set(PART_1)


def test_shards_that_do_not_fit_together_are_refused_naming_why(
    built, location, fake_corpus, build_fake, tmp_path, capsys
):
    _, shards = built
    common = ["--milvus-uri", location.uri, "--collection", location.collection]
    other = tmp_path / "other-settings"
    build_fake(fake_corpus(PART_2, name="part-k1"), other, bm25_k1=0.9)
    assert main(["index", "--from", str(shards[0]), "--from", str(other), *common]) == 2
    err = capsys.readouterr().err
    assert f"{other} was built with another fingerprint than {shards[0]}" in err
    assert "same model, backend and settings" in err
    twice = tmp_path / "twice"
    build_fake(fake_corpus({**PART_2, "music.txt": PART_1["music.txt"]}, name="part-twice"), twice)
    assert main(["index", "--from", str(shards[0]), "--from", str(twice), *common]) == 2
    err = capsys.readouterr().err
    assert f"document 'music.txt' is in two shards, {shards[0]} and {twice}" in err
    assert main(["status", *common]) == 2  # nothing was written
    assert "no index in Milvus" in capsys.readouterr().err


def test_the_dense_kind_auto_picks_is_the_whole_corpus_s(built, location, monkeypatch):
    """Each shard is small enough for an exact index; together they pass the size where ``auto`` picks
    HNSW, as one build of the whole corpus would (here the size is lowered to the shards' sizes)."""
    import qa.store

    _, shards = built
    sizes = [load_index(s).manifest["counts"]["chunks"] for s in shards]
    assert all(load_index(s).manifest["dense"]["kind"] == "flat" for s in shards)
    monkeypatch.setattr(qa.store, "AUTO_HNSW_ABOVE", max(sizes))
    write_index(location, shards)
    idx = load_milvus(location)
    assert idx.manifest["dense"]["kind"] == "hnsw"
    assert idx.search("orbit launch", k=1)[0].chunk.doc == "space/rockets.txt"
