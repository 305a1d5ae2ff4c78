"""Reliability and security: hostile corpora, crashes and damaged indexes, hostile input at every edge, load.

Everything is generated in fixtures (nothing big is committed). The quick part runs in `make test`; the long
part (`@pytest.mark.reliability`, `make reliability`) scales the same checks up (a 300 MB file, 3000 pages,
a kill -9 loop on the real CLI, 50 concurrent clients on a real server, long fuzzing) and writes
artifacts/reliability-summary.md. Bugs in modules this suite does not own are pinned by
``xfail(strict=True)`` tests whose reason names the fix: they turn into failures once fixed, so the mark is
removed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa.build import build_index
from qa.chunk import chunk_document, split_sentences
from qa.cli import main
from qa.config import FORMAT_VERSION, Settings
from qa.embed import FakeEmbedder
from qa.errors import IndexProblem, UsageError
from qa.index import load_index, status
from qa.ingest import normalise
from reliability import faults, fuzz, hostile, summary
from reliability.audit import recorder
from reliability.faults import FAULTS, INDEX_FILES, answers, corrupt, leftovers
from reliability.serve import free_port, qa_server
from test_chunk import check_invariants, page_of

FAKE = "fake:bow-64"
REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
LONG = pytest.mark.reliability


@pytest.fixture
def record(request) -> summary.Row:
    """This test's row of the reliability summary."""
    return summary.plugin(request.config).row(request.node)


@contextlib.contextmanager
def deadline(seconds: float, what: str):
    """Fail instead of hanging: a blocked open() of a named pipe is interrupted by SIGALRM."""

    def fire(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s (hung?)")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def build(corpus: Path, index: Path, **overrides) -> dict:
    return build_index(
        corpus, index, Settings(model=FAKE, corpus=corpus, index=index, **overrides), embedder=FakeEmbedder()
    )


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`qa ...` in-process: it must return an exit code, never raise (a raise is a traceback for the user)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def write_docs(root: Path, docs: dict[str, str]) -> Path:
    for rel, text in docs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def fates(index: Path) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads((index / "manifest.json").read_text("utf-8"))["files"]}


def check_fates(index: Path, expects: list[hostile.Expect]) -> dict[str, int]:
    """Every corpus file has the fate it should have, and the manifest lists no other file."""
    got = fates(index)
    for e in expects:
        if e.status == "absent":
            assert e.path not in got, f"{e.path} is a hidden file, not a corpus file"
            continue
        assert e.path in got, f"{e.path} missing from the manifest"
        f = got[e.path]
        assert f["status"] == e.status, (e.path, f)
        if e.status == "skipped":
            assert e.reason_ok(f["reason"]), (e.path, f["reason"], e.reason)
        if e.warning:
            assert any(e.warning in w for w in f["warnings"]), (e.path, f["warnings"])
    assert set(got) == {e.path for e in expects if e.status != "absent"}
    counts: dict[str, int] = {}
    for f in got.values():
        counts[f["status"]] = counts.get(f["status"], 0) + 1
    return counts


def check_good_files_answer(index: Path, expects: list[hostile.Expect]) -> None:
    idx = load_index(index)
    for e in expects:
        if e.status != "ok":
            continue
        hits = [h for h in idx.search(e.words, k=len(idx.chunks), retriever="bm25") if h.chunk.doc == e.path]
        assert hits and e.words.split()[0] in hits[0].chunk.text.lower(), (e.path, e.words, hits[:1])
        if e.text:
            text = "\n".join(
                idx.pages[(e.path, n)].text for n in range(1, idx.documents[e.path]["pages"] + 1)
            )
            assert text == e.text, (e.path, text)
    every_page = " ".join(p.text for p in idx.pages.values())
    assert hostile.SECRET not in every_page
    scripts = "\n".join(p.text for (doc, _), p in idx.pages.items() if doc == "web/scripts.html")
    assert "owned-4e1d" not in scripts and "onerror" not in scripts and "Storks build" in scripts


# ================================================================ 1. hostile corpus


def test_hostile_corpus_is_reported_file_by_file(tmp_path, make_pdf, record):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    expects = hostile.make_hostile_corpus(corpus, tmp_path / "outside", make_pdf, "quick")
    with deadline(120, "building the hostile corpus"):
        report = build(corpus, index, max_file_bytes=1 << 20)
        counts = check_fates(index, expects)
        assert len(report["skipped"]) == counts["skipped"]
        check_good_files_answer(index, expects)
        # a second build of the same corpus is up to date, and status agrees
        assert build(corpus, index, max_file_bytes=1 << 20)["updated"] is False
        st_ = status(index, corpus, Settings(model=FAKE, max_file_bytes=1 << 20))
        assert (st_["added"], st_["changed"], st_["removed"], st_["stale"]) == ([], [], [], False)
    record.area = "Hostile corpus (quick)"
    record.inputs = f"{len(expects)} files: PDFs, encodings, markup, odd names, links, pipe, socket"
    record.outcome = f"{counts['ok']} read, {counts['skipped']} skipped with reasons; rebuild up to date"


def test_scan_refuses_special_files_without_opening_them(tmp_path):
    """A named pipe would block every open() forever; a symlink loop made pathlib raise RuntimeError."""
    from qa.ingest import scan_corpus

    root = write_docs(tmp_path / "c", {"good.txt": "Owls hunt at night.\n"})
    os.mkfifo(root / "pipe.md")
    (root / "a.txt").symlink_to(root / "b.txt")
    (root / "b.txt").symlink_to(root / "a.txt")
    (root / "inside-pipe.txt").symlink_to(root / "pipe.md")
    with deadline(20, "scanning a corpus with a named pipe"):
        found, refused = scan_corpus(root)
        assert [rel for rel, _ in found] == ["good.txt"]
        assert {(r.path, r.reason) for r in refused} == {
            ("a.txt", "broken symlink or symlink loop"),
            ("b.txt", "broken symlink or symlink loop"),
            ("inside-pipe.txt", "not a regular file (named pipe)"),
            ("pipe.md", "not a regular file (named pipe)"),
        }
        report = build(root, tmp_path / "index")
        assert report["documents"] == 1 and len(report["skipped"]) == 4


def test_a_file_name_that_is_not_utf8_does_not_break_the_build(tmp_path):
    root = write_docs(tmp_path / "c", {"good.txt": "Owls hunt at night.\n"})
    for raw in (b"/latin-caf\xe9.txt", b"/sub-\xff/inner.md"):
        path = os.fsencode(root) + raw
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"Readable text under an unreadable name.\n")
    report = build(root, tmp_path / "index")
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {
        "latin-caf\\xe9.txt": "file name is not valid UTF-8 (rename the file)",
        "sub-\\xff/inner.md": "file name is not valid UTF-8 (rename the file)",
    }
    assert set(load_index(tmp_path / "index").documents) == {"good.txt"}


@pytest.mark.parametrize(
    "parts",
    [
        [("utf-8", "Narwhals — “tusks”."), ("cp1252", "Été, déjà, garçon."), ("utf-8", "日本語 ünï.")],
        [("cp1252", "Señor Muñoz’s “café”."), ("utf-8", "and then — naïve UTF-8 again.")],
    ],
)
def test_mixed_encoding_text_reads_each_part_as_itself(parts):
    from qa.ingest import decode_text

    data = b"\n".join(text.encode(enc) for enc, text in parts)
    assert decode_text(data) == "\n".join(text for _, text in parts)


