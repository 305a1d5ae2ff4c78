"""Files → normalised pages: normalisation rules, page breaks and labels, titles, headings, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.build import build_index
from qa.chunk import chunk_document
from qa.config import Settings
from qa.errors import IngestError, UsageError
from qa.ingest import FileReport, decode_text, normalise, read_file, scan_corpus

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
JAPAN_PDF = "related/japan-ai-strategy-2019.pdf"
CAP = 10**9


def read(path: Path, doc: str | None = None, max_bytes: int = CAP):
    """read_file with a fresh report; returns (document, pages, report)."""
    report = FileReport(doc or path.name)
    document, pages = read_file(path, doc or path.name, max_bytes, report)
    return document, pages, report


def refused(path: Path, max_bytes: int = CAP) -> str:
    with pytest.raises(IngestError) as e:
        read(path, max_bytes=max_bytes)
    return str(e.value)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # a word hyphenated across a line break, even across the brief's blank line, is joined
        ("resilient AI in-\n\nfrastructure. A key", "resilient AI infrastructure. A key"),
        ("in-\nfrastructure", "infrastructure"),
        ("trans-  \n   formation", "transformation"),
        # a hyphen before a capital is a real one
        ("the India-\nJapan Summit", "the India-Japan Summit"),
        ("Hindu-stan Times", "Hindu-stan Times"),  # no line break: untouched
        # markup escapes undone
        ("reach US\\$ 17 billion", "reach US$ 17 billion"),
        ("a\\_b and x\\*y", "a_b and x*y"),
        # emphasis markers dropped, arithmetic kept
        ("a **bold** and *italic* word", "a bold and italic word"),
        ("*National Strategy for AI* by NITI", "National Strategy for AI by NITI"),
        ("**Table 1:** Budget", "Table 1: Budget"),
        ("2 * 3 = 6 and a*b*c", "2 * 3 = 6 and a*b*c"),
        # inline HTML tags from the brief's Table 2
        ('<ul style="list-style-type: none"> • <i>iCET</i> </ul>', "• iCET"),
        # ligatures and odd spaces folded (NFKC), invisible characters dropped
        ("e\ufb03cient \ufb01le \ufb02ow", "efficient file flow"),
        ("a\u00a0b\u2009c\u202fd", "a b c d"),
        ("soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"),
        # whitespace: runs collapsed, tabs of table rows kept without the spaces around them
        ("x  y \t z", "x y\tz"),
        ("Year \t 2024\t 2025", "Year\t2024\t2025"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("  trailing   \n  spaces  ", "trailing\n spaces"),
        # blank lines collapsed; a blank line inside a sentence is a line wrap, not a paragraph
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("The ongoing and escalating\n\ntariff war", "The ongoing and escalating\ntariff war"),
        ("It ends.\n\nthen lower case", "It ends.\n\nthen lower case"),
        ("A heading\n\nNew paragraph", "A heading\n\nNew paragraph"),
        # control characters blanked
        ("bell\x07here", "bell here"),
    ],
)
def test_normalise_rule(raw, clean):
    assert normalise(raw) == clean


def test_normalise_is_idempotent_on_the_brief():
    once = normalise((CORPUS / BRIEF).read_text(encoding="utf-8"))
    assert normalise(once) == once
    assert "\\$" not in once and "**" not in once and "in-\n" not in once
    assert "build resilient AI infrastructure." in once
    assert "15th Annual India-Japan Summit" in once
    assert "US$ 17 billion by 2027" in once


# ---------------------------------------------------------------- pages


def test_niti_form_feeds_give_115_pages():
    doc, pages, report = read(CORPUS / NITI, NITI)
    raw = (CORPUS / NITI).read_text(encoding="utf-8")
    assert raw.count("\f") == 115 and raw.endswith("\f")  # the trailing form feed adds no page
    assert doc.pages == len(pages) == 115
    assert [p.page for p in pages] == list(range(1, 116))
    assert pages[0].text == ""  # blank cover page kept as a page, with no text
    assert pages[-1].text.endswith("augment their expertise.\n\n115")
    assert "100-AI petaflop" in pages[58].text and all("petaflop" not in p.text for p in pages[:58])
    assert doc.title == "Discussion Paper National Strategy for Artificial Intelligence"
    assert report.warnings == []


@pytest.mark.parametrize(
    ("raw", "texts"),
    [
        ("one page only\n", ["one page only"]),
        ("first\fsecond\f", ["first", "second"]),
        ("first\fsecond", ["first", "second"]),
        ("first\f\fthird\f", ["first", "", "third"]),
        ("first\f \n \f", ["first", ""]),  # only the last whitespace part is the trailing form feed
    ],
)
def test_form_feeds(tmp_path, raw, texts):
    f = tmp_path / "doc.txt"
    f.write_text(raw, encoding="utf-8")
    doc, pages, _ = read(f)
    assert [p.text for p in pages] == texts
    assert doc.pages == len(texts)


def test_word_hyphenated_across_a_page_break_joins_on_its_first_page(tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text("Roads need new infra-\f\nstructure soon. More text.\n", encoding="utf-8")
    _, pages, _ = read(f)
    assert [p.text for p in pages] == ["Roads need new infrastructure", "soon. More text."]


def test_japan_pdf_pages_labels_and_blank_pages():
    doc, pages, report = read(CORPUS / JAPAN_PDF, JAPAN_PDF)
    assert doc.format == "pdf" and doc.pages == len(pages) == 74
    assert doc.title == "AI Strategy 2019"
    # No /PageLabels in this PDF: the label is the number printed alone on the page's first or last line.
    assert [p.label for p in pages[:7]] == [None, None, None, None, "1", "2", "3"]
    assert pages[4].text.startswith("1\nIntroduction")
    assert pages[1].text == pages[3].text == ""
    assert report.warnings == ["no text layer (scanned?) on pages 2, 4"]


def test_pdf_page_labels_from_the_pdf(tmp_path, make_pdf):
    f = make_pdf(
        tmp_path / "labelled.pdf",
        [["Cover of the report"], ["Contents of the report"], ["Body text one."], ["Body text two."]],
        labels=[(0, 1, "/r"), (2, 3, "/D", None, 1)],
    )
    _, pages, _ = read(f)
    assert [(p.page, p.label) for p in pages] == [(1, "i"), (2, "ii"), (3, "1"), (4, "2")]


def test_pdf_text_is_normalised_and_hyphens_joined(tmp_path, make_pdf):
    f = make_pdf(
        tmp_path / "r.pdf",
        [["We need in-", "frastructure for the", "India-", "Japan corridor."], ["Second page."]],
        title="Corridor Report",
    )
    doc, pages, report = read(f)
    assert doc.title == "Corridor Report"  # metadata title
    assert pages[0].text == "We need infrastructure for the\nIndia-Japan corridor."
    assert pages[1].text == "Second page."
    assert report.warnings == []


def test_pdf_blank_page_warns_per_page(tmp_path, make_pdf):
    f = make_pdf(tmp_path / "scan.pdf", [["Typed first page."], None, ["Typed third page."], None, None])
    doc, pages, report = read(f)
    assert doc.pages == 5 and [p.text for p in pages][1:] == ["", "Typed third page.", "", ""]
    assert report.warnings == ["no text layer (scanned?) on pages 2, 4-5"]
    assert doc.title == "Typed first page."  # no metadata title: the first block
    chunks = chunk_document(pages, doc.title)
    assert {c.page for c in chunks} == {1, 3}


def test_pdf_without_any_text_layer_is_refused(tmp_path, make_pdf):
    f = make_pdf(tmp_path / "scan.pdf", [None, None])
    assert refused(f) == "no text layer on any page (scanned?)"


def test_pdf_with_a_real_password_is_refused(tmp_path, make_pdf):
    f = make_pdf(tmp_path / "locked.pdf", [["Top secret text."]], password="secret")
    assert refused(f) == "encrypted with a password"


def test_pdf_with_an_empty_password_is_read(tmp_path, make_pdf):
    f = make_pdf(tmp_path / "open.pdf", [["Readable text."]], password="")
    _, pages, _ = read(f)
    assert pages[0].text == "Readable text."


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.95])
def test_truncated_pdf_is_refused(tmp_path, keep):
    data = (CORPUS / JAPAN_PDF).read_bytes()
    f = tmp_path / "cut.pdf"
    f.write_bytes(data[: int(len(data) * keep)])
    assert refused(f).startswith("corrupt or unreadable PDF (")


def test_corrupt_pdfs_are_refused(tmp_path, make_pdf):
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + b"\x00garbage\xff" * 200)
    assert refused(junk).startswith("corrupt or unreadable PDF (")
    text = tmp_path / "text.pdf"
    text.write_text("just some text named .pdf", encoding="utf-8")
    assert refused(text) == "not a PDF (no %PDF header)"
    good = make_pdf(tmp_path / "good.pdf", [["Fine."]])
    pdf_as_txt = tmp_path / "pdf.txt"
    pdf_as_txt.write_bytes(good.read_bytes())
    assert refused(pdf_as_txt) == "PDF data in a .txt file"


# ---------------------------------------------------------------- titles, headings, HTML


def test_brief_title_sections_and_tables():
    doc, pages, _ = read(CORPUS / BRIEF, BRIEF)
    assert doc.title == "Indo-Japanese Collaboration on Artificial Intelligence"
    assert doc.format == "text" and len(pages) == 1
    heads = {h.title: h.level for h in pages[0].headings}
    assert heads["4. Building India's AI Ecosystem: Seeking Global Collaboration"] == 1
    assert heads["Case Study 2: AI Data Centre"] == 3
    assert heads["NTT, Neysa and Telangana Government"] == 4  # a case study's own title nests under it
    assert heads["Table 1: Public Resource Allocation to AI Development in India (in ₹ crore)"] == 3
    assert heads["References"] == 1
    for h in pages[0].headings:
        assert pages[0].text[h.start : h.end] == h.title
    assert "IndiaAI Mission\t0\t173\t2000\tMinistry of Electronics" in pages[0].text


def test_niti_footnotes_and_list_items_are_not_headings():
    _, pages, _ = read(CORPUS / NITI, NITI)
    titles = [h.title for p in pages for h in p.headings]
    assert "26 NTDPC, India Transport Report: Moving India to 2032" not in titles
    assert not any(t.startswith(("Source:", "Credit:")) for t in titles)
    assert not any(t.startswith("2. Multi-tenant") for t in titles)
    assert "Way Forward to Harness the Power of AI" in titles
    assert "Box 15: AIRAWAT (AI Research, Analytics and knoWledge" in titles


def test_text_title_falls_back_to_file_name(tmp_path):
    f = tmp_path / "long-first-paragraph.txt"
    f.write_text(("word " * 40 + "\n") * 2 + "\nSecond paragraph.\n", encoding="utf-8")
    doc, _, _ = read(f)
    assert doc.title == "long-first-paragraph"


MARKDOWN = """# Field Guide

