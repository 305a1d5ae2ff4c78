"""No reader of the index in Milvus sees half an update, even back to back (qa.milvus.load): a request that
checked the alias just before update 1 moved it still reads the old generation, which update 2 rewrites as
the standby; the request finds its generation marked afterwards and is answered again from the live one.
Writer and reader run in one process against a real ``milvus-lite server``: the writer is driven from
inside the reader's first search (a hook), so the interleaving is fixed, not raced."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest

from qa.index import Index
from qa.milvus import Location
from qa.milvus.bench import close_enough
from qa.milvus.load import load_milvus
from qa.milvus.store import MilvusStore
from qa.milvus.sync import write_index

pytestmark = pytest.mark.slow  # a milvus-lite server per module

QUESTION = "Which apples are crisp?"


@pytest.fixture
def versions(fake_corpus, build_fake, fake_docs, tmp_path):
    """Three index folders of one corpus as it changes: v1, v2 (music rewritten), v3 (apples too)."""
    docs = dict(fake_docs)
    out = []
    for n, change in enumerate(
        [
            {},
            {"music.txt": "Drums keep the rhythm of the parade.\n"},
            {"fruit/apples.txt": "Apple growers harvest crisp red apples and pears.\n"},
        ],
        1,
    ):
        docs.update(change)
        corpus = fake_corpus(docs, name=f"corpus{n}")
        build_fake(corpus, tmp_path / f"index{n}")
        out.append(tmp_path / f"index{n}")
    return out


class _Killed(Exception):
    """The writer dies half-way (as a killed process would, from the readers' side)."""


def _reader_at_a_when_b_is_live(milvus_uri, versions):
    """Update 1 wrote a, update 2 b; the reader's request checked the alias before update 2 swapped."""
    location = Location(milvus_uri, f"t_{uuid.uuid4().hex[:10]}")
    write_index(location, versions[0])
    reader = load_milvus(location)
    assert reader.gen == "a" and reader.generation == 1
    assert write_index(location, versions[1])["generation"] == 2
    return location, reader


def _during_the_first_search(writer):
    """A patch of ``MilvusStore.search_dense`` that runs ``writer`` once, before the search it interrupts."""
    original, ran = MilvusStore.search_dense, []

    def search_dense(self, *args, **kwargs):
        if not ran:
            ran.append(writer())
        return original(self, *args, **kwargs)

    return mock.patch.object(MilvusStore, "search_dense", search_dense), ran


def test_a_request_reading_a_generation_half_rewritten_is_answered_from_the_live_one(milvus_uri, versions):
    location, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)

    def update_3_dies_half_way():
        # Generation a is cleared of its number, its changed documents deleted, the first one's chunks
        # inserted again; then the writer dies before that document's pages.
        with mock.patch.object(MilvusStore, "add_pages", side_effect=_Killed), pytest.raises(_Killed):
            write_index(location, versions[2])
        return "killed"

    patch, ran = _during_the_first_search(update_3_dies_half_way)
    with patch:
        answer = reader.ask(QUESTION)
    assert ran == ["killed"]
    live = load_milvus(location)
    assert (live.gen, live.generation) == ("b", 2)  # the killed update swapped nothing in
    assert close_enough(answer.to_dict(), live.ask(QUESTION).to_dict())
    assert answer.citations[0].doc == "fruit/apples.txt"
    # What the request would have returned unchecked: generation a half-written (apples gone or changed).
    assert not reader.intact()
    try:
        half = [h.chunk.id for h in Index.search(reader, QUESTION, k=5)]
    except Exception:  # noqa: BLE001 - a half-written generation may also fail outright
        half = None
    assert half != [h.chunk.id for h in live.search(QUESTION, k=5)]
    # The replica's next request starts from the live generation, which the retry loaded.
    assert reader.latest().generation == 2


def test_a_request_overtaken_by_a_whole_update_is_answered_from_it(milvus_uri, versions):
    location, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)
    patch, ran = _during_the_first_search(lambda: write_index(location, versions[2])["generation"])
    with patch:
        hits = reader.search("crisp red apples pears", k=3, retriever="dense")
    assert ran == [3]
    live = load_milvus(location)
    assert (live.gen, live.generation) == ("a", 3)
    want = live.search("crisp red apples pears", k=3, retriever="dense")
    assert [h.chunk.text for h in hits] == [h.chunk.text for h in want]
    assert "pears" in hits[0].chunk.text  # v3's text, not the text the reader had loaded for a
    assert reader.latest().generation == 3


