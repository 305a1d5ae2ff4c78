"""The chat in a real browser: Playwright driving Debian's chromium against `qa serve` in a subprocess.

Two servers: one over a copy of the shipped corpus and its index, one over a small corpus made here (a
Markdown guide and a scanned PDF), so uploads never touch the repository. axe-core (npm) is injected into
the pages and must find no serious or critical violation. Screenshots go to artifacts/screenshots/
(git-ignored); the 1400 px one is copied to docs/chat.png for the README.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reliability.serve import qa_server
from test_ingest_ocr import scanned_pdf

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BRIEF_TITLE = "Indo-Japanese Collaboration on Artificial Intelligence"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
JAPAN_PDF = "related/japan-ai-strategy-2019.pdf"
MICROSOFT = "What has Microsoft launched across Indian states?"
LITERACY = "How many people should acquire basic AI literacy per year in Japan?"
NO_ANSWER = "The documents don't answer this question."
REPLY = "#chat .qa-answer, #chat .qa-abstain, #chat .qa-error"
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


GUIDE = """# Heron Survey Handbook

## Counting herons

The survey team counts 340 grey herons on the Kessel estuary every spring.
Volunteers record each nest with a GPS tag before the breeding season starts.

## Terms

The Kessel Bird Trust (KBT) funds the survey and publishes its results every autumn.

| Year | Nests |
| --- | --- |
| 2023 | 112 |
| 2024 | 131 |
"""
SCAN_LINES = ["Egrets nest in tall reeds.", "Storks fly over the marsh at dawn."]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """`qa serve --build` over a small corpus made here: a Markdown guide and a scanned (OCR'd) PDF."""
    root = tmp_path_factory.mktemp("own")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "herons.md").write_text(GUIDE, encoding="utf-8")
    scanned_pdf(corpus / "scan.pdf", [SCAN_LINES])
    log = root / "serve.log"
    with qa_server(root / "index", corpus, log, "--build", timeout=300) as base:
        yield {"base": base, "corpus": corpus, "index": root / "index"}


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


@pytest.fixture(scope="module")
def axe_js() -> str:
    """axe-core's script, from npm's global folder (.ci/run installs it: npm install -g axe-core)."""
    try:
        root = subprocess.run(
            ["npm", "root", "-g"], capture_output=True, text=True, timeout=60
        ).stdout.strip()
    except OSError:
        root = "/usr/lib/node_modules"
    path = Path(root) / "axe-core" / "axe.min.js"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the accessibility test needs axe-core. "
            "Install it with: npm install -g axe-core"
        )
    return path.read_text(encoding="utf-8")


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT)
    yield ctx
    ctx.close()


def _open_chat(context, base: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/", wait_until="load")
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#index-panel .qa-index")
    page.js_errors = errors
    return page


@pytest.fixture
def chat(context, server):
    """A fresh chat page, loaded and ready for a question."""
    return _open_chat(context, server["base"])


def shot(page, name: str, **kw) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), **kw)
    return path


def _wait_reply(page, before: int):
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[REPLY, before], timeout=TIMEOUT
    )
    return page.locator(REPLY).nth(before)


def ask(page, question: str):
    """Type a question, press Ask, and return the locator of the new assistant message."""
    before = page.locator(REPLY).count()
    page.fill("#question textarea", question)
    page.click("#ask")
    return _wait_reply(page, before)


def choose_documents(page, *doc_ids: str) -> None:
    for doc in doc_ids:
        page.click("#doc-filter input")
        page.click(f'#doc-filter li[role=option][aria-label*="({doc})"]')
    page.click("h1")  # close the list
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


def axe_violations(page, axe_js: str) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.add_script_tag(content=axe_js)
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def in_view(page, selector: str) -> bool:
    return page.evaluate(
        "sel => { const r = document.querySelector(sel).getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }",
        selector,
    )