def test_utf32_with_a_bom_is_text():
    from qa.ingest import decode_text

    for codec in ("utf-32", "utf-32-le", "utf-32-be"):
        data = ("" if codec == "utf-32" else "\ufeff") + "Albatrosses glide for hours."
        assert decode_text(data.encode(codec)) == "Albatrosses glide for hours."


# ================================================================ 2. damaged indexes


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A small fake index, its corpus, what it answers, and two donors of index files: another index of a
    different size ("swap") and a same-shape twin with other words ("twin")."""
    from conftest import FAKE_DOCS

    base = tmp_path_factory.mktemp("pristine")
    corpus = write_docs(base / "corpus", FAKE_DOCS)
    build(corpus, base / "index")
    other = write_docs(base / "other", {"x.txt": "A different corpus about owls at night.\n"})
    build(other, base / "swap")
    twin = write_docs(base / "twin-corpus", faults.twin_docs(FAKE_DOCS))
    build(twin, base / "twin")
    m, t = (json.loads((base / n / "manifest.json").read_text()) for n in ("index", "twin"))
    assert m["counts"] == t["counts"], "the twin must match every count"
    return {
        "corpus": corpus,
        "index": base / "index",
        "swap": base / "swap",
        "twin": base / "twin",
        "answers": answers(base / "index"),
    }


@pytest.fixture
def damaged(tmp_path, pristine):
    """A fresh copy of the pristine index to damage."""
    index = tmp_path / "index"
    shutil.copytree(pristine["index"], index)
    return index


# What each message must name (the file, or the kind of file it is).
NAMES = {
    "manifest.json": ("manifest",),
    "pages.jsonl": ("pages.jsonl",),
    "chunks.jsonl": ("chunks.jsonl",),
    "vectors.npy": ("vector",),
    "sentences.npy": ("sentence", "vector"),
    "dense.faiss": ("dense.faiss", "vector"),
    "references.json": ("references.json",),
    "term_df.json": ("term_df.json",),
}
for _rel in INDEX_FILES:
    if _rel.startswith("lexical/"):
        NAMES[_rel] = ("BM25", "lexical")

# Every file × every fault: load_index refuses it, naming the file and the fixing command, or (a lost
# trailing newline) the index answers exactly as before. A file swapped in from another index is caught by
# the per-file sha256 the manifest records.
MATRIX = [pytest.param(rel, fault, id=f"{rel}-{fault}") for rel in INDEX_FILES for fault in FAULTS]


def _fix_command(message: str) -> list[str]:
    m = re.search(r"(qa index[^;\n]*)$", message)
    assert m, f"the message names no fixing command: {message}"
    return shlex.split(m.group(1))[1:]


@pytest.mark.parametrize("rel, fault", MATRIX)
def test_damaged_index_file_gives_a_clear_error_or_the_same_answers(rel, fault, damaged, pristine, capsys):
    original = (damaged / rel).read_bytes()
    corrupt(damaged, rel, fault, swap=pristine["swap"], twin=pristine["twin"])
    foreign = fault in ("swap", "twin") and (damaged / rel).read_bytes() != original
    try:
        got = answers(damaged)
    except IndexProblem as e:
        msg = str(e)
    else:
        assert not foreign, "loaded another index's file without noticing"
        assert got == pristine["answers"], "loaded a damaged index and answered differently"
        return
    assert any(n in msg for n in NAMES[rel]), f"the message does not say what is wrong: {msg}"
    # the edges say the same, without a traceback
    corpus = str(pristine["corpus"])
    for argv in (
        ["ask", "apples?", "--index", str(damaged)],
        ["status", "--index", str(damaged), "--corpus", corpus],
    ):
        code, _, err = cli(capsys, *argv)
        if argv[0] == "ask":
            assert code == 2 and "qa index" in err and err.count("\n") == 1, err
        else:
            assert code in (0, 2), err
    # and the command it names repairs the index
    code, _, err = cli(capsys, *_fix_command(msg), "--corpus", corpus, "--model", FAKE, "--quiet")
    assert code == 0, err
    assert answers(damaged) == pristine["answers"]


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1", None])
def test_other_format_version_is_refused_at_every_edge(version, damaged, pristine, capsys, monkeypatch):
    import uvicorn

    faults.wrong_version(damaged, version)
    with pytest.raises(
        IndexProblem, match=r"format qa-index v.* this qa reads qa-index v\d.*qa index --rebuild"
    ):
        load_index(damaged)
    code, _, err = cli(capsys, "ask", "apples?", "--index", str(damaged))
    assert code == 2 and "qa index --rebuild" in err
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("served a damaged index"))
    argv = ["serve", "--port", str(free_port()), "--index", str(damaged), "--corpus", str(pristine["corpus"])]
    code, _, err = cli(capsys, *argv)
    assert code == 2 and "qa index --rebuild" in err


# A manifest that is valid JSON but not the right shape (a hand edit, another tool, a half-written file
# from an old qa): load, status and ask refuse it with one line naming the fix, and `qa index` rebuilds.
# Fields that nothing reads back (package, chunking) may go missing without harm.
MANIFEST_DAMAGE = {
    "package removed": (lambda m: m.pop("package"), True),
    "chunking removed": (lambda m: m.pop("chunking"), True),
    "format is a string": (lambda m: m.__setitem__("format", "qa-index"), False),
    "counts removed": (lambda m: m.pop("counts"), False),
    "model is empty": (lambda m: m.__setitem__("model", {}), False),
    "dimension is a string": (lambda m: m["model"].__setitem__("dim", "384"), False),
    "files is null": (lambda m: m.__setitem__("files", None), False),
    "a file entry is empty": (lambda m: m["files"].__setitem__(0, {}), False),
    "settings is a list": (lambda m: m.__setitem__("settings", []), False),
    "checksums removed": (lambda m: m.pop("checksums"), False),
    "created removed": (lambda m: m.pop("created"), False),
    "the manifest is a list": (lambda m: [], False),
}


@pytest.mark.parametrize("what", list(MANIFEST_DAMAGE))
def test_misshapen_manifest_is_refused_clearly_and_rebuilt(what, damaged, pristine, capsys):
    m = json.loads((damaged / "manifest.json").read_text())
    change, usable = MANIFEST_DAMAGE[what]
    out = change(m)
    (damaged / "manifest.json").write_text(json.dumps(out if isinstance(out, list) else m))
    corpus = pristine["corpus"]
    for argv in (["ask", "apples?", "--index", str(damaged)], ["status", "--index", str(damaged)]):
        try:
            code, _, err = cli(capsys, *argv)
        except Exception as e:  # noqa: BLE001 - any escape is the bug this test is about
            pytest.fail(f"qa {argv[0]} crashed: {type(e).__name__}: {e}")
        if usable:
            assert code == 0, (argv[0], err)
        else:
            assert code == 2 and err.count("\n") == 1, (argv[0], err)
            assert "unreadable manifest.json" in err and "qa index --rebuild" in err, err
    argv = ["index", "--index", str(damaged), "--corpus", str(corpus), "--model", FAKE, "--quiet"]
    code, _, err = cli(capsys, *argv)
    assert code == 0, err
    assert answers(damaged) == pristine["answers"]


# ---------------------------------------------------------------- crashes during and around the build


@pytest.mark.parametrize("point", faults.WRITE_POINTS)
def test_disk_full_while_writing_keeps_the_old_index(point, damaged, pristine, tmp_path, capsys, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(pristine["corpus"], corpus)
    (corpus / "music.txt").write_text("Saxophones and trumpets in a jazz club.\n")
    faults.fail_writing(monkeypatch, point)
    code, _, err = cli(capsys, "index", "--corpus", str(corpus), "--index", str(damaged), "--model", FAKE)
    monkeypatch.undo()
    assert code == 1 and err.startswith("qa: error: [Errno") and err.count("\n") == 1, err
    assert os.strerror(errno.ENOSPC if point not in ("fsync", "swap") else errno.EIO) in err
    assert answers(damaged) == pristine["answers"]  # (load_index puts an index moved aside back)
    assert leftovers(damaged) == []
    code, _, err = cli(capsys, "index", "--corpus", str(corpus), "--index", str(damaged), "--model", FAKE)
    assert code == 0, err
    idx = load_index(damaged)
    assert idx.search("saxophones trumpets jazz", k=1)[0].chunk.doc == "music.txt"


def test_a_set_aside_copy_left_by_a_kill_is_cleaned_up(damaged, pristine):
    dead = 2**22 + 12345  # above pid_max's default, so never alive
    shutil.copytree(pristine["index"], damaged.parent / f".{damaged.name}.old-{dead}")
    (damaged.parent / f".{damaged.name}.old-{dead}" / "vectors.npy").unlink()  # half deleted by the kill
    load_index(damaged)
    build(pristine["corpus"], damaged)
    assert leftovers(damaged) == []


def test_a_reader_never_steals_the_index_a_live_build_is_swapping(damaged, pristine, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(pristine["index"], new)
    aside = damaged.parent / f".{damaged.name}.old-{os.getpid()}"  # a live build between its two renames
    damaged.rename(aside)
    done = {}

    def finish_swap():
        time.sleep(0.3)
        try:
            new.rename(damaged)
            done["ok"] = True
        except OSError as e:
            done["error"] = e

    t = threading.Thread(target=finish_swap)
    t.start()
    with contextlib.suppress(IndexProblem):
        load_index(damaged)
    t.join()
    assert done.get("ok"), f"the build's final rename failed: {done.get('error')}"


# ================================================================ 3. hostile input at the edges


@pytest.fixture
def fake_service(tmp_path, pristine):
    """A Service over a copy of the fake corpus and index (uploads allowed: they stay in tmp_path)."""
    from qa.service import Service

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(pristine["corpus"], corpus)
    shutil.copytree(pristine["index"], index)
    return Service(Settings(model=FAKE, corpus=corpus, index=index), max_upload=1 << 20)


@pytest.fixture
def api(fake_service):
    from fastapi.testclient import TestClient

    from qa.server import create_app

    with TestClient(create_app(fake_service, ui=False), raise_server_exceptions=False) as c:
        c.service = fake_service
        yield c


def _ask_outcome(idx, question, history=None) -> str:
    try:
        a = idx.ask(question, history=history)
    except UsageError as e:
        assert str(e).startswith("the question is"), e
        return "refused"
    json.dumps(a.to_dict(), ensure_ascii=False).encode("utf-8")  # what every edge sends must encode
    return "abstained" if a.abstained else "answered"


def test_hostile_questions_through_ask_cli_and_api(pristine, api, capsys, record):
    idx = load_index(pristine["index"])
    seen: dict[str, int] = {}
    for q in fuzz.HOSTILE_QUESTIONS:
        outcome = _ask_outcome(idx, q)
        seen[outcome] = seen.get(outcome, 0) + 1
        code, out, err = cli(capsys, "ask", q, "--index", str(pristine["index"]), "--json")
        if outcome == "refused":
            assert code == 2 and err.startswith("qa: error: the question is"), err
        else:
            assert code == 0 and json.loads(out)["abstained"] == (outcome == "abstained")
        r = api.post("/api/ask", json={"question": q})
        assert r.status_code == (422 if outcome == "refused" else 200), r.text
        assert r.json()["detail" if outcome == "refused" else "question"]
    assert seen["refused"] >= 5 and seen.get("answered", 0) >= 3, seen
    record.area = "Hostile questions (quick)"
    record.inputs = f"{len(fuzz.HOSTILE_QUESTIONS)} questions × index.ask, qa ask, POST /api/ask"
    record.outcome = ", ".join(f"{v} {k}" for k, v in sorted(seen.items())) + "; no crash, no 500"


@pytest.mark.parametrize(
    "history",
    [
        ["y" * 200_000 + " in 2020?"],
        [{"role": "user", "content": 5}, {"role": None}, {"question": ["x"]}],
        [None, 3, [], {}, [[["deep"]]], 1.5, True],
        "not a list",
    ],
)
def test_hostile_history_is_ignored_or_refused(pristine, api, history):
    idx = load_index(pristine["index"])
    assert _ask_outcome(idx, "And in 2023?", history) in ("answered", "abstained")
    r = api.post("/api/ask", json={"question": "And in 2023?", "history": history})
    assert r.status_code in (200, 422), r.text


@pytest.mark.parametrize(
    "argv",
    [
        ["--k", "0"],
        ["--k", "-1"],
        ["--k", "1000000000"],
        ["--doc", ""],
        ["--doc", "../../etc/passwd"],
        ["--doc", "\x00"],
        ["--retriever", "nope"],
        ["--history", "\x00" * 10],
    ],
)
def test_hostile_cli_options(pristine, capsys, argv):
    code, out, err = cli(capsys, "ask", "apple orchards?", "--index", str(pristine["index"]), *argv)
    assert code in (0, 2), err
    assert (code == 0) == (err == ""), err


def test_lone_surrogates_are_refused_by_the_api(api):
    for body in (
        {"question": "apples \ud800?"},
        {"question": "apples?", "history": ["\udcff"]},
        {"question": "apples?", "docs": ["\udfff"]},
        {"question": "apples?", "history": [{"role": "user", "content": "\ud83d"}]},
    ):
        raw = json.dumps(body).encode()  # valid JSON: "\ud800" escapes
        r = api.post("/api/ask", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "lone surrogate" in r.json()["detail"], r.text


def test_answer_validate_refuses_lone_surrogates():
    from qa.answer import validate

    try:
        q = validate("apples \udcff?")
    except UsageError:
        return
    q.encode("utf-8")


# ---------------------------------------------------------------- API fuzzing from the OpenAPI schema


def _fuzz_api(api, n: int, record=None) -> dict[str, dict[int, int]]:
    spec = api.get("/openapi.json").json()
    ops = fuzz.operations(spec)
    assert {p for _, p, _ in ops} >= {"/api/ask", "/api/status", "/api/documents", "/view/{doc_id}"}
    doc_ids = sorted(api.service.index.documents)
    seen: dict[str, dict[int, int]] = {}
    requests = st.sampled_from(ops).flatmap(lambda o: fuzz.request_for(*o, spec, doc_ids))

    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(req=requests)
    def run(req):
        route = req.pop("route")
        r = api.request(**{k: v for k, v in req.items() if v is not None})
        seen.setdefault(route, {})
        seen[route][r.status_code] = seen[route].get(r.status_code, 0) + 1
        assert r.status_code < 500, (req, r.status_code, r.text[:500])
        if r.headers.get("content-type", "").startswith("application/json"):
            r.json()

    run()
    return seen


def test_api_fuzzing_from_the_openapi_schema_never_gives_a_500(api, record):
    seen = _fuzz_api(api, 300)
    total = sum(sum(v.values()) for v in seen.values())
    record.area = "API fuzzing (quick)"
    record.inputs = f"{total} generated requests over {len(seen)} routes"
    record.outcome = "no 5xx"


# ---------------------------------------------------------------- path traversal


def raw_get(app, raw_path: bytes) -> tuple[int, bytes]:
    """GET exactly these bytes, as uvicorn hands them to the app (no client normalises ../ away)."""
    from urllib.parse import unquote

    raw, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw.decode("latin-1")),
        "raw_path": raw,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    out: list[dict] = []
    asked = False
    done = asyncio.Event()

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # a streaming response listens for the client leaving: only once it is sent
        return {"type": "http.disconnect"}

    async def send(message):
        out.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in out if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")


@pytest.fixture
def traversal_target(tmp_path):
    """A service over a corpus with an outside secret reachable by every trick: symlinked file and folder
    (refused at indexing), and an indexed file and folder swapped for links to it after indexing."""
    from qa.server import create_app
    from qa.service import Service

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(hostile.SECRET + "\n")
    (outside / "apples.txt").write_text(hostile.SECRET + " apples\n")
    corpus = write_docs(
        tmp_path / "corpus",
        {
            "good.txt": "Owls hunt at night.\n",
            "fruit/apples.txt": "Apples grow in orchards.\n",
            "swapped.txt": "Swapped later for a link.\n",
        },
    )
    (corpus / "links").mkdir()
    (corpus / "links" / "leak.txt").symlink_to(outside / "secret.txt")
    (corpus / "outside-dir").symlink_to(outside, target_is_directory=True)
    build(corpus, tmp_path / "index")
    (corpus / "swapped.txt").unlink()
    (corpus / "swapped.txt").symlink_to(outside / "secret.txt")
    shutil.rmtree(corpus / "fruit")
    (corpus / "fruit").symlink_to(outside, target_is_directory=True)
    service = Service(Settings(model=FAKE, corpus=corpus, index=tmp_path / "index"))
    return create_app(service, ui=False), corpus


ROUTES = ("/api/documents/{}/file", "/api/documents/{}/pages/1", "/view/{}?page=1")


INDEXED = ("good.txt", "fruit/apples.txt", "swapped.txt")  # the last two were swapped for links to the secret


def _probe_traversal(app, corpus: Path, doc: str) -> list[int]:
    rec = recorder()
    codes = []
    for route in ROUTES:
        rec.paths.clear()
        rec.on = True
        try:
            code, body = raw_get(app, route.format(fuzz.url_piece(doc)).encode("latin-1", "replace"))
        finally:
            rec.on = False
        assert hostile.SECRET.encode() not in body, (route, doc)
        assert code in (200, 307, 404, 405, 422), (route, doc, code)
        assert rec.outside(corpus) == [], (route, doc, rec.outside(corpus))
        codes.append(code)
    return codes


@pytest.mark.parametrize(
    "doc",
    [
        "swapped.txt",
        "fruit/apples.txt",
        "links/leak.txt",
        "outside-dir/secret.txt",
        "%2e%2e/outside/secret.txt",
        "%252e%252e/outside/secret.txt",
        "..%2foutside%2fsecret.txt",
        "%c0%ae%c0%ae/outside/secret.txt",
        "\uff0e\uff0e/outside/secret.txt",
        "good.txt/../../outside/secret.txt",
        "good.txt%00.pdf",
        "/%2e%2e/outside/secret.txt",
        "....//outside/secret.txt",
        "good.txt;/../../outside/secret.txt",
    ],
)
def test_traversal_reads_nothing_outside_the_corpus(traversal_target, doc):
    app, corpus = traversal_target
    # the original file only from inside the corpus; the indexed page text (stored in the index) is fine
    assert _probe_traversal(app, corpus, doc) == ([404, 200, 200] if doc in INDEXED else [404, 404, 404])
    assert _probe_traversal(app, corpus, "good.txt") == [200, 200, 200]


def _fuzz_traversal(app, corpus: Path, examples: int) -> int:
    """Probe every route with generated ids; only the indexed documents are served. Returns ids tried."""
    tried = 0

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(doc=fuzz.traversal_ids(["good.txt", "swapped.txt", "fruit/apples.txt", "links/leak.txt"]))
    def run(doc):
        nonlocal tried
        codes = _probe_traversal(app, corpus, doc)
        tried += 1
        assert codes[0] != 200 or doc == "good.txt", doc
        assert 200 not in codes or doc in INDEXED, doc

    run()
    return tried


def test_traversal_fuzzing(traversal_target, record):
    tried = _fuzz_traversal(*traversal_target, examples=300)
    record.area = "Path traversal fuzzing (quick)"
    record.inputs = f"{tried} generated ids × file, page and viewer routes"
    record.outcome = "only good.txt served; no open() outside the corpus"


# ---------------------------------------------------------------- request bodies refused early


def asgi_post(
    app, path: str, head: bytes, total: int, declared: bool, content_type: bytes
) -> tuple[int, int, bytes]:
    """POST a body of ``total`` bytes in 64 KiB pieces; returns (bytes the app pulled, status, body)."""
    pulled = 0
    done = asyncio.Event()

    async def receive():
        nonlocal pulled
        if pulled == 0:
            pulled = len(head)
            return {"type": "http.request", "body": head, "more_body": True}
        if pulled >= total:
            await done.wait()
            return {"type": "http.disconnect"}
        n = min(1 << 16, total - pulled)
        pulled += n
        return {"type": "http.request", "body": b"a" * n, "more_body": pulled < total}

    out: list[dict] = []

    async def send(message):
        out.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    headers = [(b"content-type", content_type), (b"host", b"testserver")]
    if declared:
        headers.append((b"content-length", str(total).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in out if m["type"] == "http.response.start")
    return pulled, status, b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")


UPLOAD_HEAD = (
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_upload_is_refused_without_reading_it(fake_service, declared, record):
    from qa.request_limits import MULTIPART_SLACK
    from qa.server import create_app

    app = create_app(fake_service, ui=False)
    before = sorted(p.name for p in fake_service.corpus.rglob("*"))
    cap = fake_service.max_upload
    pulled, code, body = asgi_post(
        app, "/api/documents", UPLOAD_HEAD, 200 * cap, declared, b"multipart/form-data; boundary=XyZ"
    )
    assert code == 413 and b"too large" in body
    assert pulled <= (0 if declared else cap + MULTIPART_SLACK + (1 << 16)), pulled
    assert sorted(p.name for p in fake_service.corpus.rglob("*")) == before
    pulled, code, _ = asgi_post(app, "/api/ask", b'{"question": "', 50 << 20, declared, b"application/json")
    assert code == 413 and pulled <= (0 if declared else (1 << 20) + (1 << 16)), pulled
    record.area = "Huge request bodies"
    record.inputs = f"{200 * cap >> 20} MB upload and 50 MB question, with and without Content-Length"
    record.outcome = f"413; at most {pulled >> 10} KiB read"


def test_an_upload_just_under_the_cap_still_works(api):
    api.service.max_upload = 4096
    text = ("Herons wade in shallow water and spear fish. " * 90)[:4000].encode()
    r = api.post("/api/documents", files={"file": ("herons.txt", text, "text/plain")})
    assert r.status_code == 201, r.text
    r = api.post("/api/documents", files={"file": ("big.txt", text * 2, "text/plain")})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_disk_full_during_an_upload_is_a_clear_507_and_changes_nothing(api, monkeypatch):
    before_files = sorted(p.relative_to(api.service.corpus).as_posix() for p in api.service.corpus.rglob("*"))
    before = answers(api.service.settings.index)
    old = api.service.index
    faults.fail_writing(monkeypatch, "vectors.npy")
    r = api.post("/api/documents", files={"file": ("herons.txt", b"Herons wade and fish.\n", "text/plain")})
    monkeypatch.undo()
    assert r.status_code == 507, r.text
    assert "No space left on device" in r.json()["detail"] and "unchanged" in r.json()["detail"]
    assert api.service.index is old
    after_files = sorted(p.relative_to(api.service.corpus).as_posix() for p in api.service.corpus.rglob("*"))
    assert [f for f in after_files if not f.startswith("uploads")] == before_files
    assert not list((api.service.corpus / "uploads").iterdir())
    assert answers(api.service.settings.index) == before


def test_every_odd_name_is_served_by_its_routes(tmp_path):
    """Spaces, unicode, dashes, "%", "#", "?", backslashes: an indexed document is reachable by its links.

    Sent as raw bytes: Starlette's TestClient decodes a path twice ("%252e" arrives as ".")."""
    from qa.links import doc_links
    from qa.server import create_app
    from qa.service import Service

    names = [
        "name with spaces.txt",
        "ünïcødé 名前.txt",
        "-leading.txt",
        "a..b.txt",
        "per%2e%2ecent.txt",
        "hash #1.txt",
        "what?.txt",
        "back\\slash.txt",
        "semi;colon.txt",
    ]
    corpus = write_docs(
        tmp_path / "corpus", {n: f"Document {i} about herons.\n" for i, n in enumerate(names)}
    )
    build(corpus, tmp_path / "index")
    app = create_app(Service(Settings(model=FAKE, corpus=corpus, index=tmp_path / "index")), ui=False)
    for n in names:
        links = doc_links(n, "text")
        assert raw_get(app, links["file"].encode()) == (200, (corpus / n).read_bytes()), n
        assert raw_get(app, links["view"].split("#")[0].encode())[0] == 200, n
        code, body = raw_get(app, links["file"].replace("/file", "/pages/1").encode())
        assert code == 200 and json.loads(body)["doc"] == n


