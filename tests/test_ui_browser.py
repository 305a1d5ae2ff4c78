"""The chat in a real browser: Playwright driving Debian's chromium against `qa serve` in a subprocess.

The server runs over a copy of the shipped corpus and its index in a temporary folder, so uploads never touch
the repository. Screenshots go to artifacts/screenshots/ (git-ignored); one chat screenshot is copied to
docs/chat.png for the README.
"""

import shutil
from pathlib import Path

import pytest

from reliability.serve import qa_server

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
JAPAN_PDF = "related/japan-ai-strategy-2019.pdf"
MICROSOFT = "What has Microsoft launched across Indian states?"
NO_ANSWER = "The documents don't answer this question."
TIMEOUT = 60_000  # ms, for anything that waits on the server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_index_path):
    """`qa serve` in a subprocess on a free port, over a tmp copy of the corpus and the session's index."""
    root = tmp_path_factory.mktemp("served")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_index_path, index)
    log = root / "serve.log"
    with qa_server(index, corpus, log) as base:
        yield {"base": base, "corpus": corpus, "index": index, "log": log}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Install it with: "
            "apt-get install chromium"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT)
    yield ctx
    ctx.close()


@pytest.fixture
def chat(context, server):
    """A fresh chat page, loaded and ready for a question."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server["base"] + "/", wait_until="load")
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#index-panel .qa-index")
    page.js_errors = errors
    return page


def shot(page, name: str, **kw) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), **kw)
    return path


def ask(page, question: str):
    """Type a question, press Ask, and return the locator of the new assistant message."""
    before = page.locator("#chat .qa-answer, #chat .qa-abstain, #chat .qa-error").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    replies = page.locator("#chat .qa-answer, #chat .qa-abstain, #chat .qa-error")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .qa-answer, #chat .qa-abstain, #chat .qa-error').length > n",
        arg=before,
        timeout=TIMEOUT,
    )
    return replies.nth(before)


def choose_documents(page, *doc_ids: str) -> None:
    for doc in doc_ids:
        page.click("#doc-filter input")
        page.click(f'#doc-filter li[role=option][aria-label*="({doc})"]')
    page.click("h2")  # close the list
    for doc in doc_ids:
        assert doc in page.inner_text("#doc-filter")


def _words(text: str) -> str:
    """Text with whitespace collapsed: the chat shows a quote on one line, the viewer keeps its lines."""
    return " ".join(text.split())


def open_link(context, link):
    """Click a link that opens a new tab; return that tab once its document has loaded."""
    with context.expect_page() as info:
        link.click()
    tab = info.value
    tab.wait_for_load_state("load")
    return tab


def test_answer_with_citation_and_sources(chat):
    reply = ask(chat, MICROSOFT)
    assert "AI skilling initiatives" in reply.locator(".qa-text").inner_text()
    assert "AI skilling initiatives" in reply.locator("mark.qa-hl").first.inner_text()
    cites = reply.locator(".qa-cites").inner_text()
    assert "[1] Indo-Japanese Collaboration on Artificial Intelligence, p. 1" in cites
    assert reply.locator("sup.qa-cite").first.inner_text() == "[1]"
    source = reply.locator(".qa-source").first
    assert not source.is_visible()  # the Sources panel starts closed
    path = shot(chat, "chat-answer.png")
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copyfile(path, ROOT / "docs" / "chat.png")
    reply.locator("details.qa-sources summary").click()
    source.wait_for(state="visible")
    assert "AI skilling initiatives" in source.locator("blockquote").inner_text()
    assert "score" in source.inner_text()
    assert source.locator("a.qa-open").inner_text() == "open at page 1"
    shot(chat, "chat-sources.png")
    assert chat.js_errors == []


def test_open_at_page_shows_the_marked_sentence_for_a_text_document(chat, context):
    choose_documents(chat, NITI)
    reply = ask(chat, "What does #AIforAll mean?")
    cite = reply.locator(".qa-cites").inner_text()
    assert "Discussion Paper National Strategy for Artificial Intelligence" in cite
    reply.locator("details.qa-sources summary").click()
    link = reply.locator(".qa-source a.qa-open").first
    n = int(link.inner_text().removeprefix("open at page "))
    quote = reply.locator(".qa-source blockquote").first.inner_text()
    viewer = open_link(context, link)
    assert f"/view/{NITI}?page={n}&start=" in viewer.url
    mark = viewer.locator("mark#hit")
    assert _words(mark.inner_text()) == _words(quote)
    assert mark.is_visible() and viewer.evaluate(
        "() => { const r = document.getElementById('hit').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    ), "the marked sentence is scrolled into view"
    assert f"page {n} of 115" in viewer.locator("header").inner_text()
    shot(viewer, "viewer-niti.png")


def test_open_at_page_opens_the_pdf_at_that_page(chat, context, server):
    import httpx

    choose_documents(chat, JAPAN_PDF)
    reply = ask(chat, "How many people should acquire basic AI literacy per year in Japan?")
    assert "AI Strategy 2019" in reply.locator(".qa-cites").inner_text()
    reply.locator("details.qa-sources summary").click()
    link = reply.locator(".qa-source a.qa-open").first
    n = int(link.inner_text().removeprefix("open at page "))
    responses = []
    context.on("response", lambda r: responses.append(r))
    tab = open_link(context, link)
    assert tab.url == f"{server['base']}/api/documents/{JAPAN_PDF}/file#page={n}"
    pdf = [r for r in responses if r.url.endswith(f"/api/documents/{JAPAN_PDF}/file")]
    assert pdf and pdf[0].status == 200
    assert pdf[0].header_value("content-type") == "application/pdf"
    body = httpx.get(tab.url.split("#")[0], timeout=30)
    assert body.content.startswith(b"%PDF") and body.content == (CORPUS / JAPAN_PDF).read_bytes()
    shot(tab, "viewer-pdf.png")
    # the PDF's page text, with the sentence marked, is one click away too
    text_view = open_link(context, reply.locator(".qa-source a.qa-view").first)
    assert f"/view/{JAPAN_PDF}?page={n}" in text_view.url
    quote = reply.locator(".qa-source blockquote").first.inner_text()
    assert _words(text_view.locator("mark#hit").inner_text()) == _words(quote)
    shot(text_view, "viewer-pdf-text.png")


def test_unanswerable_question_abstains_with_related_reading(chat):
    # Outside the documents (the near-miss dev questions are not all abstained: issue 12, README).
    reply = ask(chat, "Who won the football world cup in 1998?")
    assert reply.get_attribute("class") == "qa-abstain"
    assert reply.locator(".qa-noanswer").inner_text() == NO_ANSWER
    related = reply.locator(".qa-related")
    assert "Related reading (not an answer)" in related.inner_text()
    assert related.locator(".qa-related-item").count() >= 1
    assert reply.locator("mark").count() == 0
    shot(chat, "chat-abstention.png")


def test_follow_up_uses_the_conversation_and_new_chat_clears_it(chat):
    ask(chat, "How much did the IndiaAI Mission receive in 2023-2024?")
    follow = ask(chat, "And in 2024-2025?")
    meta = follow.locator(".qa-meta").first.inner_text()
    assert "Understood as:" in meta and "IndiaAI Mission" in meta
    chat.click("#new-chat")
    chat.wait_for_function("() => document.querySelectorAll('#chat .qa-q').length === 0")
    alone = ask(chat, "And in 2024-2025?")
    assert "Understood as" not in alone.inner_text()


def test_upload_a_text_file_then_ask_about_it(chat, server):
    note = server["corpus"].parent / "zorblatt-note.txt"
    note.write_bytes(
        b"Zorblatt Widgets Report\n\n"
        b"The Zorblatt company produces 4,200 blue widgets every month at its plant in Pune.\n"
    )
    chat.set_input_files("#upload input[type=file]", str(note))
    ok = chat.locator("#upload-status .qa-upload-ok")
    ok.wait_for()
    assert "added uploads/zorblatt-note.txt" in ok.inner_text()
    assert (server["corpus"] / "uploads" / "zorblatt-note.txt").read_bytes() == note.read_bytes()
    chat.wait_for_function("() => document.querySelector('#index-panel').innerText.includes('Zorblatt')")
    shot(chat, "upload-ok.png")
    reply = ask(chat, "How many blue widgets does Zorblatt produce every month?")
    assert "4,200 blue widgets" in reply.locator(".qa-text").inner_text()
    assert "Zorblatt Widgets Report" in reply.locator(".qa-cites").inner_text()


def test_upload_a_corrupt_pdf_shows_the_error_and_answers_still_work(chat, server):
    before = ask(chat, MICROSOFT).locator(".qa-text").inner_text()
    manifest = (server["index"] / "manifest.json").read_bytes()
    bad = server["corpus"].parent / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ngarbage without xref\n%%EOF\n")
    chat.set_input_files("#upload input[type=file]", str(bad))
    err = chat.locator("#upload-status .qa-upload-bad")
    err.wait_for()
    assert "broken.pdf rejected" in err.inner_text()
    assert "corrupt or unreadable PDF" in err.inner_text()
    shot(chat, "upload-error.png")
    assert not (server["corpus"] / "uploads" / "broken.pdf").exists()
    assert (server["index"] / "manifest.json").read_bytes() == manifest
    assert ask(chat, MICROSOFT).locator(".qa-text").inner_text() == before


def test_script_in_a_question_is_shown_as_text_and_never_runs(chat):
    payload = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> '
    reply = ask(chat, payload + MICROSOFT)
    question = chat.locator("#chat .qa-q").last
    assert payload.strip() in question.inner_text()
    assert chat.evaluate("() => window.__xss") is None
    assert chat.locator("#chat img[src=x]").count() == 0
    assert chat.locator("#chat .qa-q script").count() == 0
    assert reply.is_visible()
    shot(chat, "chat-escaped.png")


def test_index_panel_shows_the_index(chat, server):
    import httpx

    st = httpx.get(server["base"] + "/api/status", timeout=30).json()
    text = chat.locator("#index-panel").inner_text()
    c = st["counts"]
    assert f"{c['documents']} documents · {c['pages']} pages · {c['chunks']} chunks" in text
    assert st["model"]["id"] in text and st["created"] in text
    assert "AI Strategy 2019" in text
    assert "changed since the index was built" not in text
