"""The REST API (FastAPI TestClient over the real index), the upload path, `qa serve`, and the chat's HTML."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.config import Settings
from qa.server import create_app
from qa.service import Service
from qa.uploads import UploadRejected, check_content, sanitize_filename
from reliability.audit import recorder

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DEV = ROOT / "eval" / "brief_dev.jsonl"
BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
JAPAN_PDF = "related/japan-ai-strategy-2019.pdf"
NO_ANSWER = "The documents don't answer this question."
MICROSOFT = "What has Microsoft launched across Indian states?"
UNANSWERABLE = "Who won the football world cup in 1998?"  # outside the documents
ZORBLATT = (
    b"Zorblatt Widgets Report\n\n"
    b"The Zorblatt company produces 4,200 blue widgets every month at its plant in Pune.\n"
)

pytestmark = pytest.mark.slow


def _dev_questions(n: int = 20) -> list[str]:
    if DEV.is_file():
        rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
        qs = [r["question"] for r in rows]
    else:  # the same kind of questions, should the shared set be absent
        qs = [MICROSOFT, UNANSWERABLE]
    return (qs * n)[:n]


@pytest.fixture(scope="module")
def client(real_index_path, real_index):
    """Read-only API over the session's real index and the repository's corpus (no uploads here)."""
    from fastapi.testclient import TestClient

    service = Service(Settings(corpus=CORPUS, index=Path(real_index_path)), index=real_index)
    with TestClient(create_app(service, ui=True)) as c:
        yield c


@pytest.fixture
def tmp_service(tmp_path, real_index_path, real_index):
    """A service over a COPY of the corpus and index in tmp_path: uploads never touch the repository."""
    from qa.index import load_index

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_index_path, index)
    service = Service(
        Settings(corpus=corpus, index=index), index=load_index(index, embedder=real_index.embedder)
    )
    return service


@pytest.fixture
def tmp_client(tmp_service):
    from fastapi.testclient import TestClient

    with TestClient(create_app(tmp_service, ui=False)) as c:
        c.service = tmp_service
        yield c


def _same(a, b) -> bool:
    """Equal JSON, floats to 1e-5: a query embedded on another thread may differ in the last float32 bit."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and a == pytest.approx(b, rel=1e-5)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _files(corpus: Path) -> dict[str, bytes]:
    return {
        p.relative_to(corpus).as_posix(): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()
    }


# ---------------------------------------------------------------- POST /api/ask


def test_ask_returns_a_cited_verbatim_answer(client):
    r = client.post("/api/ask", json={"question": MICROSOFT})
    assert r.status_code == 200
    d = r.json()
    assert set(d) >= {"question", "answer", "abstained", "confidence", "highlights", "citations", "hits"}
    assert d["question"] == MICROSOFT
    assert not d["abstained"]
    assert "AI skilling initiatives" in d["answer"]
    cit = d["citations"][0]
    assert cit["doc"] == BRIEF and cit["n"] == 1 and cit["title"]
    page = client.get(f"/api/documents/{cit['doc']}/pages/{cit['page']}").json()
    assert page["text"][cit["start"] : cit["end"]] == cit["quote"]
    for h in d["highlights"]:
        assert page["text"][h["start"] : h["end"]] == h["text"]


def test_ask_same_json_as_in_process(client, real_index):
    d = client.post("/api/ask", json={"question": MICROSOFT, "k": 5}).json()
    assert _same(d, real_index.ask(MICROSOFT, k=5).to_dict())


def test_ask_abstains_on_an_unanswerable_question(client):
    d = client.post("/api/ask", json={"question": UNANSWERABLE}).json()
    assert d["abstained"] is True
    assert d["answer"] == ""
    assert d["message"] == NO_ANSWER
    assert d["citations"] == []