def test_a_document_named_with_a_backslash_can_be_chosen(tmp_path, capsys):
    corpus = write_docs(tmp_path / "corpus", {"back\\slash.txt": "Pangolins.\n", "other.txt": "Owls.\n"})
    build(corpus, tmp_path / "index")
    assert load_index(tmp_path / "index").resolve_docs(["back\\slash.txt"]) == ["back\\slash.txt"]


# ---------------------------------------------------------------- normaliser, splitter, chunker fuzzing


def _normalise_properties(raw: str) -> str:
    text = normalise(raw)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\u200c\u200d\u2060\ufeff]", text), text
    assert "  " not in text and "\n\n\n" not in text and "\r" not in text
    assert text == text.strip(" \n")
    return text


def _sentence_properties(text: str) -> None:
    prev = 0
    spans = split_sentences(text)
    for a, b in spans:
        assert prev <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        prev = b
    assert "".join("".join(text[a:b].split()) for a, b in spans) == "".join(text.split()), "text lost"


def _chunk_properties(raws: list[str], raw: bool, max_tokens: int) -> None:
    pages = [page_of(r, page=i + 1, raw=raw) for i, r in enumerate(raws)]
    chunks = chunk_document(pages, "T", max_tokens=max_tokens, max_chars=300)
    check_invariants(pages, chunks)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(raw=fuzz.nasty_text)
