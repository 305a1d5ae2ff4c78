"""The index in Milvus (qa.milvus) against a real ``milvus-lite server`` on a free loopback port: the same
answers as the index folder it came from, per-document updates swapped in atomically, the CLI."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from qa.build import build_index
from qa.cli import main
from qa.embed import FakeEmbedder
from qa.index import load_index
from qa.milvus import Location
from qa.milvus.bench import close_enough
from qa.milvus.load import load_milvus
from qa.milvus.store import MilvusStore
from qa.milvus.sync import write_index

pytestmark = pytest.mark.slow  # a milvus-lite server per module

FAKE_MODEL = "fake:bow-64"
REPO = Path(__file__).resolve().parents[1]
QUERIES = ("crisp apples harvest", "mangoes ripen", "concert orchestra", "orbit launch", "galaxies skies")


@pytest.fixture
def fake_index(tmp_path, fake_corpus, build_fake):
    corpus = fake_corpus()
    build_fake(corpus, tmp_path / "index")
    return corpus, tmp_path / "index"


def _milvus_build(corpus, location, fake_settings, embedder=None):
    emb = embedder or FakeEmbedder(model_id=FAKE_MODEL)
    return build_index(corpus, location, settings=fake_settings(corpus=corpus), embedder=emb)


def test_a_folder_loaded_into_milvus_answers_as_the_folder_does(fake_index, location):
    _, folder = fake_index
    report = write_index(location, folder)
    assert report["generation"] == 1 and report["kept"] == 0 and len(report["written"]) == 5
    faiss, milvus = load_index(folder), load_milvus(location)
    assert [c.to_dict() for c in milvus.chunks] == [c.to_dict() for c in faiss.chunks]
    assert milvus.pages == faiss.pages and milvus.manifest == faiss.manifest
    assert milvus.bibliography.data == faiss.bibliography.data
    for q in QUERIES:
        for retriever in ("dense", "bm25", "hybrid"):
            a = faiss.search(q, k=5, retriever=retriever)
            b = milvus.search(q, k=5, retriever=retriever)
            assert [h.chunk.id for h in b] == [h.chunk.id for h in a], (q, retriever)
            for x, y in zip(a, b, strict=True):  # BM25 computed by Milvus equals bm25s's, dense FAISS's
                assert close_enough([x.score, x.dense, x.lexical], [y.score, y.dense, y.lexical])
        assert close_enough(milvus.ask(q).to_dict(), faiss.ask(q).to_dict())
    hits = milvus.search("apples", k=3, docs=["music.txt"], retriever="dense")  # exact inside a filter
    assert {h.chunk.doc for h in hits} == {"music.txt"}


def test_an_update_writes_only_changed_documents_and_is_swapped_in_at_once(
    fake_corpus, fake_settings, location
):
    corpus = fake_corpus()
    first = _milvus_build(corpus, location, fake_settings)
    assert first["milvus"]["generation"] == 1 and first["index"] == str(location)
    before = load_milvus(location)
    assert before.latest() is before  # nothing newer yet

    (corpus / "music.txt").write_text("Drums keep the rhythm of the parade.\n", encoding="utf-8")
    (corpus / "space/rockets.txt").unlink()
    (corpus / "harbour.txt").write_text("Ferries cross the harbour at dawn.\n", encoding="utf-8")
    emb = FakeEmbedder(model_id=FAKE_MODEL)
    second = _milvus_build(corpus, location, fake_settings, emb)
    assert second["changed"] == ["music.txt"] and second["removed"] == ["space/rockets.txt"]
    assert second["added"] == ["harbour.txt"]
    assert emb.texts_embedded == 2  # the changed and the added sentence: nothing else re-embedded
    # Generation b was empty: every document went in once; the next update reuses what b already has.
    assert second["milvus"]["generation"] == 2 and second["milvus"]["kept"] == 0

    # A reader holding the old generation still answers from it in full; its next request sees the update.
    assert before.search("orbit launch", k=1)[0].chunk.doc == "space/rockets.txt"
    after = before.latest()
    assert after is not before and after.generation == 2
    assert after.search("parade drums", k=1)[0].chunk.doc == "music.txt"
    assert "space/rockets.txt" not in after.documents
    assert after.search("ferries harbour", k=1, retriever="bm25")[0].chunk.doc == "harbour.txt"

    (corpus / "harbour.txt").write_text("Ferries and tugboats cross the harbour.\n", encoding="utf-8")
    third = _milvus_build(corpus, location, fake_settings)
    # Generation a had gen 1's state: music and rockets and harbour differ from it, the other three not.
    assert sorted(third["milvus"]["written"]) == ["harbour.txt", "music.txt"]
    assert third["milvus"]["removed"] == ["space/rockets.txt"] and third["milvus"]["kept"] == 3
    latest = after.latest()
    assert latest.generation == 3 and latest.gen == "a"
    assert "tugboats" in latest.search("tugboats", k=1, retriever="bm25")[0].chunk.text
    assert [c.id for c in latest.chunks] == [c.id for c in load_milvus(location).chunks]
    unchanged = _milvus_build(corpus, location, fake_settings)
    assert unchanged["updated"] is False and "milvus" not in unchanged


def test_an_update_killed_half_way_is_redone_in_full(fake_corpus, fake_settings, location):
    corpus = fake_corpus()
    _milvus_build(corpus, location, fake_settings)
    (corpus / "music.txt").write_text("Drums keep the rhythm of the parade.\n", encoding="utf-8")
    _milvus_build(corpus, location, fake_settings)  # both generations complete now
    store = MilvusStore(location)
    standby = store.other(store.live())
    # An update that died in the standby: its metadata cleared first, one document half deleted.
    store.clear_meta(standby)
    store.remove_doc(standby, "fruit/apples.txt")
    (corpus / "music.txt").write_text("Flutes and oboes play the overture.\n", encoding="utf-8")
    report = _milvus_build(corpus, location, fake_settings)
    assert report["milvus"]["kept"] == 0 and len(report["milvus"]["written"]) == 5
    idx = load_milvus(location)
    assert idx.gen == standby and len(idx.chunks) == idx.manifest["counts"]["chunks"]
    assert idx.search("overture flutes", k=1, retriever="bm25")[0].chunk.doc == "music.txt"
    assert idx.search("crisp apples", k=1, retriever="bm25")[0].chunk.doc == "fruit/apples.txt"


def test_a_writer_without_the_lock_that_swapped_in_meanwhile_stops_the_other(
    fake_index, location, monkeypatch
):
    """``qa index --from`` holds no update lock: if another writer moved the alias while it wrote, it
    refuses to swap (it may have written the same standby) and says to run it again."""
    from qa.errors import IndexProblem

    _, folder = fake_index
    write_index(location, folder)
    put_meta, nested = MilvusStore.put_meta, []

    def put_meta_then_another_writer(self, gen, meta, generation):
        put_meta(self, gen, meta, generation)
        if not nested:
            nested.append("writing")
            nested[0] = write_index(location, folder)  # swaps generation 2 in under the first writer

    monkeypatch.setattr(MilvusStore, "put_meta", put_meta_then_another_writer)
    with pytest.raises(IndexProblem, match="was swapped in while this one was written.*run it again"):
        write_index(location, folder)
    assert nested[0]["generation"] == 2
    monkeypatch.undo()
    again = write_index(location, folder)
    assert again["generation"] == 3
    idx = load_milvus(location)
    assert idx.generation == 3 and len(idx.chunks) == idx.manifest["counts"]["chunks"]


def test_cli_index_from_a_folder_then_status_and_ask(fake_index, location, capsys):
    corpus, folder = fake_index
    common = ["--milvus-uri", location.uri, "--collection", location.collection, "--json"]
    assert main(["index", "--from", str(folder), *common]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["chunks_written"] == load_index(folder).manifest["counts"]["chunks"]
    assert main(["status", "--corpus", str(corpus), "--model", FAKE_MODEL, *common]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["stale"] is False and st["index"] == str(location) and st["counts"]["documents"] == 5
    assert main(["ask", "Which apples are crisp?", *common]) == 0
    ans = json.loads(capsys.readouterr().out)
    assert ans["citations"][0]["doc"] == "fruit/apples.txt"
    assert close_enough(ans, load_index(folder).ask("Which apples are crisp?").to_dict())
    (corpus / "fruit/apples.txt").write_text("Pears now.\n", encoding="utf-8")
    assert main(["status", "--corpus", str(corpus), "--model", FAKE_MODEL, *common]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == ["fruit/apples.txt"]


def test_cli_errors_name_the_fix(milvus_uri, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("QA_MILVUS_URI", raising=False)
    assert main(["ask", "anything", "--milvus-uri", milvus_uri, "--collection", "nothing_here"]) == 2
    err = capsys.readouterr().err
    assert f"no index in Milvus at {milvus_uri} (collection nothing_here)" in err
    assert f"qa index --milvus-uri {milvus_uri} --collection nothing_here" in err
    assert main(["ask", "anything", "--collection", "qa"]) == 2
    assert "--collection needs --milvus-uri" in capsys.readouterr().err
    assert main(["ask", "anything", "--milvus-uri", milvus_uri, "--collection", "9-bad"]) == 2
    assert "is not a Milvus name" in capsys.readouterr().err
    assert main(["index", "--from", str(tmp_path)]) == 2
    assert "--from needs --milvus-uri" in capsys.readouterr().err
    missing = tmp_path / "no-corpus"  # the update lock refuses it before anything is read or written
    assert main(["index", "--corpus", str(missing), "--milvus-uri", milvus_uri, "--collection", "none"]) == 2
    assert f"corpus folder not found: {missing}" in capsys.readouterr().err
    assert not MilvusStore(Location(milvus_uri, "none")).exists("a") and not missing.exists()
    monkeypatch.setenv("QA_MILVUS_URI", milvus_uri)  # the environment names the server too
    assert main(["status", "--collection", "nothing_here"]) == 2
    assert "no index in Milvus" in capsys.readouterr().err


def test_a_replica_answers_with_no_index_or_corpus_on_its_disk(fake_index, location, fake_settings, tmp_path):
    from dataclasses import replace

    from qa.service import Service
    from qa.uploads import UploadRejected

    write_index(location, fake_index[1])
    service = Service(replace(fake_settings(), index=location, corpus=tmp_path / "no-corpus-here"))
    st = service.status()
    assert st["counts"]["documents"] == 5 and "stale" not in st and st["index"] == str(location)
    assert service.ask("Which apples are crisp?").citations[0].doc == "fruit/apples.txt"
    assert service.page("music.txt", 2)["text"].startswith("Pianos need tuning")
    # Its update would read an empty corpus and remove every document: it refuses uploads instead.
    with pytest.raises(UploadRejected, match="no corpus folder") as refused:
        service.upload("harbour.txt", b"Ferries cross the harbour at dawn.\n")
    assert refused.value.status == 503 and not (tmp_path / "no-corpus-here").exists()
    assert load_milvus(location).generation == 1


@pytest.mark.milvus  # pymilvus retries a lost server for ~30 s before it gives up
def test_milvus_going_away_is_one_clear_error(fake_index, tmp_path, capsys):
    from qa.errors import QAError
    from qa.milvus.server import milvus_lite_server

    corpus, folder = fake_index
    with milvus_lite_server(tmp_path / "gone") as uri:
        location = Location(uri, "gone")
        write_index(location, folder)
        idx = load_milvus(location)
        assert idx.search("crisp apples", k=1)[0].chunk.doc == "fruit/apples.txt"
    with pytest.raises(QAError, match=f"Milvus at {uri} failed"):
        idx.search("crisp apples", k=1)
    assert main(["ask", "crisp apples", "--milvus-uri", uri, "--collection", "gone"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qa: error: ") and f"Milvus at {uri}" in err and "Traceback" not in err


# ---------------------------------------------------------------- many `qa serve` replicas


class _Replica:
    """A `qa serve` process answering from the index in Milvus (nothing of the index on local disk)."""

    def __init__(self, location: Location, corpus, log) -> None:
        from qa.milvus.server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "qa", "serve", "--port", str(self.port), "--corpus", str(corpus)]
        cmd += ["--milvus-uri", location.uri, "--collection", location.collection]
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)

    def wait(self) -> None:
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(f"{self.url}/api/status", timeout=5).raise_for_status()
                return
            except httpx.HTTPError:
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.3)

    def ask(self, question: str) -> dict:
        r = httpx.post(f"{self.url}/api/ask", json={"question": question}, timeout=60)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def _place(citation: dict) -> tuple:
    return tuple(citation[k] for k in ("doc", "page", "start", "end", "quote"))


def _first_answering(replicas: list[_Replica], question: str) -> dict:
    """What a load balancer does: the first replica that answers."""
    for r in replicas:
        try:
            return r.ask(question)
        except httpx.HTTPError:
            continue
    raise AssertionError(f"no replica answered {question!r}")


def test_two_replicas_share_the_index_uploads_and_the_loss_of_one(
    fake_corpus, fake_settings, location, tmp_path
):
    corpus = fake_corpus()
    _milvus_build(corpus, location, fake_settings)
    replicas = [_Replica(location, corpus, tmp_path / f"serve{i}.log") for i in (1, 2)]
    try:
        for r in replicas:
            r.wait()
        one, two = replicas
        for q in QUERIES:
            a, b = one.ask(q), two.ask(q)
            assert a == b and a["citations"], q

        up = httpx.post(
            f"{one.url}/api/documents",
            files={"file": ("harbour.txt", b"Ferries cross the harbour at dawn.\n", "text/plain")},
            timeout=120,
        )
        assert up.status_code == 201, up.text
        # The other replica answers from the updated index on its next request.
        found = two.ask("Which ferries cross the harbour?")
        assert found["citations"][0]["doc"] == "uploads/harbour.txt"
        docs = httpx.get(f"{two.url}/api/documents", timeout=30).json()
        assert "uploads/harbour.txt" in json.dumps(docs)
        before = {q: one.ask(q) for q in QUERIES}
        assert before == {q: two.ask(q) for q in QUERIES}

        # Kill a replica in the middle of a request (an upload: reading, embedding, writing to Milvus).
        big = "".join(f"Lighthouse {i} guides the ships past the reef number {i}.\n" for i in range(400))
        killed = threading.Thread(
            target=lambda: _swallow(
                lambda: httpx.post(
                    f"{one.url}/api/documents",
                    files={"file": ("lighthouses.txt", big.encode(), "text/plain")},
                    timeout=120,
                )
            )
        )
        killed.start()
        time.sleep(0.5)
        one.proc.kill()
        one.proc.wait(timeout=30)
        killed.join(timeout=120)
        # Through the replica left: the index before that upload or after it, whole, never half of it.
        st = httpx.get(f"{two.url}/api/status", timeout=30).json()
        shown = {d["path"] for d in st["documents"]}
        # (the killed replica may have saved the file in the corpus already: the next update indexes it)
        assert shown | {"uploads/lighthouses.txt"} == set(_files(corpus)) | {"uploads/lighthouses.txt"}
        idx = load_milvus(location)
        assert st["counts"]["chunks"] == len(idx.chunks) == idx.manifest["counts"]["chunks"]
        for q in QUERIES:
            got = _first_answering(replicas, q)
            if "uploads/lighthouses.txt" in shown:  # the same quote; its probability may move with the corpus
                assert _place(got["citations"][0]) == _place(before[q]["citations"][0])
            else:
                assert got == before[q]
        assert _first_answering(replicas, "ferries harbour")["citations"][0]["doc"] == "uploads/harbour.txt"
    finally:
        for r in replicas:
            r.stop()


def test_two_uploads_through_two_replicas_at_the_same_moment_both_land(
    fake_corpus, fake_settings, location, tmp_path
):
    """Each update holds the corpus's update lock (qa.milvus.lock) from reading the live generation to the
    alias swap: the second waits, builds on the first's generation, and neither upload is lost."""
    corpus = fake_corpus()
    _milvus_build(corpus, location, fake_settings)
    replicas = [_Replica(location, corpus, tmp_path / f"serve{i}.log") for i in (1, 2)]
    files = {
        "harbour.txt": b"Ferries cross the harbour at dawn.\n",
        "bakery.txt": b"Bakers knead sourdough before sunrise.\n",
    }
    try:
        for r in replicas:
            r.wait()
        barrier = threading.Barrier(2)

        def upload(replica: _Replica, name: str, data: bytes) -> httpx.Response:
            barrier.wait()
            return httpx.post(f"{replica.url}/api/documents", files={"file": (name, data)}, timeout=300)

        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(upload, replicas, files, files.values()))
        assert [r.status_code for r in done] == [201, 201], [r.text for r in done]
        assert {r.json()["doc"] for r in done} == {"uploads/harbour.txt", "uploads/bakery.txt"}
        logs = "".join(r.log.read_text() for r in replicas)
        assert "waits for another update of the index" in logs  # they did overlap: one waited

        assert {"uploads/harbour.txt", "uploads/bakery.txt"} <= set(_files(corpus))
        idx = load_milvus(location)
        assert {"uploads/harbour.txt", "uploads/bakery.txt"} <= set(idx.documents)
        assert len(idx.chunks) == idx.manifest["counts"]["chunks"] and idx.generation == 3
        for r in replicas:
            assert r.ask("Which ferries cross the harbour?")["citations"][0]["doc"] == "uploads/harbour.txt"
            assert r.ask("Which bakers knead sourdough?")["citations"][0]["doc"] == "uploads/bakery.txt"
            listed = {d["id"] for d in httpx.get(f"{r.url}/api/documents", timeout=30).json()["documents"]}
            assert {"uploads/harbour.txt", "uploads/bakery.txt", "music.txt"} <= listed
    finally:
        for r in replicas:
            r.stop()


def _swallow(call) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the replica was killed under it
        call()


def _files(corpus) -> list[str]:
    """The corpus's documents: dot files (the update lock, a half-written upload) are none of them."""
    rels = [p.relative_to(corpus).as_posix() for p in sorted(corpus.rglob("*")) if p.is_file()]
    return [r for r in rels if not any(part.startswith(".") for part in r.split("/"))]


@pytest.mark.milvus
def test_the_shipped_corpus_answers_the_same_from_milvus(real_index_path, real_index, milvus_uri):
    """Every question of both dev sets: the same hits and the same answer (to float rounding) from Milvus
    as from the index folder (make test-milvus; measured figures in README, "At scale: Milvus")."""
    from qa.milvus.bench import compare, read_questions

    location = Location(milvus_uri, f"t_shipped_{uuid.uuid4().hex[:6]}")
    write_index(location, real_index_path)
    milvus = load_milvus(location, embedder=real_index.embedder)
    for name in ("brief_dev.jsonl", "sources_dev.jsonl"):
        result = compare(real_index, milvus, read_questions(REPO / "eval" / name))
        assert result["questions_count"] > 30
        assert result["ranking_differs"] == {"dense": [], "bm25": [], "hybrid": []}, name
        assert result["answer_differs"] == [], name
