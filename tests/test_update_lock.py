"""The update lock (qa.milvus.lock) that serialises updates of a shared index across processes: a second
holder waits and says so, a holder that crashed releases it, a waiter with a limit names the holder; and
uploads to one `qa serve` with an index folder stay serialised as before."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.errors import UsageError
from qa.ingest import scan_corpus
from qa.milvus.lock import LOCK_FILE, NoCorpus, UpdateBusy, update_lock

HOLDER = """
import sys
from qa.milvus.lock import update_lock
with update_lock(sys.argv[1], "the holder of the test"):
    print("held", flush=True)
    sys.stdin.readline()
"""


class _Holder:
    """Another process holding the lock until told to let go (or killed)."""

    def __init__(self, folder) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def _until(condition, what: str, limit_s: float = 60) -> None:
    """Wait for ``condition`` (a guard against hanging, not a measured time)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def test_a_second_holder_waits_says_so_and_goes_on_when_the_first_lets_go(tmp_path):
    holder = _Holder(tmp_path)
    said, events = [], []

    def second():
        with update_lock(tmp_path, "the second update", say=said.append):
            events.append("in")

    t = threading.Thread(target=second)
    t.start()
    try:
        _until(lambda: said, "the second update says it waits")
        assert events == []  # it waits: the other process holds the lock
        assert "the second update waits for another update" in said[0]
        assert f"the holder of the test, pid {holder.proc.pid}" in said[0]
    finally:
        holder.release()
    t.join(timeout=60)
    assert events == ["in"] and "goes on" in said[-1]


def test_a_waiter_with_a_limit_names_the_holder_and_does_not_start(tmp_path):
    holder = _Holder(tmp_path)
    try:
        ran = []
        with (
            pytest.raises(UpdateBusy, match=f"the holder of the test, pid {holder.proc.pid}"),
            update_lock(tmp_path, "the upload of x.txt", say=lambda m: None, timeout_s=0.3),
        ):
            ran.append(True)
        assert ran == []
    finally:
        holder.release()


def test_a_holder_that_crashed_has_released_the_lock(tmp_path):
    holder = _Holder(tmp_path)
    with pytest.raises(UpdateBusy), update_lock(tmp_path, "early", say=lambda m: None, timeout_s=0):
        pass
    holder.kill()  # SIGKILL mid-update: no cleanup ran, the kernel dropped the lock with the process
    with update_lock(tmp_path, "after the crash", say=lambda m: None, timeout_s=30):
        pass


def test_no_corpus_folder_is_refused_and_nothing_runs_or_is_made(tmp_path):
    """An update reads the whole corpus: without the folder it would remove every document, so the lock
    refuses it (a usage error: exit 2 from the CLI; the server turns it into its 503)."""
    missing = tmp_path / "no-corpus"
    ran = []
    with (
        pytest.raises(NoCorpus, match=f"corpus folder not found: {missing}"),
        update_lock(missing, "an update", say=ran.append),
    ):
        ran.append("the block")
    assert ran == [] and not missing.exists()
    assert issubclass(NoCorpus, UsageError)
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    with pytest.raises(NoCorpus), update_lock(tmp_path / "a-file", "an update"):
        ran.append("the block")
    assert ran == []


def test_re_entrant_in_one_thread_exclusive_for_another(tmp_path):
    blocked = []

    def other():
        try:
            with update_lock(tmp_path, "another thread", say=lambda m: None, timeout_s=0):
                blocked.append(False)
        except UpdateBusy:
            blocked.append(True)

    with update_lock(tmp_path, "outer"), update_lock(tmp_path, "inner", timeout_s=0):
        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=60)
    assert blocked == [True]
    with update_lock(tmp_path, "once more", timeout_s=0):  # both levels released
        pass


def test_the_lock_file_is_no_document_of_the_corpus(fake_corpus):
    corpus = fake_corpus()
    with update_lock(corpus, "a build"):
        assert (corpus / LOCK_FILE).is_file()
        found, refused = scan_corpus(corpus)
    assert LOCK_FILE not in {rel for rel, _ in found} | {r.path for r in refused}


def test_two_uploads_at_once_to_one_folder_index_both_land(fake_corpus, build_fake, fake_settings, tmp_path):
    """One `qa serve` with index/: its own lock serialises uploads, as before (no lock file is made)."""
    from qa.embed import FakeEmbedder
    from qa.index import load_index
    from qa.service import Service

    corpus = fake_corpus()
    build_fake(corpus, tmp_path / "index")
    settings = fake_settings(corpus=corpus, index=tmp_path / "index")
    service = Service(
        settings, index=load_index(tmp_path / "index", embedder=FakeEmbedder(model_id="fake:bow-64"))
    )
    files = {"harbour.txt": b"Ferries cross the harbour at dawn.\n", "bakery.txt": b"Bakers knead dough.\n"}
    barrier = threading.Barrier(2)

    def upload(item):
        barrier.wait()
        return service.upload(*item)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(upload, files.items()))
    assert sorted(r["doc"] for r in results) == ["uploads/bakery.txt", "uploads/harbour.txt"]
    assert {"uploads/bakery.txt", "uploads/harbour.txt"} <= set(service.index.documents)
    assert {"uploads/bakery.txt", "uploads/harbour.txt"} <= set(load_index(tmp_path / "index").documents)
    assert not (corpus / LOCK_FILE).exists()