def test_normaliser_fuzz(raw):
    _sentence_properties(_normalise_properties(raw))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    raws=st.lists(fuzz.nasty_text, min_size=1, max_size=3),
    raw=st.booleans(),
    max_tokens=st.sampled_from([8, 40, 200]),
)
@example(raws=["x" * 5000], raw=False, max_tokens=200)
@example(raws=["\f\f\v\x85\u2028 a\u0301 \ufeff"], raw=True, max_tokens=8)
def test_chunker_fuzz_offsets_slice_back_and_nothing_is_lost(raws, raw, max_tokens):
    _chunk_properties(raws, raw, max_tokens)


def test_a_token_longer_than_a_chunk_is_cut():
    page = page_of("Axolotl " + "x" * 5000, raw=True)
    chunks = chunk_document([page], max_chars=900)
    check_invariants([page], chunks)
    assert max(c.end - c.start for c in chunks) <= 900


# ================================================================ LONG: hostile corpus at scale


@LONG
def test_long_hostile_corpus_through_the_real_cli_memory_bounded(tmp_path, make_pdf, record):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    expects = hostile.make_hostile_corpus(corpus, tmp_path / "outside", make_pdf, "long")
    run = faults.run_measured(
        faults.qa_command("index", "--corpus", str(corpus), "--index", str(index), "--model", FAKE, "--json")
    )
    assert run["rc"] == 0 and "Traceback" not in run["stderr"], run["stderr"][-3000:]
    report = json.loads(run["stdout"])
    counts = check_fates(index, expects)
    assert len(report["skipped"]) == counts["skipped"]
    check_good_files_answer(index, expects)
    assert run["peak_rss_mb"] < 2048, run["peak_rss_mb"]
    again = faults.run_measured(
        faults.qa_command("index", "--corpus", str(corpus), "--index", str(index), "--model", FAKE, "--json")
    )
    assert again["rc"] == 0 and json.loads(again["stdout"])["updated"] is False
    human = faults.run_qa("status", "--index", str(index), "--corpus", str(corpus), "--model", FAKE)
    assert human.returncode == 0 and "up to date" in human.stdout, human.stdout + human.stderr
    record.area = "Hostile corpus at scale (`qa index` subprocess)"
    record.inputs = (
        f"{len(expects)} files incl. 300 MB sparse text, 3000-page blank PDF, 2 GiB deflate bomb, "
        "5 M-char line and token, 200 k form feeds"
    )
    record.outcome = (
        f"{counts['ok']} read, {counts['skipped']} skipped with reasons; peak RSS "
        f"{run['peak_rss_mb']:.0f} MB < 2 GB; rebuild up to date"
    )
    record.notes += [
        f"build {run['seconds']} s, peak RSS {run['peak_rss_mb']:.0f} MB",
        f"second run {again['seconds']} s (up to date)",
    ]
    record.notes += [f"{s['path']}: {s['reason']}" for s in report["skipped"]]


