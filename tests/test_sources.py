"""`qa sources`: listing the indexed bibliography, and fetching cited sources from a local HTTP server.

Every fetch goes to pytest-httpserver on this machine; nothing reaches beyond it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path

import pytest

from qa.cli import main
from qa.source_fetch import fetch_sources
from qa.source_files import IGNORE_PATTERNS
from qa.source_list import format_table, list_references

REPO = Path(__file__).resolve().parents[1]
BRIEF_DOC = "brief/indo-japanese-collaboration-on-ai.txt"
NITI_DOC = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
CATALOGUE = {NITI_DOC: {"reference": "niti-aayog-2018", "cites_from": BRIEF_DOC}}
DOC = "notes/harbour-brief.md"  # the brief-like document of the fetch tests
CAP = 100_000
TIMEOUT = 0.5


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    """A proxy in the environment must not carry the requests to 127.0.0.1 elsewhere."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------- listing


@pytest.fixture
def brief_index(fake_corpus, build_fake, tmp_path) -> tuple[Path, Path]:
    """The shipped brief, a small stand-in for its NITI Aayog copy and the catalogue, built with the fake."""
    corpus = fake_corpus(
        {
            BRIEF_DOC: (REPO / "corpus" / BRIEF_DOC).read_text(encoding="utf-8"),
            NITI_DOC: "National Strategy for Artificial Intelligence\n\nNITI Aayog discussion paper, 2018.\n",
            "sources.json": json.dumps(CATALOGUE),
            ".qaignore": "sources.json\n",
        }
    )
    index = tmp_path / "index"
    build_fake(corpus, index)
    return corpus, index


def test_list_references_of_the_brief(brief_index):
    _, index = brief_index
    refs = list_references(index)
    assert len(refs) == 37
    keys = [r["key"] for r in refs]
    assert len(set(keys)) == 37
    assert keys[:3] == ["boston-consulting-group-2024", "bw-businessworld-n-d", "ceo-insights-asia-team-2025"]
    assert {"harris-2024", "niti-aayog-2018", "press-information-bureau-2025b", "white-house-2025"} <= set(
        keys
    )
    assert all(r["cited_by"] == BRIEF_DOC and r["url"].startswith("https://") for r in refs)
    assert {r["key"]: r["in_corpus"] for r in refs if r["in_corpus"]} == {"niti-aayog-2018": NITI_DOC}
    harris = refs[keys.index("harris-2024")]
    assert (harris["author"], harris["year"], harris["date"], harris["outlet"]) == (
        "Harris",
        "2024",
        "2024, July 11",
        "NVIDIA Blog",
    )


def test_cli_sources_json(capsys, brief_index):
    _, index = brief_index
    code, out, err = run(capsys, "sources", "--index", str(index), "--json")
    assert code == 0 and err == ""
    assert len(out.splitlines()) == 1
    obj = json.loads(out)
    assert list(obj) == ["references"] and len(obj["references"]) == 37
    fields = {"key", "author", "year", "date", "title", "outlet", "url", "in_corpus", "cited_by"}
    assert all(fields <= set(r) for r in obj["references"])
    niti = next(r for r in obj["references"] if r["key"] == "niti-aayog-2018")
    assert niti["in_corpus"] == NITI_DOC and niti["date"] == "2018, June"


def test_cli_sources_table(capsys, brief_index):
    _, index = brief_index
    code, out, _ = run(capsys, "sources", "--index", str(index))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1 + 37 + 1
    assert lines[0].split() == ["KEY", "AUTHOR", "DATE", "TITLE", "OUTLET", "COPY", "URL"]
    niti = next(ln for ln in lines if ln.startswith("niti-aayog-2018 "))
    assert NITI_DOC in niti and "NITI Aayog" in niti and "2018, June" in niti
    harris = next(ln for ln in lines if ln.startswith("harris-2024 "))
    assert " - " in harris and harris.rstrip().endswith("https://blogs.nvidia.com/blog/abci-aist/")
    assert lines[-1] == "37 references, 1 with a copy in the corpus"