def test_answer_with_citation_confidence_and_sources(chat):
    reply = ask(chat, MICROSOFT)
    assert "AI skilling initiatives" in reply.locator(".qa-text").inner_text()
    assert "AI skilling initiatives" in reply.locator("mark.qa-hl").first.inner_text()
    cites = reply.locator(".qa-cites").inner_text()
    # the brief is one text file without pages: cited by its section, not as "p. 1"
    assert cites.startswith(f"[1] {BRIEF_TITLE}, ") and "p. 1" not in cites
    assert reply.locator("sup.qa-cite").first.inner_text() == "[1]"
    conf = reply.locator(".qa-conf")
    assert conf.inner_text() in ("likely right", "probably right")
    assert re.fullmatch(
        r"calibrated probability that the answer is right: 0\.\d\d", conf.get_attribute("title")
    )
    assert reply.locator(".qa-md").is_hidden()
    source = reply.locator(".qa-source").first
    assert not source.is_visible()  # the Sources panel starts closed
    reply.locator("details.qa-sources summary").click()
    source.wait_for(state="visible")
    assert "AI skilling initiatives" in source.locator("blockquote").inner_text()
    assert "score" in source.inner_text()
    assert source.locator("a.qa-open").inner_text() == "open at the passage"
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
    assert mark.is_visible() and in_view(viewer, "#hit"), "the marked sentence is scrolled into view"
    assert f"page {n} of 115" in viewer.locator("header").inner_text()
    shot(viewer, "viewer-niti.png")


def test_open_at_page_shows_the_pdf_page_with_the_quote_highlighted(chat, context, server, browser, axe_js):
    import httpx

    choose_documents(chat, JAPAN_PDF)
    reply = ask(chat, LITERACY)
    assert "AI Strategy 2019, p. 19 (printed 15)" in reply.locator(".qa-cites").inner_text()
    reply.locator("details.qa-sources summary").click()
    link = reply.locator(".qa-source a.qa-open").first
    assert link.inner_text() == "open at page 19"
    quote = reply.locator(".qa-source blockquote").first.inner_text()
    view = open_link(context, link)
    assert view.url.startswith(f"{server['base']}/view/{JAPAN_PDF}?page=19&start=")
    view.wait_for_function("() => document.querySelector('.sheet img').naturalWidth > 0")
    assert "page 19 (printed 15) of 74" in view.locator("header").inner_text()
    assert _words(view.locator("#quote").inner_text()) == f"“{_words(quote)}”"
    assert "Highlighted on the page from its text layer." in view.locator(".quote").inner_text()
    boxes = view.locator(".sheet .box")
    assert boxes.count() >= 2 and in_view(view, "#hit"), "the highlight is scrolled into view"
    sheet = view.locator(".sheet").bounding_box()
    for i in range(boxes.count()):
        b = boxes.nth(i).bounding_box()
        assert sheet["x"] <= b["x"] and b["x"] + b["width"] <= sheet["x"] + sheet["width"] + 1
        assert b["height"] < 40  # one line each, on the rendered page
    shot(view, "viewer-pdf.png")
    audit = browser.new_context(bypass_csp=True)  # lets axe's script in past the view's nonce-only CSP
    try:
        page = audit.new_page()
        page.goto(view.url, wait_until="load")
        assert axe_violations(page, axe_js) == []
    finally:
        audit.close()
    original = view.locator("a.original")
    assert original.get_attribute("href") == f"/api/documents/{JAPAN_PDF}/file#page=19"
    body = httpx.get(server["base"] + original.get_attribute("href").split("#")[0], timeout=30)
    assert body.headers["content-type"] == "application/pdf"
    assert body.content == (CORPUS / JAPAN_PDF).read_bytes()
    view.click("a[rel=next]")
    view.wait_for_url(f"**/view/{JAPAN_PDF}?page=20")
    assert "page 20" in view.locator("header").inner_text() and view.locator(".box").count() == 0
    view.click("a[rel=prev]")
    view.wait_for_url(f"**/view/{JAPAN_PDF}?page=19")