_READ_ALL = r"""
import json, sys
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.build import build_index
from qa.index import status
def rchar():
    return int(dict(l.split(": ") for l in open("/proc/self/io").read().splitlines())["rchar"])
corpus, index = sys.argv[1:3]
r0 = rchar()
build_index(corpus, index, Settings(model="fake:bow-64"), embedder=FakeEmbedder())
r1 = rchar()
status(index, corpus, Settings(model="fake:bow-64"))
print(json.dumps({"build_mb": (r1 - r0) / 2**20, "status_mb": (rchar() - r1) / 2**20}))
"""


@LONG
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs /proc/self/io")
def test_long_a_file_over_the_cap_is_not_read(tmp_path, record):
    corpus = write_docs(tmp_path / "corpus", {"good.txt": "Owls hunt at night.\n"})
    with open(corpus / "big.txt", "wb") as f:
        f.truncate(300 << 20)
    out = subprocess.run(
        [sys.executable, "-c", _READ_ALL, str(corpus), str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = json.loads(out.stdout)
    record.area = "File over the cap"
    record.inputs = f"300 MB sparse text file, default text cap ({Settings().max_text_bytes >> 20} MiB)"
    record.outcome = f"build read {got['build_mb']:.0f} MB, status read {got['status_mb']:.0f} MB"
    assert got["build_mb"] < 50 and got["status_mb"] < 50, got


_TEXT_RSS = r"""
import json, sys
from pathlib import Path
from qa.config import Settings
from qa.embed import get_embedder
from qa.build import build_index
def hwm():  # this process image's peak RSS in MB (ru_maxrss would carry the parent's over exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
corpus, index, mb, para = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
corpus.mkdir()
with open(corpus / "text.txt", "w") as f:
    for i in range(mb * 2**20 // (len(para) + 6)):
        f.write(f"{i}. " + para)
real = get_embedder(Settings().model)  # the default model's weights are part of a real build's memory
base = hwm()
fake = get_embedder(f"fake:bow-{real.dim}")  # its vectors are as big; embedding is fast
build_index(corpus, index, Settings(model=fake.model_id), embedder=fake)
print(json.dumps({"base": base, "peak": hwm(), "cap_mb": Settings().max_text_bytes / 2**20}))
"""


TEXT_SHAPES = {
    "prose": (
        "The committee reviewed the annual budget of the regional water authority. It recommended new "
        "pumps for the northern district, and a study of groundwater levels. Members asked for quarterly "
        "reports on spending.\n\n"
    ),
    # with the line number ("12. ") a sentence of its own: a stored vector every ~15 characters
    "short sentences": "The cat sat on the mat.\n",
}


@LONG
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc/self/status")
@pytest.mark.parametrize("shape", list(TEXT_SHAPES))
def test_long_memory_stays_bounded_for_a_text_file_at_the_cap(shape, tmp_path, record):
    mb = 12
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _TEXT_RSS,
            str(tmp_path / "c"),
            str(tmp_path / "i"),
            str(mb),
            TEXT_SHAPES[shape],
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    got = json.loads(out.stdout)
    per_mb = (got["peak"] - got["base"]) / mb
    projected = got["peak"] + per_mb * (got["cap_mb"] - mb)
    record.area = f"Memory of one text file at the cap ({shape})"
    record.inputs = (
        f"{mb} MB of {shape} (default model loaded, vectors of its dimension), "
        f"projected linearly to the {got['cap_mb']:.0f} MB text cap"
    )
    record.outcome = (
        f"{per_mb:.1f} MB RSS per MB of text over a {got['base']:.0f} MB base; "
        f"projected {projected / 1024:.2f} GB at the cap"
    )
    assert projected < 2048, got


# ================================================================ LONG: kill -9 loop on the real CLI


def _loop_corpus(root: Path, rng: random.Random, n: int) -> None:
    words = [
        f"{a}{b}"
        for a in ("ka", "lo", "mi", "nu", "pe", "ro", "si", "tu")
        for b in ("ba", "de", "fi", "go", "hu", "jy", "ko", "lu")
    ]
    for i in range(n):
        sentences = [" ".join(rng.choice(words) for _ in range(12)).capitalize() + "." for _ in range(40)]
        (root / f"d{i:04d}.txt").write_text(
            f"Document {i}\n\n" + " ".join(sentences) + "\n", encoding="utf-8"
        )


def _mutate(root: Path, rng: random.Random, it: int) -> None:
    files = sorted(root.glob("*.txt"))
    for f in rng.sample(files, 3):
        f.write_text(f.read_text() + f" Marker zq{it}x{f.stem} appears here.\n", encoding="utf-8")
    rng.choice(files).unlink()
    (root / f"new{it:03d}.txt").write_text(f"New file zq{it}new about lighthouse number {it}.\n")


def _build_tmp(index: Path, pid: int) -> Path:
    """The folder a build writes into, made when embedding starts (sentence vectors stream into it)."""
    return index.parent / f".{index.name}.tmp-{pid}"


def _stage(index: Path, pid: int, proc) -> str:
    if (index.parent / f".{index.name}.old-{pid}").exists():
        return "swapping"
    tmp = _build_tmp(index, pid)
    if tmp.exists():
        return "writing" if (tmp / "pages.jsonl").exists() else "embedding"
    return "finished" if proc.poll() is not None else "reading"


@LONG
def test_long_kill_9_loop_never_loses_the_index(tmp_path, record):
    """`qa index` (updates and full rebuilds) killed at random moments and inside its write, in a loop."""
    rng = random.Random(8)
    corpus, index, scratch = tmp_path / "corpus", tmp_path / "index", tmp_path / "scratch"
    corpus.mkdir()
    _loop_corpus(corpus, rng, 900)
    update = faults.qa_command(
        "index", "--corpus", str(corpus), "--index", str(index), "--model", FAKE, "--quiet"
    )
    rebuild = [*update, "--rebuild"]
    took = {}
    for name, cmd in (("rebuild", rebuild), ("update", update)):
        t = time.monotonic()
        subprocess.run(cmd, check=True, timeout=600)
        took[name] = time.monotonic() - t
    old = answers(index)
    stages: dict[str, int] = {}
    iterations = 16
    for it in range(iterations):
        _mutate(corpus, rng, it)
        shutil.rmtree(scratch, ignore_errors=True)
        build_index(corpus, scratch, Settings(model=FAKE), embedder=FakeEmbedder(), rebuild=True)
        new = answers(scratch)
        kind = "rebuild" if it % 2 else "update"
        proc = subprocess.Popen(rebuild if kind == "rebuild" else update)
        if it % 4 == 3:  # wait for the write to start, then kill inside it
            while proc.poll() is None and not (_build_tmp(index, proc.pid) / "pages.jsonl").exists():
                time.sleep(0.002)
        else:
            time.sleep(rng.uniform(0.02, 0.95) * took[kind])
        stage = f"{kind} {_stage(index, proc.pid, proc)}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        stages[stage] = stages.get(stage, 0) + 1
        now = answers(index)  # the index loads (load_index recovers a half swap) ...
        assert now in (old, new), f"iteration {it}: killed during {stage}, the index answers neither way"
        t = time.monotonic()
        subprocess.run(update, check=True, timeout=600)  # ... and the next run completes
        took["update"] = max(took["update"], time.monotonic() - t)
        assert answers(index) == new
        assert not [p for p in leftovers(index) if ".tmp-" in p], leftovers(index)
        old = new
    record.area = "kill -9 of `qa index` (update and --rebuild)"
    record.inputs = f"900-file corpus, {iterations} rounds of edits, adds and deletes"
    record.faults = f"{iterations} SIGKILLs: " + ", ".join(f"{v} {k}" for k, v in sorted(stages.items()))
    record.outcome = (
        "the index loads and answers as before (or as the finished build); the next run completes"
    )
    record.notes.append(
        f"a rebuild takes {took['rebuild']:.1f} s, an update up to {took['update']:.1f} s; kills at random "
        "moments of each and inside the write"
    )


# ================================================================ LONG: damaged index, real commands


@LONG
def test_long_damaged_index_through_qa_subprocesses(pristine, tmp_path, record):
    """Every file × every fault, through `qa ask`, `qa status` and `qa serve` as a user runs them."""
    outcomes: dict[str, int] = {}
    gaps = set()
    for rel in INDEX_FILES:
        for fault in FAULTS:
            index = tmp_path / f"{rel.replace('/', '-')}-{fault}" / "index"
            shutil.copytree(pristine["index"], index)
            corrupt(index, rel, fault, swap=pristine["swap"], twin=pristine["twin"])
            ask = faults.run_qa("ask", faults.QUERIES[0], "--index", str(index), "--json")
            stat = faults.run_qa("status", "--index", str(index), "--corpus", str(pristine["corpus"]))
            foreign = (
                fault in ("swap", "twin")
                and (index / rel).read_bytes() != (pristine["index"] / rel).read_bytes()
            )
            if ask.returncode == 0:
                same = json.loads(ask.stdout) == pristine["answers"]["answers"][faults.QUERIES[0]]
                outcome = (
                    "same answers"
                    if same and not foreign and answers(index) == pristine["answers"]
                    else "GAP"
                )
            elif ask.returncode == 2 and "qa index" in ask.stderr and "Traceback" not in ask.stderr:
                serve = faults.run_qa(
                    "serve",
                    "--port",
                    str(free_port()),
                    "--index",
                    str(index),
                    "--corpus",
                    str(pristine["corpus"]),
                    timeout=120,
                )
                assert serve.returncode == 2 and "qa index" in serve.stderr, (rel, fault, serve.stderr)
                assert "Traceback" not in serve.stderr + stat.stderr, (rel, fault)
                outcome = "clear error"
            else:
                outcome = "GAP"
            if outcome == "GAP":
                gaps.add((rel, fault))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    record.area = "Damaged index via `qa ask` / `qa status` / `qa serve` subprocesses"
    record.inputs = f"{len(INDEX_FILES)} index files"
    record.faults = f"{len(INDEX_FILES) * len(FAULTS)}: " + ", ".join(FAULTS)
    record.outcome = ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items()))
    record.lost = "nothing (the command the message names rebuilds it)"
    record.notes += [f"gap: {r} {f}" for r, f in sorted(gaps)]
    assert not gaps, f"loaded a damaged index, or crashed on it: {sorted(gaps)}"