def test_sources_without_bibliography_and_without_index(capsys, fake_corpus, build_fake, tmp_path):
    index = tmp_path / "index"
    build_fake(fake_corpus(), index)
    code, out, _ = run(capsys, "sources", "--index", str(index), "--json")
    assert code == 0 and json.loads(out) == {"references": []}
    assert format_table([]).startswith("no references")
    code, out, err = run(capsys, "sources", "--index", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert err.startswith("qa: error: no index at") and "qa index" in err


# ---------------------------------------------------------------- fetching from a local server

ARTICLE = b"""<!doctype html>
<html><head><meta charset="utf-8">
<title>Quokka cranes at the harbour</title>
<meta property="og:title" content="Quokka cranes at the harbour">
<meta property="article:published_time" content="2024-07-11">
</head><body>
<nav><a href="/">Home</a> | <a href="/news">News</a></nav>
<article>
<h1>Quokka cranes at the harbour</h1>
<p>The harbour authority commissioned twelve quokka cranes to lift containers from cargo ships onto rail
wagons, cutting the time a vessel waits at the berth from two days to nine hours.</p>
<p>Engineers calibrated the quokka cranes with laser rangefinders so that each container lands within two
centimetres of its slot, and the pilots train on a simulator before working the night shift.</p>
<p>Dockworkers said the new cranes were quieter than the diesel machines they replaced, and the port expects
the berth to handle a million containers a year by the end of the decade.</p>
</article>
<footer>Copyright Harbour Gazette</footer>
</body></html>
"""

# author, path on the server, expected outcome (key -> substring of the reason, or the saved file)
ENTRIES = [
    ("Harbour Gazette", "/old-article"),  # 301 -> /article (HTML)
    ("Lighthouse Institute", "/paper.pdf"),  # PDF
    ("Archive Office", "/download"),  # PDF served as application/octet-stream
    ("Missing Press", "/missing"),  # 404
    ("Bulky Review", "/big-stream"),  # oversized, no Content-Length: stopped while streaming
    ("Heavy Journal", "/big-declared"),  # oversized, refused on its Content-Length
    ("Circular Daily", "/loop-a"),  # /loop-a -> /loop-b -> /loop-a
    ("Winding Road", "/hop/0"),  # seven redirects, over the limit of five
    ("Json Wire", "/data.json"),  # wrong content type
    ("Pretend Papers", "/fake.pdf"),  # application/pdf without %PDF
    ("Sluggish News", "/slow"),  # answers after the timeout; last, since the test server is single-threaded
]
SAVED = {
    "harbour-gazette-2024": "sources/harbour-gazette-2024.md",
    "lighthouse-institute-2024": "sources/lighthouse-institute-2024.pdf",
    "archive-office-2024": "sources/archive-office-2024.pdf",
}
FAILED = {
    "missing-press-2024": "HTTP 404 NOT FOUND",
    "bulky-review-2024": f"too big: over the {CAP}-byte cap",
    "heavy-journal-2024": f"too big: 150000 bytes, over the {CAP}-byte cap",
    "circular-daily-2024": "redirect loop: ",
    "winding-road-2024": "too many redirects (more than 5)",
    "json-wire-2024": "unsupported content type 'application/json' (only HTML or PDF)",
    "pretend-papers-2024": "not a PDF: served as 'application/pdf' but has no %PDF header",
    "sluggish-news-2024": f"timed out after {TIMEOUT:g} s (http",
}


def brief_like(urls: dict[str, str]) -> str:
    body = (
        "# Harbour Automation Brief\n\n"
        "Twelve cranes now serve the container berth (Harbour Gazette, 2024). The lighthouse keepers "
        "published a survey of the coast (Lighthouse Institute, 2024).\n\n"
        "References\n\n"
    )
    entries = [
        f"{author}. (2024, July 11). *Report of the {author}*. {author}. <{urls[author]}>"
        for author, _ in ENTRIES
    ]
    return body + "\n\n".join(entries) + "\n"


@pytest.fixture
def site(httpserver, make_pdf, tmp_path):
    """The local server's routes; yields (urls by author, the served bytes by path)."""
    from werkzeug import Response

    pdf = make_pdf(tmp_path / "served.pdf", [["Lighthouse survey of the rocky coast"]]).read_bytes()
    served = {"/article": ARTICLE, "/paper.pdf": pdf, "/download": pdf}
    release = threading.Event()

    def redirect(path: str, to: str, status: int = 302) -> None:
        httpserver.expect_request(path).respond_with_response(
            Response(status=status, headers={"Location": httpserver.url_for(to)})
        )

    redirect("/old-article", "/article", 301)
    httpserver.expect_request("/article").respond_with_data(ARTICLE, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/paper.pdf").respond_with_data(pdf, content_type="application/pdf")
    httpserver.expect_request("/download").respond_with_data(pdf, content_type="application/octet-stream")
    httpserver.expect_request("/missing").respond_with_data("gone", status=404, content_type="text/html")
    httpserver.expect_request("/big-stream").respond_with_response(
        Response((b"<p>" + b"x" * 9_996 + b"</p>" for _ in range(30)), content_type="text/html")
    )
    httpserver.expect_request("/big-declared").respond_with_data(b"y" * 150_000, content_type="text/html")
    redirect("/loop-a", "/loop-b")
    redirect("/loop-b", "/loop-a")
    for i in range(7):
        redirect(f"/hop/{i}", f"/hop/{i + 1}")
    httpserver.expect_request("/hop/7").respond_with_data(ARTICLE, content_type="text/html")
    httpserver.expect_request("/data.json").respond_with_json({"not": "an article"})
    httpserver.expect_request("/fake.pdf").respond_with_data(
        b"<html>a web page</html>", content_type="application/pdf"
    )

    def slow(_request):
        release.wait(10)  # until the test is done with it
        return Response(ARTICLE, content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    assert httpserver.url_for("/").startswith(("http://localhost:", "http://127.0.0.1:"))
    yield {author: httpserver.url_for(path) for author, path in ENTRIES}, served
    release.set()


@pytest.fixture
def fetch_corpus(site, fake_corpus, build_fake, tmp_path):
    """A corpus with one brief-like document citing the local URLs, indexed with the fake embedder."""
    urls, _ = site
    corpus = fake_corpus(
        {DOC: brief_like(urls), "fruit/apples.txt": "Apple orchards harvest crisp apples.\n"}
    )
    index = tmp_path / "index"
    build_fake(corpus, index)
    return corpus, index


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_the_brief_like_document_cites_the_local_urls(fetch_corpus, site):
    _, index = fetch_corpus
    refs = list_references(index)
    assert [r["key"] for r in refs] == [f"{a.lower().replace(' ', '-')}-2024" for a, _ in ENTRIES]
    assert [r["url"] for r in refs] == [site[0][a] for a, _ in ENTRIES]
    assert set(SAVED) | set(FAILED) == {r["key"] for r in refs}


def test_fetch_saves_what_it_can_and_reports_each_failure(fetch_corpus, site, build_fake):
    corpus, index = fetch_corpus
    urls, served = site
    builds = []

    def build(c: Path, i: Path) -> dict:
        report = build_fake(c, i)
        builds.append(report)
        return report

    report = fetch_sources(corpus, index, timeout=TIMEOUT, max_bytes=CAP, build=build)

    assert report["ok"] is False
    assert {f["key"]: f["doc"] for f in report["fetched"]} == SAVED
    failed = {f["key"]: f["reason"] for f in report["failed"]}
    assert set(failed) == set(FAILED)
    for key, reason in FAILED.items():
        assert failed[key].startswith(reason), (key, failed[key])
    assert failed["circular-daily-2024"].endswith(
        "/loop-a -> " + urls["Circular Daily"].replace("-a", "-b") + " -> " + urls["Circular Daily"]
    )
    assert report["skipped"] == []
    assert report["ignore_added"] == list(IGNORE_PATTERNS)

    # files: the article as Markdown with its title and date, the PDFs byte for byte, a sidecar each
    files = all_files(corpus)
    assert files == sorted(
        [".qaignore", DOC, "fruit/apples.txt", "sources.json"]
        + list(SAVED.values())
        + [f"sources/{k}.source.json" for k in SAVED]
    )
    md = (corpus / SAVED["harbour-gazette-2024"]).read_text(encoding="utf-8")
    assert md.startswith("# Quokka cranes at the harbour\n\n")
    assert md.count("# Quokka cranes at the harbour") == 1  # the page's headline is not repeated
    assert "2024-07-11" in md.split("\n\n")[1]
    assert "twelve quokka cranes to lift containers" in " ".join(md.split())
    assert "Home" not in md and "Copyright" not in md  # boilerplate left behind
    pdf = (corpus / SAVED["lighthouse-institute-2024"]).read_bytes()
    assert pdf == served["/paper.pdf"] == (corpus / SAVED["archive-office-2024"]).read_bytes()

    side = json.loads((corpus / "sources/harbour-gazette-2024.source.json").read_text(encoding="utf-8"))
    assert side["reference"] == "harbour-gazette-2024" and side["cites_from"] == DOC
    assert side["url"] == urls["Harbour Gazette"]
    assert side["final_url"].endswith("/article") and side["redirects"] == [side["final_url"]]
    assert side["status"] == 200 and side["content_type"] == "text/html; charset=utf-8"
    assert side["sha256"] == hashlib.sha256(ARTICLE).hexdigest() and side["bytes"] == len(ARTICLE)
    assert side["file"] == "harbour-gazette-2024.md"
    assert side["file_sha256"] == hashlib.sha256(md.encode("utf-8")).hexdigest()
    assert side["fetched_at"].endswith("+00:00") and side["extracted"]["date"] == "2024-07-11"
    side = json.loads((corpus / "sources/lighthouse-institute-2024.source.json").read_text(encoding="utf-8"))
    assert side["content_type"] == "application/pdf" and side["redirects"] == []
    assert side["sha256"] == side["file_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert side["bytes"] == len(pdf) and side["final_url"] == side["url"] == urls["Lighthouse Institute"]

    # the catalogue names each copy, and the corpus walk ignores sidecars and catalogue
    catalogue = json.loads((corpus / "sources.json").read_text(encoding="utf-8"))
    assert catalogue == {doc: {"reference": key, "cites_from": DOC} for key, doc in SAVED.items()}
    qaignore = (corpus / ".qaignore").read_text(encoding="utf-8").splitlines()
    assert qaignore == ["*.source.json", "sources.json"]

    # the index was updated incrementally and holds the fetched sources, linked to their references
    assert len(builds) == 1 and report["index"] is builds[0]
    assert sorted(builds[0]["added"]) == sorted(SAVED.values())
    assert sorted(builds[0]["unchanged"]) == ["fruit/apples.txt", DOC]
    assert builds[0]["skipped"] == []
    import qa

    idx = qa.load_index(index)
    assert set(SAVED.values()) <= set(idx.documents)
    assert idx.documents[SAVED["harbour-gazette-2024"]]["title"] == "Quokka cranes at the harbour"
    assert any(c.doc == SAVED["harbour-gazette-2024"] and "quokka cranes" in c.text for c in idx.chunks)
    assert any(c.doc == SAVED["lighthouse-institute-2024"] and "rocky coast" in c.text for c in idx.chunks)
    copies = {r["key"]: r["in_corpus"] for r in idx.bibliography.references() if r["in_corpus"]}
    assert copies == SAVED
    hits = idx.search("quokka cranes containers berth", k=1, docs=[SAVED["harbour-gazette-2024"]])
    assert hits and hits[0].chunk.doc == SAVED["harbour-gazette-2024"]


def test_cli_fetch_exit_codes_only_skip_and_force(capsys, fetch_corpus, site):
    corpus, index = fetch_corpus
    base = [
        "sources",
        "fetch",
        "--index",
        str(index),
        "--corpus",
        str(corpus),
        "--timeout",
        str(TIMEOUT),
        "--max-bytes",
        str(CAP),
    ]

    code, out, err = run(
        capsys, *base, "--json", "--only", "harbour-gazette-2024", "--only", "json-wire-2024"
    )
    assert code == 1, err
    report = json.loads(out)
    assert [f["key"] for f in report["fetched"]] == ["harbour-gazette-2024"]
    assert report["failed"] == [
        {
            "key": "json-wire-2024",
            "url": site[0]["Json Wire"],
            "reason": "unsupported content type 'application/json' (only HTML or PDF)",
        }
    ]
    assert report["index"]["added"] == ["sources/harbour-gazette-2024.md"]  # the CLI's own build, fake model
    assert all_files(corpus / "sources") == ["harbour-gazette-2024.md", "harbour-gazette-2024.source.json"]

    code, out, err = run(capsys, *base, "--only", "harbour-gazette-2024")  # already there: skipped, exit 0
    assert code == 0, err
    assert out.splitlines() == [
        "skipped harbour-gazette-2024: already in the corpus as sources/harbour-gazette-2024.md "
        "(--force fetches it again)",
        "0 fetched, 0 failed, 1 skipped; index not updated",
    ]

    before = (corpus / "sources/harbour-gazette-2024.source.json").read_text(encoding="utf-8")
    code, out, err = run(
        capsys,
        *base,
        "--only",
        "lighthouse-institute-2024",
        "--only",
        "harbour-gazette-2024",
        "--force",
        "--no-index",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(
        "fetched lighthouse-institute-2024 -> sources/lighthouse-institute-2024.pdf (pdf, "
    )
    assert lines[1].startswith("fetched harbour-gazette-2024 -> sources/harbour-gazette-2024.md (html, ")
    assert lines[-1] == "2 fetched, 0 failed, 0 skipped; index not updated (run: qa index)"
    assert "[1/2] lighthouse-institute-2024: http" in err  # progress goes to stderr
    assert (
        json.loads(before)["sha256"]
        == json.loads((corpus / "sources/harbour-gazette-2024.source.json").read_text(encoding="utf-8"))[
            "sha256"
        ]
    )
    assert not any(name.startswith(".") for name in all_files(corpus / "sources"))


def test_cli_fetch_usage_errors(capsys, fetch_corpus, tmp_path):
    corpus, index = fetch_corpus
    base = ["sources", "fetch", "--index", str(index), "--corpus", str(corpus)]
    code, out, err = run(capsys, *base, "--only", "harbour-gazete-2024")
    assert code == 2 and out == ""
    assert err == "qa: error: unknown reference key harbour-gazete-2024; did you mean harbour-gazette-2024?\n"
    code, _, err = run(capsys, *base, "--dir", str(tmp_path / "elsewhere"))
    assert code == 2 and "is outside the corpus" in err
    code, _, err = run(capsys, *base, "--timeout", "0")
    assert code == 2 and "must be positive" in err
    assert not (corpus / "sources").exists() and not (tmp_path / "elsewhere").exists()


def test_fetch_into_another_folder_without_indexing(fetch_corpus, site):
    corpus, index = fetch_corpus
    report = fetch_sources(
        corpus,
        index,
        only=["lighthouse-institute-2024"],
        folder=corpus / "cited",
        timeout=TIMEOUT,
        max_bytes=CAP,
        build=None,
    )
    assert report["ok"] and report["index"] is None
    assert [f["doc"] for f in report["fetched"]] == ["cited/lighthouse-institute-2024.pdf"]
    catalogue = json.loads((corpus / "sources.json").read_text(encoding="utf-8"))
    assert catalogue == {
        "cited/lighthouse-institute-2024.pdf": {"reference": "lighthouse-institute-2024", "cites_from": DOC}
    }


def test_a_failure_while_saving_leaves_nothing_behind(fetch_corpus, site, monkeypatch):
    corpus, index = fetch_corpus
    import qa.source_files

    def broken(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qa.source_files, "html_to_markdown", broken)
    report = fetch_sources(
        corpus,
        index,
        only=["harbour-gazette-2024", "lighthouse-institute-2024"],
        timeout=TIMEOUT,
        max_bytes=CAP,
        build=None,
    )
    assert report["failed"] == [
        {
            "key": "harbour-gazette-2024",
            "url": site[0]["Harbour Gazette"],
            "reason": "cannot write (No space left on device)",
        }
    ]
    assert [f["key"] for f in report["fetched"]] == ["lighthouse-institute-2024"]
    assert all_files(corpus / "sources") == [
        "lighthouse-institute-2024.pdf",
        "lighthouse-institute-2024.source.json",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX rename semantics")
def test_no_temp_files_after_a_failing_fetch(fetch_corpus, site):
    corpus, index = fetch_corpus
    fetch_sources(corpus, index, timeout=TIMEOUT, max_bytes=CAP, build=None)
    assert [p for p in all_files(corpus) if Path(p).name.startswith(".") and p != ".qaignore"] == []
    assert not any(p.endswith(".part") for p in all_files(corpus))
    for key in FAILED:
        assert not list((corpus / "sources").glob(f"{key}*")), key