def test_an_ocr_page_is_highlighted_from_tesseracts_boxes(context, own_server):
    import httpx

    if shutil.which("tesseract") is None:
        pytest.fail("tesseract is missing: apt-get install tesseract-ocr (.ci/run installs it)")
    page = httpx.get(f"{own_server['base']}/api/documents/scan.pdf/pages/1", timeout=30).json()
    assert page["ocr"] is True
    start = page["text"].index("Storks")
    end = start + len("Storks fly over the marsh")
    view = context.new_page()
    view.goto(f"{own_server['base']}/view/scan.pdf?page=1&start={start}&end={end}#hit", wait_until="load")
    assert "read by OCR" in view.locator("header").inner_text()
    assert "Tesseract word boxes" in view.locator(".quote figcaption").inner_text()
    sheet, box = view.locator(".sheet").bounding_box(), view.locator("#hit").bounding_box()
    top = (box["y"] - sheet["y"]) / sheet["height"]
    assert 140 / 290 < top < 175 / 290  # the second line, drawn 150-190 px down the 290 px scan (scan())
    shot(view, "viewer-ocr.png")


def test_unanswerable_question_abstains_with_related_reading(chat):
    reply = ask(chat, "Who won the football world cup in 1998?")
    assert reply.get_attribute("class") == "qa-abstain"
    assert reply.locator(".qa-noanswer").inner_text() == NO_ANSWER
    related = reply.locator(".qa-related")
    assert "Related reading (not an answer)" in related.inner_text()
    assert related.locator(".qa-related-item").count() >= 1
    assert reply.locator("mark").count() == 0
    assert reply.locator(".qa-conf").inner_text() == "no answer found"
    shot(chat, "chat-abstention.png")


def test_a_follow_up_chain_reads_right_and_new_chat_clears_it(chat):
    ask(chat, "How much was allocated to the IndiaAI Mission in 2024–2025?")
    follow = ask(chat, "And in 2023-2024?")
    meta = follow.locator(".qa-meta").first.inner_text()
    assert "Understood as: How much was allocated to the IndiaAI Mission in 2023-2024?" in meta
    ask(chat, "What does IOWN stand for?")
    ntt = ask(chat, "What about NTT?")
    assert "Understood as: What does NTT stand for?" in ntt.inner_text()
    alone = ask(chat, "And what about Japan's pledged investment?")  # a subject of its own: not rewritten
    assert "Understood as" not in alone.inner_text()
    chat.click("#new-chat")
    chat.wait_for_function("() => document.querySelectorAll('#chat .qa-q').length === 0")
    fresh = ask(chat, "And in 2023-2024?")
    assert "Understood as" not in fresh.inner_text()


def test_a_comparison_answer_has_a_column_per_document_each_cited(chat):
    reply = ask(chat, "How do India's and Japan's strategies differ on talent?")
    columns = reply.locator(".qa-columns .qa-column")
    assert columns.count() >= 2
    titles = [columns.nth(i).locator("h3").inner_text() for i in range(columns.count())]
    assert len(set(titles)) == len(titles) and "AI Strategy 2019" in titles
    for i in range(columns.count()):
        col = columns.nth(i)
        assert col.locator("sup.qa-cite").count() >= 1 and col.locator("a.qa-open").count() >= 1
    japan = columns.nth(titles.index("AI Strategy 2019"))
    assert "talent" in japan.locator(".qa-text").inner_text().lower()
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"] - 1  # side by side
    reply.evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(chat, "chat-comparison.png")