# ================================================================ LONG: a really full disk


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@LONG
def test_long_real_disk_full_keeps_the_old_index(tmp_path, pristine, record):
    mnt = tmp_path / "small-disk"
    corpus = tmp_path / "corpus"
    shutil.copytree(pristine["corpus"], corpus)
    if not _mount_tmpfs(mnt, "160k"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the patched-writer tests still run")
    try:
        index = mnt / "index"
        cmd = faults.qa_command("index", "--corpus", str(corpus), "--index", str(index), "--model", FAKE)
        assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
        before = answers(index)
        rng = random.Random(3)
        _loop_corpus(corpus, rng, 40)  # an index that cannot fit next to the old one
        full = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert full.returncode == 1 and "No space left on device" in full.stderr, full.stderr
        assert "Traceback" not in full.stderr and full.stderr.count("\n") == 1
        assert answers(index) == before and leftovers(index) == []
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        ok = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert ok.returncode == 0, ok.stderr
        assert len(load_index(index).documents) == 45
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    record.area = "Disk full (real 160 KB tmpfs)"
    record.inputs = "update adding 40 files to an index on a full tmpfs"
    record.faults = "ENOSPC from the kernel mid-write"
    record.outcome = f"exit 1, `{full.stderr.strip()[:90]}…`; old index answers as before; next run completes"


# ================================================================ LONG: real model, real server


@pytest.fixture(scope="module")
def real_server(real_index_path, tmp_path_factory):
    """`qa serve` (uvicorn, the chat mounted) over the session's real index and the shipped corpus."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with qa_server(real_index_path, CORPUS, log) as url:
        yield url


@LONG
def test_long_hostile_questions_on_the_real_model(real_index_path, real_server, record):
    import httpx

    codes: dict[int, int] = {}
    for q in fuzz.HOSTILE_QUESTIONS:
        r = httpx.post(f"{real_server}/api/ask", json={"question": q}, timeout=120)
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        assert r.status_code in (200, 422), (q[:50], r.status_code, r.text[:300])
    for q in (
        "What\x1b[31m is\x9b the market?",
        "\u202eAI market in India?",
        "インドのAI市場は？",
        "x" * 100_000,
    ):
        p = faults.run_qa("ask", q, "--index", str(real_index_path), timeout=300)
        assert p.returncode in (0, 2) and "Traceback" not in p.stderr, p.stderr[-2000:]
    record.area = "Hostile questions, real model (API + `qa ask`)"
    record.inputs = f"{len(fuzz.HOSTILE_QUESTIONS)} questions over HTTP, 4 through the CLI subprocess"
    record.outcome = ", ".join(f"{v}× {k}" for k, v in sorted(codes.items())) + "; no 500, no traceback"


@LONG
def test_long_a_question_that_is_not_utf8_is_refused_by_the_cli(real_index_path):
    p = subprocess.run(
        [*faults.qa_command("ask"), os.fsdecode(b"apples \xff?"), "--index", str(real_index_path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )
    assert "Traceback" not in p.stderr and p.returncode == 2, p.stderr[-1500:]


def _same(a, b) -> bool:
    """JSON-equal, floats to 1e-5 (a query embedded on another thread may differ in the last bit)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-5 * max(1, abs(a))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _questions(n: int) -> list[str]:
    dev = REPO / "eval" / "brief_dev.jsonl"
    qs = (
        [json.loads(line)["question"] for line in dev.read_text().splitlines() if line.strip()]
        if dev.is_file()
        else []
    )
    qs = qs or [
        "What has Microsoft launched across Indian states?",
        "What size is India's AI market by 2027?",
        "What is the annual budget of Japan's Digital Agency?",
    ]
    return (qs * n)[:n]


def _concurrent(url: str, questions: list[str], during=None) -> tuple[list, list[float]]:
    import httpx

    barrier = threading.Barrier(len(questions) + (1 if during else 0))

    def ask(q):
        with httpx.Client(timeout=300) as c:
            barrier.wait()
            t = time.monotonic()
            r = c.post(f"{url}/api/ask", json={"question": q})
            return r, time.monotonic() - t

    with ThreadPoolExecutor(len(questions) + 1) as pool:
        futures = [pool.submit(ask, q) for q in questions]
        if during:
            barrier.wait()
            during()
        results = [f.result() for f in futures]
    return [r for r, _ in results], [t for _, t in results]


@LONG
def test_long_50_concurrent_asks_equal_serial_answers(real_server, record):
    import httpx

    questions = _questions(50)
    serial = [
        httpx.post(f"{real_server}/api/ask", json={"question": q}, timeout=300).json() for q in questions
    ]
    responses, latencies = _concurrent(real_server, questions)
    assert [r.status_code for r in responses] == [200] * 50
    assert all(_same(r.json(), s) for r, s in zip(responses, serial, strict=True))
    lat = sorted(latencies)
    p50, p95 = lat[len(lat) // 2], lat[int(0.95 * (len(lat) - 1))]
    record.area = "Load: 50 concurrent POST /api/ask (real uvicorn, real model)"
    record.inputs = f"50 questions ({len(set(questions))} distinct) at once"
    record.outcome = f"50/50 OK, identical to serial; p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    record.notes.append(f"latencies (s): max {lat[-1]:.2f}, p95 {p95:.2f}, p50 {p50:.2f}, min {lat[0]:.2f}")


@LONG
def test_long_upload_while_answering_switches_cleanly(real_index_path, tmp_path, record):
    """Ten clients keep asking while a file is uploaded: every answer is the old index's or the new one's,
    and once a client has had an answer from the new index it never gets one from the old again."""
    import httpx

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_index_path, index)
    zq = "How many blue widgets does Zorblatt make a month?"
    questions = [zq, *_questions(4)]
    zorblatt = b"Zorblatt Widgets Report\n\nThe Zorblatt company makes 4,200 blue widgets a month in Pune.\n"
    with qa_server(index, corpus, tmp_path / "serve.log") as url:

        def ask(c, q):
            r = c.post(f"{url}/api/ask", json={"question": q})
            assert r.status_code == 200, r.text
            return r.json()

        with httpx.Client(timeout=300) as c:
            before = {q: ask(c, q) for q in questions}
        uploaded = threading.Event()

        def client(k: int) -> list[tuple[str, dict]]:
            got, extra = [], 2
            with httpx.Client(timeout=300) as c:
                i = k
                while not uploaded.is_set() or extra:
                    extra -= uploaded.is_set()
                    q = questions[i % len(questions)]
                    got.append((q, ask(c, q)))
                    i += 1
            return got

        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(client, k) for k in range(10)]
            time.sleep(1.0)
            up = httpx.post(
                f"{url}/api/documents", timeout=600, files={"file": ("zorblatt.txt", zorblatt, "text/plain")}
            )
            uploaded.set()
            streams = [f.result() for f in futures]
        with httpx.Client(timeout=300) as c:
            after = {q: ask(c, q) for q in questions}
    assert up.status_code == 201, up.text
    assert before[zq]["abstained"] and "4,200 blue widgets" in after[zq]["answer"]
    counts = {"old": 0, "new": 0, "either": 0}
    for stream in streams:
        seen_new = False
        for q, got in stream:
            old, new = _same(got, before[q]), _same(got, after[q])
            assert old or new, f"an answer from neither index: {q}"
            kind = "either" if old and new else "old" if old else "new"
            counts[kind] += 1
            assert not (seen_new and kind == "old"), "a client went back to the old index after the swap"
            seen_new = seen_new or kind == "new"
    assert counts["old"] and counts["new"], counts
    n = sum(len(x) for x in streams)
    record.area = "Upload while questions are answered (real server)"
    record.inputs = f"10 clients, {n} questions during one upload (re-index and swap)"
    record.outcome = (
        f"all 200; {counts['old']} from the old index, then {counts['new']} from the new "
        f"({counts['either']} the same in both); no client went back; the upload is answerable"
    )