Intro paragraph with a [link](https://example.org) and an ![image](x.png).

## Birds

Text about **birds**.

### Owls

Owls hunt at night.

## Fish

Text about fish.
"""


def test_markdown_headings_give_title_and_section_path(tmp_path):
    f = tmp_path / "guide.md"
    f.write_text(MARKDOWN, encoding="utf-8")
    doc, pages, _ = read(f)
    assert doc.format == "markdown" and doc.title == "Field Guide"
    page = pages[0]
    assert page.text == (
        "Field Guide\n\nIntro paragraph with a link and an image.\n\nBirds\n\nText about birds.\n\n"
        "Owls\n\nOwls hunt at night.\n\nFish\n\nText about fish."
    )
    assert [(page.text[h.start : h.end], h.level) for h in page.headings] == [
        ("Field Guide", 1),
        ("Birds", 2),
        ("Owls", 3),
        ("Fish", 2),
    ]
    sections = {c.text.split("\n")[-1]: c.section for c in chunk_document(pages, doc.title)}
    assert sections["Owls hunt at night."] == ("Field Guide", "Birds", "Owls")
    assert sections["Text about fish."] == ("Field Guide", "Fish")  # "##" after "###" closes both


HTML = """<!DOCTYPE html>
<html><head><title>Trade Report 2025</title>
<script>var tracking = "SCRIPTTEXT";</script><style>.x { color: red }</style></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">NAVLINK About us</a></li></ul></nav>
<main><article>
<h2>Trade between India and Japan</h2>
<p>India and Japan have expanded their trade relationship considerably over the last decade, with
bilateral trade growing every single year since the partnership began.</p>
<h3>Semiconductors</h3>
<p>Japanese firms supply semiconductor equipment to Indian fabs, and several joint ventures were
announced in 2024 alone by the leading companies.</p>
<h2>Data centres</h2>
<p>NTT Data is building a large data centre campus in Hyderabad to serve AI workloads across the
region and beyond.</p>
</article></main>
<footer>Copyright FOOTERTEXT</footer>
<script>console.log("MORESCRIPT")</script>
</body></html>
"""


def test_html_main_text_headings_and_title(tmp_path):
    f = tmp_path / "trade.html"
    f.write_text(HTML, encoding="utf-8")
    doc, pages, _ = read(f)
    assert doc.format == "html" and doc.pages == 1
    assert doc.title == "Trade Report 2025"  # the <title>: the page has no <h1>
    text = pages[0].text
    for gone in ("SCRIPTTEXT", "MORESCRIPT", "NAVLINK", "color: red"):
        assert gone not in text
    assert text.startswith("Trade between India and Japan\n\nIndia and Japan have expanded")
    assert [(h.title, h.level) for h in pages[0].headings] == [
        ("Trade between India and Japan", 2),
        ("Semiconductors", 3),
        ("Data centres", 2),
    ]
    sections = [c.section for c in chunk_document(pages, doc.title)]
    assert sections == [
        ("Trade between India and Japan",),
        ("Trade between India and Japan", "Semiconductors"),
        ("Data centres",),
    ]


def test_html_title_prefers_the_single_h1(tmp_path):
    f = tmp_path / "trade.html"
    f.write_text(HTML.replace("<h2>Trade between India and Japan</h2>", "<h1>Trade Ties</h1>"), "utf-8")
    doc, _, _ = read(f)
    assert doc.title == "Trade Ties"


def test_html_without_text_is_refused(tmp_path):
    f = tmp_path / "empty.html"
    f.write_text("<html><head><script>x()</script></head><body><nav></nav></body></html>", "utf-8")
    assert refused(f) == "no readable text in the HTML"


# ---------------------------------------------------------------- encodings and bad text files

FRENCH = "Café crème brûlée, naïve résumé and the déjà vu of the élève. Señor Muñoz paid 5 £.\n"


def test_latin1_text_is_detected(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes(FRENCH.encode("latin-1"))
    _, pages, _ = read(f)
    assert pages[0].text == FRENCH.strip()


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    data = FRENCH.encode(codec)
    if codec != "utf-16":  # the plain codec writes its own BOM; the explicit ones need one added
        data = ("\ufeff" + FRENCH).encode(codec)
    f = tmp_path / "wide.txt"
    f.write_bytes(data)
    _, pages, _ = read(f)
    assert pages[0].text == FRENCH.strip()


def test_utf8_bom_is_dropped():
    assert decode_text("\ufeffHello".encode()) == "Hello"


def test_binary_txt_is_refused(tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(bytes(range(256)) * 40)
    assert refused(f) == "binary data, not text"
    g = tmp_path / "random.txt"
    g.write_bytes(os.urandom(5000))
    assert refused(g) == "binary data, not text"


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html"])
def test_empty_file_is_refused(tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content)
    assert refused(f) == "empty file"


def test_size_cap(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("word " * 400, encoding="utf-8")  # 2000 bytes
    assert (
        refused(f, max_bytes=1024) == "file too large (1.95 KiB > cap of 1 KiB for text, Markdown and HTML)"
    )
    assert read(f, max_bytes=2000)[1][0].text.startswith("word word")  # at the cap is fine


def test_size_cap_setting_skips_the_file_in_a_build(tmp_path, fake_corpus, build_fake):
    corpus = fake_corpus({"small.txt": "Small enough to read.\n", "big.txt": "word " * 400})
    report = build_fake(corpus, tmp_path / "index", max_file_bytes=1000)
    assert [{k: v for k, v in s.items() if k != "sha256"} for s in report["skipped"]] == [
        {
            "path": "big.txt",
            "bytes": 2000,
            "pages": 0,
            "chunks": 0,
            "status": "skipped",
            "reason": "file too large (1.95 KiB > cap of 1000 bytes for text, Markdown and HTML)",
            "warnings": [],
        }
    ]
    assert report["documents"] == 1


# ---------------------------------------------------------------- the corpus walk


def test_scan_sorted_with_unsupported_and_hidden_files(fake_corpus):
    root = fake_corpus(
        {
            "b.txt": "b",
            "a/z.md": "z",
            "a/y.HTML": "y",
            "notes.pptx": b"PK\x03\x04",
            "README": "no extension",
            ".hidden.txt": "hidden",
            ".git/config.txt": "hidden folder",
            "sub/.DS_Store": b"\x00",
        }
    )
    found, refused_files = scan_corpus(root)
    assert [rel for rel, _ in found] == ["a/y.HTML", "a/z.md", "b.txt"]
    assert [(r.path, r.status, r.reason) for r in refused_files] == [
        ("README", "skipped", "unsupported file type 'README'"),
        ("notes.pptx", "skipped", "unsupported file type '.pptx'"),
    ]


def test_qaignore(fake_corpus):
    root = fake_corpus(
        {
            ".qaignore": "# drafts are not ready\ndrafts/*\n*.md\n\nsecret.txt\n",
            "drafts/one.txt": "draft",
            "drafts/two.docx": "draft",
            "keep.txt": "keep",
            "notes.md": "ignored",
            "deep/more.md": "ignored too",
            "secret.txt": "ignored",
        }
    )
    found, refused_files = scan_corpus(root)
    assert [rel for rel, _ in found] == ["keep.txt"]
    assert refused_files == []


def test_shipped_corpus_ignores_its_readme():
    found, refused_files = scan_corpus(CORPUS)
    assert [rel for rel, _ in found] == [
        BRIEF,
        JAPAN_PDF,
        "related/japan-ai-technology-strategy-2017.txt",
        NITI,
    ]
    assert refused_files == []


def test_symlinks(tmp_path, fake_corpus):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("outside the corpus", encoding="utf-8")
    root = fake_corpus({"real.txt": "inside text"})
    (root / "leak.txt").symlink_to(outside / "private.txt")
    (root / "alias.txt").symlink_to(root / "real.txt")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    found, refused_files = scan_corpus(root)
    assert [rel for rel, _ in found] == ["alias.txt", "real.txt"]
    assert sorted((r.path, r.reason) for r in refused_files) == [
        ("leak.txt", "symlink points outside the corpus"),
        ("linked-dir", "symlinked folder not followed"),
    ]


def test_symlink_with_dotdot_is_resolved(tmp_path, fake_corpus):
    root = fake_corpus({"sub/real.txt": "inside"})
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (root / "sub" / "sneaky.txt").symlink_to(Path("..") / ".." / "secret.txt")
    _, refused_files = scan_corpus(root)
    assert [(r.path, r.reason) for r in refused_files] == [
        ("sub/sneaky.txt", "symlink points outside the corpus")
    ]


def test_missing_corpus_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="corpus folder not found"):
        scan_corpus(tmp_path / "nope")
    with pytest.raises(UsageError, match="corpus folder not found"):
        build_index(tmp_path / "nope", tmp_path / "index", settings=Settings(model="fake:bow-64"))


def test_empty_corpus_is_a_usage_error(tmp_path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(UsageError, match="has no documents"):
        build_index(tmp_path / "corpus", tmp_path / "index", settings=Settings(model="fake:bow-64"))
    assert not (tmp_path / "index").exists()


def test_corpus_of_only_bad_files_is_a_usage_error(tmp_path, fake_corpus, build_fake):
    root = fake_corpus({"a.docx": "x", "b.txt": b"", "c.txt": bytes(range(256)) * 10})
    with pytest.raises(UsageError) as e:
        build_fake(root, tmp_path / "index")
    msg = str(e.value)
    assert "no readable documents" in msg
    for part in ("a.docx: not a Word document", "b.txt: empty file", "c.txt: binary data"):
        assert part in msg
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13])
def test_blockwise_substitution_equals_one_substitution(block):
    from qa.ingest.normalise import _WRAPPED_BLANK, _sub_in_blocks

    text = "a line that wraps\n\ninto this one. Next para.\n \n(x) and\t\n\t\nb c\n\nd, e\n\n\nF g\n\nh"
    for i in range(len(text)):
        t = text[i:] + text[:i]
        assert _sub_in_blocks(_WRAPPED_BLANK, "\n", t, block) == _WRAPPED_BLANK.sub("\n", t), repr(t)