def test_a_request_nothing_rewrote_costs_one_query_and_is_answered_once(milvus_uri, versions):
    location, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)
    calls = []
    generation = MilvusStore.generation

    def counted(self, gen, strong=False):
        calls.append((gen, strong))
        return generation(self, gen, strong)

    with mock.patch.object(MilvusStore, "generation", counted):
        answer = reader.ask(QUESTION)
    # The one check after the request (the answer's searches are inside it), at strong consistency.
    assert calls == [("a", True)]
    assert answer.to_dict() == Index.ask(reader, QUESTION).to_dict()
    assert reader.latest().generation == 2  # the request itself was not redone: b is loaded only now


def test_the_check_before_a_request_is_one_cheap_query_and_a_stale_view_loads_nothing(milvus_uri, versions):
    """Before a request the number is read at bounded staleness; a view older than the generation loaded
    (right after an update, on a Milvus that lags) is read again at strong consistency, not loaded again."""
    _, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)
    live = reader.latest()
    assert (live.gen, live.generation) == ("b", 2)
    calls = []
    generation = MilvusStore.generation

    def lagging(self, gen, strong=False):
        calls.append((gen, strong))
        return generation(self, gen, strong) if strong else -1  # b as it looked while update 2 wrote it

    def counted(self, gen, strong=False):
        calls.append((gen, strong))
        return generation(self, gen, strong)

    with mock.patch.object(MilvusStore, "generation", counted):
        assert live.latest() is live
    assert calls == [("b", False)]
    calls.clear()
    with (
        mock.patch.object(MilvusStore, "generation", lagging),
        mock.patch("qa.milvus.load.load_milvus", side_effect=AssertionError("loaded again")),
    ):
        assert live.latest() is live
    assert calls == [("b", False), ("b", True)]


def test_a_request_whose_generation_is_dropped_under_it_is_answered_from_the_live_one(
    milvus_uri, versions, build_fake, fake_corpus, fake_docs, tmp_path
):
    """An update in another shape (here another index kind) drops and makes the standby again."""
    location, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)
    hnsw = tmp_path / "index-hnsw"
    docs = {**fake_docs, "fruit/apples.txt": "Apple growers harvest crisp red apples and pears.\n"}
    build_fake(fake_corpus(docs, name="corpus-hnsw"), hnsw, dense_kind="hnsw")
    patch, ran = _during_the_first_search(lambda: write_index(location, hnsw)["generation"])
    with patch:
        answer = reader.ask(QUESTION)
    assert ran == [3]
    live = load_milvus(location)
    assert live.manifest["dense"]["kind"] == "hnsw" and live.generation == 3
    assert close_enough(answer.to_dict(), live.ask(QUESTION).to_dict())
    assert "pears" in answer.citations[0].quote  # v3 text: the dropped generation was not answered from


def test_a_request_whose_generation_was_dropped_and_not_made_again_is_answered_from_the_live_one(
    milvus_uri, versions, build_fake, fake_corpus, fake_docs, tmp_path
):
    location, reader = _reader_at_a_when_b_is_live(milvus_uri, versions)
    hnsw = tmp_path / "index-hnsw"
    build_fake(fake_corpus(dict(fake_docs), name="corpus-hnsw"), hnsw, dense_kind="hnsw")
    drop = MilvusStore.drop

    def dies_after_the_drop(self, gen, *args, **kwargs):
        drop(self, gen)
        raise _Killed

    def update_dies_after_dropping_a():
        with mock.patch.object(MilvusStore, "create", dies_after_the_drop), pytest.raises(_Killed):
            write_index(location, hnsw)
        return "killed"

    patch, ran = _during_the_first_search(update_dies_after_dropping_a)
    with patch:
        answer = reader.ask(QUESTION)
    assert ran == ["killed"] and not MilvusStore(location).exists("a")
    live = load_milvus(location)
    assert (live.gen, live.generation) == ("b", 2)
    assert close_enough(answer.to_dict(), live.ask(QUESTION).to_dict())