def _stream_until_refused(host: str, port: int, declared: bool, limit: int = 2 << 30) -> tuple[int, bytes]:
    """POST an endless upload over a raw socket; (bytes sent before the server answered, status line)."""
    import select
    import socket as sk

    head = b"POST /api/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
    head += b"Content-Length: 10737418240\r\n\r\n" if declared else b"Transfer-Encoding: chunked\r\n\r\n"
    sent, reply, block = 0, b"", b"a" * (1 << 16)
    with sk.create_connection((host, port), timeout=30) as s:
        s.sendall(head)
        while sent < limit and b"\r\n" not in reply:
            if select.select([s], [], [], 0)[0]:
                reply += s.recv(65536)
                continue
            piece = UPLOAD_HEAD if sent == 0 else block
            try:
                s.sendall(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:  # the server closed the connection: read its answer
                with contextlib.suppress(OSError):
                    reply += s.recv(65536)
                break
            sent += len(piece)
    return sent, reply.split(b"\r\n", 1)[0]


@LONG
def test_long_huge_upload_to_the_real_server_is_cut_off_early(real_index_path, tmp_path, record):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_index_path, index)
    with qa_server(index, corpus, tmp_path / "serve.log", "--max-upload-mb", "1") as url:
        host, port = url.removeprefix("http://").split(":")
        results = {
            kind: _stream_until_refused(host, int(port), kind == "content-length")
            for kind in ("content-length", "chunked")
        }
    for kind, (sent, status_line) in results.items():
        assert b" 413 " in status_line, (kind, status_line)
        assert sent < (32 << 20), (kind, sent)  # cap 1 MB: cut off long before 2 GB (socket buffers aside)
    assert not (corpus / "uploads").exists() or not list((corpus / "uploads").iterdir())
    record.area = "Huge upload to a real server (1 MB cap)"
    record.inputs = "10 GB declared / endless chunked body over a raw socket"
    record.outcome = "; ".join(f"{k}: 413 after {v[0] / 2**20:.1f} MB sent" for k, v in results.items())