@pytest.mark.parametrize("question", ["", "   \n\t", "?!...", "x" * 2001])
def test_ask_invalid_question_is_422_with_a_message(client, question):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str)
    assert ("empty" in detail) if len(question) < 2001 else ("too long" in detail)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "question"),
        ({"question": MICROSOFT, "k": 0}, "k"),
        ({"question": MICROSOFT, "k": "many"}, "k"),
        ({"question": MICROSOFT, "docs": "brief"}, "docs"),
        ({"question": MICROSOFT, "history": "not a list"}, "history"),
    ],
)
def test_ask_invalid_body_is_422_naming_the_field(client, body, field):
    r = client.post("/api/ask", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("invalid request: ")
    assert field in r.json()["detail"]


def test_ask_not_json_is_422(client):
    r = client.post("/api/ask", content=b"question=hi", headers={"content-type": "text/plain"})
    assert r.status_code == 422


def test_ask_document_filter(client):
    d = client.post("/api/ask", json={"question": "What does AIforAll mean?", "docs": [NITI]}).json()
    assert d["hits"] and {h["doc"] for h in d["hits"]} == {NITI}
    assert all(c["doc"] == NITI for c in d["citations"])
    r = client.post("/api/ask", json={"question": MICROSOFT, "docs": ["no-such-document.txt"]})
    assert r.status_code == 422
    assert "unknown document" in r.json()["detail"]


def test_ask_follow_up_uses_history(client):
    first = "How much did the IndiaAI Mission receive in 2023-2024?"
    alone = client.post("/api/ask", json={"question": "And in 2024-2025?"}).json()
    follow = client.post(
        "/api/ask", json={"question": "And in 2024-2025?", "history": [{"question": first}]}
    ).json()
    assert "IndiaAI Mission" in follow["message"]
    assert "IndiaAI Mission" not in alone["message"]
    assert follow != alone


# ---------------------------------------------------------------- status, documents, pages, files


def test_status(client, real_index):
    d = client.get("/api/status").json()
    assert d["counts"] == real_index.manifest["counts"]
    assert d["model"]["id"] == real_index.manifest["model"]["id"]
    assert d["stale"] is False
    assert {x["path"] for x in d["documents"]} == set(real_index.documents)
    assert d["uploads"]["max_bytes"] > 0


def test_documents(client, real_index):
    docs = client.get("/api/documents").json()["documents"]
    assert [d["id"] for d in docs] == sorted(real_index.documents)
    by_id = {d["id"]: d for d in docs}
    assert by_id[JAPAN_PDF]["format"] == "pdf"
    assert by_id[JAPAN_PDF]["links"]["open"] == f"/view/{JAPAN_PDF}?page=1"
    assert by_id[JAPAN_PDF]["links"]["file"] == f"/api/documents/{JAPAN_PDF}/file#page=1"
    assert by_id[NITI]["links"]["open"] == f"/view/{NITI}?page=1"
    assert by_id[NITI]["pages"] == 115


def test_page_text_and_chunks(client, real_index):
    d = client.get(f"/api/documents/{NITI}/pages/5").json()
    page = real_index.pages[(NITI, 5)]
    assert d["text"] == page.text and d["page"] == 5 and d["doc"] == NITI
    assert d["chunks"], "page 5 of the NITI paper has text"
    for c in d["chunks"]:
        assert d["text"][c["start"] : c["end"]] == c["text"]
    want = [c.id for c in real_index.chunks if c.doc == NITI and c.page == 5]
    assert [c["id"] for c in d["chunks"]] == want


def test_pdf_page_has_its_printed_label(client, real_index):
    d = client.get(f"/api/documents/{JAPAN_PDF}/pages/19").json()
    assert d["label"] == real_index.pages[(JAPAN_PDF, 19)].label
    assert d["format"] == "pdf"


@pytest.mark.parametrize(
    "url",
    [
        "/api/documents/no-such.txt/pages/1",
        f"/api/documents/{NITI}/pages/0",
        f"/api/documents/{NITI}/pages/116",
        f"/api/documents/{BRIEF}/pages/2",
        "/api/documents/no-such.txt/file",
        "/api/documents/brief/file",
        "/view/no-such.txt?page=1",
        f"/view/{NITI}?page=999",
    ],
)
def test_unknown_document_or_page_is_404(client, url):
    assert client.get(url).status_code == 404


def test_non_numeric_page_is_422(client):
    assert client.get(f"/api/documents/{NITI}/pages/five").status_code == 422


def test_file_serves_the_original(client):
    r = client.get(f"/api/documents/{JAPAN_PDF}/file")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content == (CORPUS / JAPAN_PDF).read_bytes()
    r = client.get(f"/api/documents/{NITI}/file")
    assert r.status_code == 200 and r.content == (CORPUS / NITI).read_bytes()
    assert r.headers["content-type"].startswith("text/plain")
    assert "sandbox" in r.headers["content-security-policy"]


TRAVERSALS = [
    "../pyproject.toml",
    "%2e%2e/pyproject.toml",
    "%2e%2e%2fpyproject.toml",
    "%2E%2E/%2E%2E/etc/passwd",
    "brief/%2e%2e/%2e%2e/pyproject.toml",
    "..%5c..%5cpyproject.toml",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "%2F%2Fetc/passwd",
    str(ROOT / "pyproject.toml"),
    "%2e/brief/indo-japanese-collaboration-on-ai.txt",
    "brief//indo-japanese-collaboration-on-ai.txt",
    "corpus/brief/indo-japanese-collaboration-on-ai.txt",
    "brief/indo-japanese-collaboration-on-ai.txt%00.pdf",
]


_RECORDER = recorder()


@pytest.mark.parametrize("doc", TRAVERSALS)
@pytest.mark.parametrize("route", ["/api/documents/{}/file", "/api/documents/{}/pages/1", "/view/{}?page=1"])
def test_path_traversal_is_404_and_reads_nothing(client, doc, route):
    _RECORDER.paths.clear()
    _RECORDER.on = True
    try:
        r = client.get(route.format(doc))
    finally:
        _RECORDER.on = False
    assert r.status_code == 404
    assert "[tool" not in r.text and "root:" not in r.text
    real_corpus = CORPUS.resolve()
    outside = [p for p in _RECORDER.paths if not Path(p).resolve().is_relative_to(real_corpus)]
    # Python's own reads (module source for tracebacks, site-packages) are not the request reading a file.
    outside = [p for p in outside if not p.endswith((".py", ".pyc")) and "site-packages" not in p]
    assert outside == [], f"read outside the corpus: {outside}"
    assert not [p for p in _RECORDER.paths if Path(p).resolve().is_relative_to(real_corpus)]


def test_symlink_out_of_the_corpus_is_404(tmp_client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET outside the corpus\n")
    corpus = tmp_client.service.corpus
    victim = corpus / "related" / "japan-ai-technology-strategy-2017.txt"
    victim.unlink()
    victim.symlink_to(secret)
    r = tmp_client.get("/api/documents/related/japan-ai-technology-strategy-2017.txt/file")
    assert r.status_code == 404
    assert "TOP SECRET" not in r.text
    (corpus / "linked").symlink_to(tmp_path, target_is_directory=True)
    assert tmp_client.get("/api/documents/linked/secret.txt/file").status_code == 404
    # a link that stays inside the corpus is still served
    inner = corpus / "related" / "japan-ai-strategy-2019.pdf"
    shutil.move(inner, corpus / "moved.pdf")
    inner.symlink_to(corpus / "moved.pdf")
    r = tmp_client.get(f"/api/documents/{JAPAN_PDF}/file")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


# ---------------------------------------------------------------- page viewer


def test_viewer_marks_the_span_and_escapes_the_page(client, real_index):
    page = real_index.pages[(NITI, 5)]
    start = page.text.index("#AIforAll")
    end = start + len("#AIforAll")
    r = client.get(f"/view/{NITI}", params={"page": 5, "start": start, "end": end})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<mark id="hit">#AIforAll</mark>' in r.text
    assert "scrollIntoView" in r.text
    assert "script-src 'nonce-" in r.headers["content-security-policy"]
    r = client.get(f"/view/{NITI}", params={"page": 5, "start": -5, "end": 10**9})
    assert r.status_code == 200 and '<mark id="hit">' in r.text
    r = client.get(f"/view/{NITI}", params={"page": 5})
    assert "<mark" not in r.text


def test_viewer_of_a_pdf_shows_the_page_with_the_quote_highlighted(client, real_index):
    page = real_index.pages[(JAPAN_PDF, 19)]
    start = page.text.index("Responding to literacy education")
    r = client.get(f"/view/{JAPAN_PDF}", params={"page": 19, "start": start, "end": start + 60})
    assert r.status_code == 200
    assert "img-src 'self'" in r.headers["content-security-policy"]
    assert f'<img src="/api/documents/{JAPAN_PDF}/pages/19/image"' in r.text
    assert r.text.count('class="box"') >= 1 and 'id="hit"' in r.text
    assert "Highlighted on the page from its text layer." in r.text
    assert "page 19 (printed 15) of 74" in r.text
    assert f'href="/api/documents/{JAPAN_PDF}/file#page=19"' in r.text
    assert f"/view/{JAPAN_PDF}?page=18" in r.text and f"/view/{JAPAN_PDF}?page=20" in r.text
    plain = client.get(f"/view/{JAPAN_PDF}", params={"page": 19}).text
    assert 'class="box"' not in plain and "<img" in plain


def test_page_image_is_a_png_of_an_indexed_pdf_page(client):
    r = client.get(f"/api/documents/{JAPAN_PDF}/pages/19/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    for url in (
        f"/api/documents/{JAPAN_PDF}/pages/75/image",
        f"/api/documents/{JAPAN_PDF}/pages/0/image",
        f"/api/documents/{NITI}/pages/1/image",
        "/api/documents/../../etc/passwd/pages/1/image",
    ):
        assert client.get(url).status_code == 404, url


def test_uploaded_markup_is_shown_as_text(tmp_client):
    data = b"Markup test\n\nThe Quillfeather memo says <script>alert('x')</script> and <b>bold</b> words.\n"
    r = tmp_client.post("/api/documents", files={"file": ("markup.txt", data, "text/plain")})
    assert r.status_code == 201, r.text
    view = tmp_client.get("/view/uploads/markup.txt?page=1").text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in view
    assert "<script>alert" not in view and "<b>bold" not in view
    raw = tmp_client.get("/api/documents/uploads/markup.txt/file")
    assert raw.headers["content-type"].startswith("text/plain")


# ---------------------------------------------------------------- uploads


def test_upload_a_text_file_then_ask_about_it(tmp_client, tmp_path):
    repo_before = _files(CORPUS)
    before = tmp_client.post("/api/ask", json={"question": MICROSOFT}).json()
    r = tmp_client.post("/api/documents", files={"file": ("zorblatt report.txt", ZORBLATT, "text/plain")})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "added" and d["doc"] == "uploads/zorblatt-report.txt"
    assert d["pages"] == 1 and d["chunks"] >= 1
    assert (tmp_path / "corpus" / "uploads" / "zorblatt-report.txt").read_bytes() == ZORBLATT
    a = tmp_client.post(
        "/api/ask", json={"question": "How many blue widgets does Zorblatt produce every month?"}
    ).json()
    assert not a["abstained"]
    assert "4,200 blue widgets" in a["answer"]
    assert a["citations"][0]["doc"] == "uploads/zorblatt-report.txt"
    st = tmp_client.get("/api/status").json()
    assert st["counts"]["documents"] == 5 and st["stale"] is False
    assert "uploads/zorblatt-report.txt" in {
        x["id"] for x in tmp_client.get("/api/documents").json()["documents"]
    }
    after = tmp_client.post("/api/ask", json={"question": MICROSOFT}).json()
    assert after["answer"] == before["answer"]
    assert _files(CORPUS) == repo_before, "the repository's corpus must never change"


def test_upload_corrupt_pdf_is_rejected_and_changes_nothing(tmp_client, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    before = tmp_client.post("/api/ask", json={"question": MICROSOFT}).json()
    files, manifest = _files(corpus), (index / "manifest.json").read_bytes()
    old = tmp_client.service.index
    bad = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ngarbage without xref\n%%EOF\n"
    r = tmp_client.post("/api/documents", files={"file": ("report.pdf", bad, "application/pdf")})
    assert r.status_code == 422
    assert "corrupt or unreadable PDF" in r.json()["detail"]
    assert _files(corpus) == files
    assert (index / "manifest.json").read_bytes() == manifest
    assert tmp_client.service.index is old
    assert tmp_client.post("/api/ask", json={"question": MICROSOFT}).json() == before


@pytest.mark.parametrize(
    "name, data, status, words",
    [
        ("notes.exe", b"MZ\x90\x00", 415, "unsupported file type"),
        ("noext", b"hello there", 415, "unsupported file type"),
        ("fake.pdf", b"hello, I am not a PDF", 415, "not a PDF"),
        ("pdf-inside.txt", b"%PDF-1.4\n...", 415, "PDF data"),
        ("binary.txt", bytes(range(256)) * 64, 415, "not a text file"),
        ("page.html", b"just words, no markup at all", 415, "not HTML"),
        ("empty.md", b"  \n\n ", 422, "empty"),
        ("markup-only.html", b"<html><body><script>x()</script></body></html>", 422, "cannot read"),
    ],
)
def test_bad_uploads_are_rejected_with_the_reason(tmp_client, tmp_path, name, data, status, words):
    files = _files(tmp_path / "corpus")
    r = tmp_client.post("/api/documents", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert _files(tmp_path / "corpus") == files


def test_upload_size_cap(tmp_client, tmp_path):
    tmp_client.service.max_upload = 1000
    r = tmp_client.post("/api/documents", files={"file": ("big.txt", b"word " * 400, "text/plain")})
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]
    assert not (tmp_path / "corpus" / "uploads").exists()


def test_upload_without_a_file_is_422(tmp_client):
    assert tmp_client.post("/api/documents", data={"x": "y"}).status_code == 422


def test_upload_names_are_sanitised_and_never_overwrite(tmp_client, tmp_path):
    up = tmp_path / "corpus" / "uploads"
    r = tmp_client.post("/api/documents", files={"file": ("../../../evil name!.TXT", ZORBLATT, "text/plain")})
    assert r.status_code == 201 and r.json()["doc"] == "uploads/evil-name.txt"
    assert sorted(p.name for p in up.iterdir()) == ["evil-name.txt"]
    assert not (tmp_path / "evil name!.TXT").exists()
    r = tmp_client.post("/api/documents", files={"file": ("evil-name.txt", ZORBLATT, "text/plain")})
    assert r.status_code == 200 and r.json()["status"] == "unchanged"
    other = ZORBLATT.replace(b"4,200", b"5,300")
    r = tmp_client.post("/api/documents", files={"file": ("evil-name.txt", other, "text/plain")})
    assert r.status_code == 201 and r.json()["doc"] == "uploads/evil-name-2.txt"
    assert (up / "evil-name.txt").read_bytes() == ZORBLATT


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("report.pdf", "report.pdf"),
        ("..\\..\\windows\\x.md", "x.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("...txt", "upload.txt"),
        (".hidden.html", "hidden.html"),
        ("Ünïcode näme.HTM", "Unicode-name.htm"),
        ("a" * 300 + ".txt", "a" * 100 + ".txt"),
    ],
)
def test_sanitize_filename(raw, safe):
    assert sanitize_filename(raw) == safe


def test_check_content_accepts_good_files():
    check_content("a.pdf", b"%PDF-1.4\n...", 10**6)
    check_content("a.txt", "naïve café\n".encode("latin-1"), 10**6)
    check_content("a.md", b"# Title\n\ntext", 10**6)
    check_content("a.html", b"<!doctype html><p>hi</p>", 10**6)
    with pytest.raises(UploadRejected):
        check_content("a.txt", b"x" * 11, 10)


def test_upload_swaps_the_index_while_old_requests_finish(tmp_client):
    service = tmp_client.service
    old = service.index
    questions = _dev_questions(8)
    serial = [old.ask(q).answer for q in questions]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(tmp_client.post, "/api/ask", json={"question": q}) for q in questions]
        r = tmp_client.post("/api/documents", files={"file": ("z.txt", ZORBLATT, "text/plain")})
        results = [f.result() for f in futures]
    assert r.status_code == 201
    assert [x.status_code for x in results] == [200] * len(questions)
    assert [x.json()["answer"] for x in results] == serial
    assert service.index is not old
    assert "uploads/z.txt" in service.index.documents and "uploads/z.txt" not in old.documents
    assert old.ask(MICROSOFT).answer == service.index.ask(MICROSOFT).answer  # the old object still works


# ---------------------------------------------------------------- concurrency


def test_20_concurrent_asks_equal_serial_answers(client):
    questions = _dev_questions(20)
    serial = [client.post("/api/ask", json={"question": q}).json() for q in questions]
    barrier = threading.Barrier(20)

    def ask(q):
        barrier.wait()
        return client.post("/api/ask", json={"question": q})

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(ask, questions))
    assert [r.status_code for r in results] == [200] * 20
    for got, want in zip(results, serial, strict=True):
        assert _same(got.json(), want)


