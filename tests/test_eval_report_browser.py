"""The HTML report of `qa eval --report report.html` in a real browser (Playwright driving Debian's
chromium): its plots render, its table lists failures first with the highlight marked, and no request
leaves the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsets import PASSING, WRONG, write_jsonl
from qa.cli import main

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture
def report(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus(), tmp_path / "index")
    q = write_jsonl(tmp_path / "q.jsonl", [*PASSING, WRONG])
    path = tmp_path / "report.html"
    rc = main(
        ["eval", "--questions", str(q), "--index", str(tmp_path / "index"), "--report", str(path), "--quiet"]
    )
    assert rc == 0
    return path


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium: apt-get install chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield ctx.new_page()
        browser.close()


def test_report_renders_offline(report, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.route(
        "**/*", lambda route: route.continue_() if route.request.url == report.as_uri() else route.abort()
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(report.as_uri(), wait_until="load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "eval-report.png"), full_page=True)

    assert requests == [report.as_uri()]  # the file itself, nothing else
    assert errors == []
    plots = page.locator("svg.plot")
    assert plots.count() == 4
    names = []
    for i in range(plots.count()):
        plot = plots.nth(i)
        box = plot.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
        names.append(plot.get_attribute("data-plot"))
        drawn = plot.locator("rect, polyline")
        assert drawn.count() > 0 and any(
            (drawn.nth(j).bounding_box() or {}).get("height", 0) > 0 for j in range(drawn.count())
        )
    assert names == ["reliability", "confidence", "hit-curve", "kinds"]
    assert "ECE" in page.locator("svg[data-plot=reliability]").text_content()

    rows = page.locator("table.questions tr")
    assert rows.count() == 1 + 4  # header and every question
    first = rows.nth(1)
    assert first.get_attribute("class") == "fail"
    assert first.locator("td").first.inner_text() == "wrong"  # failures first
    assert "Ratnagiri" in first.inner_text() and "fruit/mangoes.md, p. 1" in first.inner_text()
    assert [rows.nth(i).get_attribute("class") for i in range(2, 5)] == ["pass"] * 3