def test_copy_an_answer_and_export_the_conversation_as_markdown(chat, context, server):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server["base"])
    reply = ask(chat, MICROSOFT)
    reply.locator(".qa-copy").click()
    chat.wait_for_function("() => document.querySelector('.qa-copy').textContent === 'Copied'")
    copied = chat.evaluate("() => navigator.clipboard.readText()")
    lines = copied.splitlines()
    assert (
        lines[0].startswith("> Microsoft, for instance, has launched AI skilling initiatives")
        and "[1]" in lines[0]
    )
    source = next(line for line in lines if line.startswith("[1] "))
    assert f"*{BRIEF_TITLE}*" in source and "p. 1" not in source
    assert f"]({server['base']}/view/brief/indo-japanese-collaboration-on-ai.txt?page=1&start=" in source
    ask(chat, LITERACY)
    with chat.expect_download() as info:
        chat.click("#export")
    download = info.value
    assert download.suggested_filename == "conversation.md"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("# Conversation with qa (")
    assert (
        text.index(f"**Q:** {MICROSOFT}")
        < text.index("> Microsoft, for instance")
        < text.index("**Q:** How many")
    )
    assert "*AI Strategy 2019*, p. 19 (printed 15)" in text
    assert f"]({server['base']}/view/{JAPAN_PDF}?page=19&start=" in text


def test_upload_shows_progress_then_what_was_added(chat, server):
    note = server["corpus"].parent / "zorblatt-note.txt"
    note.write_bytes(
        b"Zorblatt Widgets Report\n\n"
        b"The Zorblatt company produces 4,200 blue widgets every month at its plant in Pune.\n"
    )
    chat.evaluate(
        """() => { window.__seen = []; const el = document.querySelector('#upload-status');
        new MutationObserver(() => window.__seen.push(el.innerText)).observe(el,
          {childList: true, subtree: true, characterData: true}); }"""
    )
    chat.set_input_files("input[type=file]", str(note))
    ok = chat.locator("#upload-status .qa-upload-ok")
    ok.wait_for()
    seen = chat.evaluate("() => window.__seen")
    assert any("Indexing zorblatt-note.txt…" in s for s in seen), seen
    assert ok.inner_text() == "✓ added uploads/zorblatt-note.txt (1 page, 1 chunk)"
    assert (server["corpus"] / "uploads" / "zorblatt-note.txt").read_bytes() == note.read_bytes()
    chat.wait_for_function("() => document.querySelector('#index-panel').innerText.includes('Zorblatt')")
    shot(chat, "upload-ok.png")
    reply = ask(chat, "How many blue widgets does Zorblatt produce every month?")
    assert "4,200 blue widgets" in reply.locator(".qa-text").inner_text()
    assert "Zorblatt Widgets Report" in reply.locator(".qa-cites").inner_text()


def test_upload_a_corrupt_pdf_shows_why_and_answers_still_work(chat, server):
    before = ask(chat, MICROSOFT).locator(".qa-text").inner_text()
    manifest = (server["index"] / "manifest.json").read_bytes()
    bad = server["corpus"].parent / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ngarbage without xref\n%%EOF\n")
    chat.set_input_files("input[type=file]", str(bad))
    err = chat.locator("#upload-status .qa-upload-bad")
    err.wait_for()
    assert "broken.pdf rejected" in err.inner_text()
    assert "corrupt or unreadable PDF" in err.inner_text()
    shot(chat, "upload-error.png")
    assert not (server["corpus"] / "uploads" / "broken.pdf").exists()
    assert (server["index"] / "manifest.json").read_bytes() == manifest
    assert ask(chat, MICROSOFT).locator(".qa-text").inner_text() == before


def test_examples_are_drawn_from_the_users_own_documents(context, own_server):
    import qa

    index = qa.load_index(own_server["index"])
    if not callable(getattr(index, "examples", None)):
        pytest.fail("Index.examples() (issue 16, example questions drawn at build time) is missing")
    expected = index.examples()
    assert expected, "the made corpus has headings, a table and a defined term to draw examples from"
    page = _open_chat(context, own_server["base"])
    examples = page.locator("#examples button")
    shown = [examples.nth(i).inner_text().strip() for i in range(examples.count())]
    assert shown == expected[: len(shown)] and shown
    assert not any("Indo-Japanese" in q or "India" in q for q in shown)  # nothing from the brief
    examples.first.click()
    page.wait_for_function("q => document.querySelector('#question textarea').value === q", arg=shown[0])
    page.click("#ask")
    reply = _wait_reply(page, 0)
    assert reply.get_attribute("class") == "qa-answer"


