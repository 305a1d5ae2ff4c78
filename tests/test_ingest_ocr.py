"""Scanned PDF pages (an image, no text layer): OCR with Tesseract, its cap, its cache across builds, and
what is reported when Tesseract is missing. The PDFs are made here from images of rendered text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FAKE_MODEL
from qa.build import build_index
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.errors import IngestError
from qa.index import load_index
from qa.ingest import FileReport, ReadOptions, read_file
from qa.ingest.ocr import CACHE_FILE, OcrCache, parse_tsv
from qa.records import Page

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="Debian's tesseract-ocr is not installed (.ci/run installs it)"
)

LINES = ["Herons wade in shallow marshes.", "Egrets nest in tall reeds."]


def scan(lines: list[str]):
    """A page image (150 dpi, white) with the lines drawn in DejaVu Sans, as a scanner would give it."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 40)
    image = Image.new("L", (1275, 150 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((100, 80 + 70 * n), line, font=font, fill=0)
    return image


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF of page images only: no text layer on any page."""
    images = [scan(lines) for lines in pages]
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return path


def read(path: Path, **options):
    report = FileReport(path.name)
    doc, pages = read_file(path, path.name, 10**9, report, ReadOptions(**options))
    return doc, pages, report


def words(text: str) -> list[str]:
    return text.lower().replace(".", " ").split()


@needs_tesseract
def test_scanned_page_is_read_by_ocr_with_its_confidence(tmp_path):
    f = scanned_pdf(tmp_path / "scan.pdf", [LINES])
    doc, pages, report = read(f)
    assert doc.pages == 1
    page = pages[0]
    assert words(page.text) == words(" ".join(LINES))
    assert page.text.split("\n")[0] == LINES[0]  # lines kept as lines
    assert page.ocr is True
    assert 80 <= page.ocr_confidence <= 100
    assert report.warnings == [
        f"text from OCR (Tesseract) on page 1, mean confidence {page.ocr_confidence:.0f}"
    ]
    # serialised with the page, and an index written before OCR existed still loads
    assert Page.from_dict(page.to_dict()) == page
    old = {k: v for k, v in page.to_dict().items() if k not in ("ocr", "ocr_confidence")}
    assert Page.from_dict(old).ocr is False and Page.from_dict(old).ocr_confidence is None


@needs_tesseract
def test_pages_over_the_cap_are_reported_not_dropped(tmp_path):
    f = scanned_pdf(tmp_path / "scan.pdf", [["Page one about herons."], ["Page two."], ["Page three."]])
    doc, pages, report = read(f, max_ocr_pages=1)
    assert doc.pages == 3 and [p.ocr for p in pages] == [True, False, False]
    assert "herons" in words(pages[0].text) and pages[1].text == pages[2].text == ""
    assert report.warnings[1] == (
        "no text layer (scanned?) on pages 2-3 (not OCR'd: over the cap of 1 OCR pages per file, "
        "QA_MAX_OCR_PAGES)"
    )


def test_cap_zero_turns_ocr_off(tmp_path):
    f = scanned_pdf(tmp_path / "scan.pdf", [LINES])
    with pytest.raises(IngestError) as e:
        read(f, max_ocr_pages=0)
    assert str(e.value) == "no text layer on any page (scanned?); OCR off: QA_MAX_OCR_PAGES=0"


def test_missing_tesseract_reports_the_page_and_how_to_install(tmp_path, make_pdf, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no tesseract on it
    f = scanned_pdf(tmp_path / "scan.pdf", [LINES])
    with pytest.raises(IngestError) as e:
        read(f)
    assert "tesseract not found (install Debian's tesseract-ocr)" in str(e.value)
    # a PDF with a typed page too is read, and its scanned page reported
    from pypdf import PdfReader, PdfWriter

    typed = make_pdf(tmp_path / "typed.pdf", [["Typed page about harbours."]])
    writer = PdfWriter()
    for src in (typed, f):
        for p in PdfReader(src).pages:
            writer.add_page(p)
    mixed = tmp_path / "mixed.pdf"
    writer.write(mixed)
    _, pages, report = read(mixed)
    assert [p.ocr for p in pages] == [False, False] and "harbours" in pages[0].text
    assert report.warnings == [
        "no text layer (scanned?) on page 2 (not OCR'd: tesseract not found (install Debian's tesseract-ocr))"
    ]


def test_blank_page_is_not_sent_to_ocr(tmp_path, make_pdf):
    """A page with no image has nothing to read: reported as before, no OCR run (none cached)."""
    cache = OcrCache()
    f = make_pdf(tmp_path / "r.pdf", [["Typed page."], None])
    _, pages, report = read(f, ocr_cache=cache)
    assert report.warnings == ["no text layer (scanned?) on page 2"]
    assert cache.entries == {} and cache.pages == 0


@needs_tesseract
def test_a_page_is_never_ocrd_twice_across_builds(tmp_path, build_fake):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text("Notes about harbours and their cranes.\n")
    scanned_pdf(corpus / "scan.pdf", [LINES])
    index = tmp_path / "index"
    seen = []
    first = build_index(
        corpus,
        index,
        Settings(model=FAKE_MODEL),
        embedder=FakeEmbedder(model_id=FAKE_MODEL),
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert first["ocr_pages"] == 1
    assert ("ocr", 0, 1) in seen and ("ocr", 1, 1) in seen
    assert len(OcrCache.load(index).entries) == 1
    # an update that leaves the PDF alone keeps its cached OCR; a rebuild then reads it from the cache
    (corpus / "more.txt").write_text("More notes about ports.\n")
    assert build_fake(corpus, index)["ocr_pages"] == 0
    assert len(OcrCache.load(index).entries) == 1
    again = build_fake(corpus, index, rebuild=True)
    assert again["ocr_pages"] == 0 and again["timings"]["ocr"] == 0
    page = load_index(index).pages[("scan.pdf", 1)]
    assert page.ocr and words(page.text) == words(" ".join(LINES))
    # the PDF changed: a page added; only the new page is OCR'd
    scanned_pdf(corpus / "scan.pdf", [LINES, ["Cormorants dry their wings."]])
    assert build_fake(corpus, index)["ocr_pages"] == 1
    assert len(OcrCache.load(index).entries) == 2
    # the PDF removed: its entries go with it
    (corpus / "scan.pdf").unlink()
    build_fake(corpus, index)
    assert not (index / CACHE_FILE).exists()


def test_damaged_cache_lines_cost_only_a_new_ocr(tmp_path):
    (tmp_path / CACHE_FILE).write_text(
        '{"key": "a", "doc": "x.pdf", "text": "kept", "confidence": 90}\nnot json\n{"key": "b"}\n'
    )
    cache = OcrCache.load(tmp_path)
    assert list(cache.entries) == ["a"] and cache.get("a", "x.pdf").text == "kept"
    assert OcrCache.load(tmp_path / "missing").entries == {}


def test_tsv_words_become_lines_and_paragraphs():
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",  # page row, no word
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tHerons",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t93.5\twade.",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t90\tEgrets",
        "5\t1\t1\t1\t2\t2\t0\t0\t1\t1\t-1\t ",  # an empty word Tesseract reports with -1
        "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t80\tFooter",
    ]
    result = parse_tsv("\n".join([head, *rows]))
    assert result.text == "Herons wade.\nEgrets\n\nFooter"
    assert result.confidence == 90.0
    assert parse_tsv(head).text == "" and parse_tsv(head).confidence is None