# ---------------------------------------------------------------- schema, chat page


def test_openapi_and_docs(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/ask",
        "/api/status",
        "/api/documents",
        "/api/documents/{doc_id}/pages/{n}",
        "/api/documents/{doc_id}/file",
        "/api/documents/{doc_id}/pages/{n}/image",
        "/view/{doc_id}",
    } <= set(paths)
    assert "post" in paths["/api/documents"] and "get" in paths["/api/documents"]
    assert client.get("/docs").status_code == 200


def test_chat_page_is_served_at_root(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "gradio" in r.text.lower()


# ---------------------------------------------------------------- the chat's index panel


def test_index_panel_warns_when_stale(client):
    from qa.render import render_index_panel

    st = client.get("/api/status").json()
    assert "qa-stale" not in render_index_panel(st)
    st.update(stale=True, added=["new.txt"])
    assert "1 added" in render_index_panel(st)


# ---------------------------------------------------------------- qa serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_a_busy_port(real_index_path, capsys):
    from qa.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code = main(["serve", "--port", str(port), "--index", str(real_index_path), "--corpus", str(CORPUS)])
    assert code == 2
    assert "cannot listen" in capsys.readouterr().err


def test_serve_without_an_index_says_how_to_build_it(tmp_path, capsys):
    from qa.cli import main

    code = main(
        ["serve", "--port", str(_free_port()), "--index", str(tmp_path / "none"), "--corpus", str(CORPUS)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no index" in err and "qa index" in err


def test_ensure_index_builds_then_updates(tmp_path, capsys):
    from qa.index import load_index
    from qa.server import ensure_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(ZORBLATT)
    s = Settings(corpus=corpus, index=tmp_path / "index")
    ensure_index(s)
    assert "no index" in capsys.readouterr().err
    assert set(load_index(s.index).documents) == {"a.txt"}
    created = json.loads((s.index / "manifest.json").read_text())["created"]
    ensure_index(s)  # up to date: nothing rebuilt
    assert json.loads((s.index / "manifest.json").read_text())["created"] == created
    (corpus / "b.md").write_text("# B\n\nThe second file.\n")
    ensure_index(s)
    assert "1 added" in capsys.readouterr().err
    assert set(load_index(s.index).documents) == {"a.txt", "b.md"}


def test_qa_serve_build_starts_a_server(tmp_path):
    """`qa serve --build` in a new process: builds the missing index with progress, then serves."""
    import httpx

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(ZORBLATT)
    port = _free_port()
    cmd = [sys.executable, "-m", "qa", "serve", "--build", "--port", str(port)]
    cmd += ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        assert r.json()["counts"]["documents"] == 1
        a = httpx.post(
            f"http://127.0.0.1:{port}/api/ask",
            json={"question": "How many blue widgets does Zorblatt produce every month?"},
            timeout=60,
        ).json()
        assert "4,200 blue widgets" in a["answer"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "building it" in text and "read 1/1" in text and "serving 1 documents" in text