def test_keyboard_only_ask_open_a_source_and_start_a_new_chat(chat, context):
    def tab_to(predicate: str, limit: int = 80) -> None:
        for _ in range(limit):
            chat.keyboard.press("Tab")
            if chat.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({predicate}); }}"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    chat.focus("#question textarea")  # the box has autofocus; made sure here
    chat.keyboard.type(MICROSOFT)
    chat.keyboard.press("Enter")
    reply = _wait_reply(chat, 0)
    chat.focus("#question textarea")
    tab_to("e.matches('#chat details.qa-sources summary')")
    chat.keyboard.press("Enter")
    reply.locator(".qa-source").first.wait_for(state="visible")
    tab_to("e.matches('#chat a.qa-open')")
    with context.expect_page() as info:
        chat.keyboard.press("Enter")
    viewer = info.value
    viewer.wait_for_load_state("load")
    assert "/view/brief/" in viewer.url and viewer.locator("mark#hit").count() == 1
    viewer.close()
    tab_to("e.id === 'new-chat'")
    chat.keyboard.press("Enter")
    chat.wait_for_function("() => document.querySelectorAll('#chat .qa-q').length === 0")


def test_accessibility_no_serious_or_critical_axe_violations(chat, axe_js):
    reply = ask(chat, MICROSOFT)
    reply.locator("details.qa-sources summary").click()
    labels = chat.evaluate(
        "() => [...document.querySelectorAll('textarea, input:not([type=file]), button')]"
        ".filter(e => e.offsetParent && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !e.textContent.trim()).map(e => e.outerHTML.slice(0, 80))"
    )
    assert labels == [], "every visible control has a label"
    assert axe_violations(chat, axe_js) == []


@pytest.mark.parametrize("width", [1400, 400])
def test_screenshots_wide_and_narrow_and_the_narrow_one_is_usable(browser, server, width):
    ctx = browser.new_context(viewport={"width": width, "height": 1000})
    ctx.set_default_timeout(TIMEOUT)
    try:
        page = _open_chat(ctx, server["base"])
        reply = ask(page, MICROSOFT)
        assert "AI skilling initiatives" in reply.locator(".qa-text").inner_text()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1  # no sideways scroll
        for sel in ("#question textarea", "#ask", "#new-chat", "#export"):
            b = page.locator(sel).bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= width + 1, sel
        text = reply.locator(".qa-text").bounding_box()
        assert text["x"] >= 0 and text["x"] + text["width"] <= width + 1
        path = shot(page, f"chat-{width}.png", full_page=width < 1000)
        if width == 1400:
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copyfile(path, ROOT / "docs" / "chat.png")
    finally:
        ctx.close()


def test_script_in_a_question_is_shown_as_text_and_never_runs(chat):
    payload = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> '
    reply = ask(chat, payload + MICROSOFT)
    question = chat.locator("#chat .qa-q").last
    assert payload.strip() in question.inner_text()
    assert chat.evaluate("() => window.__xss") is None
    assert chat.locator("#chat img[src=x]").count() == 0
    assert chat.locator("#chat .qa-q script").count() == 0
    assert reply.is_visible()


def test_index_panel_shows_the_index(chat, server):
    import httpx

    st = httpx.get(server["base"] + "/api/status", timeout=30).json()
    text = chat.locator("#index-panel").inner_text()
    c = st["counts"]
    assert f"{c['documents']} documents · {c['pages']} pages · {c['chunks']} chunks" in text
    assert st["model"]["id"] in text and st["created"] in text
    assert "AI Strategy 2019" in text
    assert "changed since the index was built" not in text