# ================================================================ LONG: long fuzzing


@LONG
def test_long_api_fuzzing(api, record):
    seen = _fuzz_api(api, 1500)
    total = sum(sum(v.values()) for v in seen.values())
    record.area = "API fuzzing from the OpenAPI schema"
    record.inputs = f"{total} generated requests over {len(seen)} routes (uploads included)"
    record.outcome = "no 5xx; " + "; ".join(
        f"{route}: " + ",".join(f"{c}×{n}" for c, n in sorted(codes.items()))
        for route, codes in sorted(seen.items())
    )


@LONG
def test_long_traversal_fuzzing(traversal_target, record):
    n = _fuzz_traversal(*traversal_target, examples=1500)
    record.area = "Path traversal fuzzing"
    record.inputs = f"{n} generated ids × 3 routes, raw bytes as uvicorn passes them"
    record.faults = "../, %2e, %252e, overlong UTF-8, fullwidth dots, NUL, absolute, symlinks swapped in"
    record.outcome = "only the real document is served; no open() outside the corpus; secret never sent"


@LONG
def test_long_text_pipeline_fuzzing(record):
    n = {"normalise": 0, "chunk": 0}

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(raw=fuzz.nasty_text)
    def norm(raw):
        _sentence_properties(_normalise_properties(raw))
        n["normalise"] += 1

    @settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        raws=st.lists(fuzz.nasty_text, min_size=1, max_size=3),
        raw=st.booleans(),
        max_tokens=st.sampled_from([8, 40, 200]),
    )
    def chunk(raws, raw, max_tokens):
        _chunk_properties(raws, raw, max_tokens)
        n["chunk"] += 1

    norm()
    chunk()
    record.area = "Normaliser, sentence splitter, chunker fuzzing"
    record.inputs = f"{n['normalise']} texts normalised and split, {n['chunk']} documents chunked"
    record.faults = (
        "C0/C1 controls, tabs, form feeds, CR, NEL, bidi, ZW, combining, NFKC-expanding, 4000-char tokens"
    )
    record.outcome = "offsets slice back exactly; no character lost or in two chunks; no control chars"


@LONG
def test_long_question_fuzzing(pristine, api, record):
    idx = load_index(pristine["index"])
    n = 0

    @settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(q=fuzz.questions, history=st.one_of(st.none(), st.lists(fuzz.questions, max_size=3)))
    def run(q, history):
        nonlocal n
        _ask_outcome(idx, q, history)
        r = api.post("/api/ask", json={"question": q, "history": history})
        assert r.status_code in (200, 422), r.text[:300]
        n += 1

    run()
    record.area = "Question fuzzing (index.ask + API)"
    record.inputs = f"{n} generated questions with histories"
    record.outcome = "answer, abstention or a clear 422; never a crash"
