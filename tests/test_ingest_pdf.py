"""PDF text extractors (pypdfium2 by default, pypdf, pypdf's layout mode): the same pages, labels and words
from each; layout mode's column gaps as table cells; the extractor and the OCR cap in the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.chunk import chunk_document
from qa.config import Settings
from qa.errors import UsageError
from qa.ingest import FileReport, ReadOptions, read_file
from qa.ingest.pdf import EXTRACTORS, layout_cells

JAPAN_PDF = Path(__file__).resolve().parents[1] / "corpus" / "related" / "japan-ai-strategy-2019.pdf"


def read(path: Path, extractor: str):
    report = FileReport(path.name)
    doc, pages = read_file(path, path.name, 10**9, report, ReadOptions(pdf_text=extractor))
    return doc, pages, report


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_every_extractor_gives_the_same_pages_labels_and_words(tmp_path, make_pdf, extractor):
    f = make_pdf(
        tmp_path / "r.pdf",
        [["Cover"], ["Contents"], ["We need in-", "frastructure for the", "India-", "Japan corridor."], None],
        labels=[(0, 1, "/r"), (2, 3, "/D", None, 1)],
        title="Corridor Report",
    )
    doc, pages, report = read(f, extractor)
    assert (doc.title, doc.pages) == ("Corridor Report", 4)
    assert [(p.page, p.label) for p in pages] == [(1, "i"), (2, "ii"), (3, "1"), (4, "2")]
    assert pages[2].text == "We need infrastructure for the\nIndia-Japan corridor."
    assert report.warnings == ["no text layer (scanned?) on page 4"]


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_encrypted_pdf_with_an_empty_password_is_read(extractor):
    doc, pages, _ = read(JAPAN_PDF, extractor)
    assert doc.title == "AI Strategy 2019" and doc.pages == 74
    assert pages[4].label == "1" and "Introduction\n" in pages[4].text  # layout mode puts the "1" last


def test_layout_mode_keeps_table_columns_as_cells(tmp_path, make_pdf):
    f = make_pdf(
        tmp_path / "t.pdf",
        [
            [
                "Table 2: Port budget",
                "Item          2023          2024",
                "Cranes          $          120          $          150",
                "The port grew fast in  the last year.",
            ]
        ],
    )
    doc, pages, _ = read(f, "pypdf-layout")
    lines = pages[0].text.split("\n")
    assert lines[1:] == ["Item\t2023\t2024", "Cranes\t$ 120\t$ 150", "The port grew fast in the last year."]
    rows = [c for c in chunk_document(pages, doc.title, 200, 900) if c.kind == "table_row"]
    assert [r.text for r in rows] == ["Item\t2023\t2024", "Cranes\t$ 120\t$ 150"]
    assert "Item" in rows[1].context and "2024" in rows[1].context
    # the default extractor reads the same words, with the columns as single spaces
    _, plain, _ = read(f, "pypdfium2")
    assert plain[0].text.split() == pages[0].text.split()


def test_layout_cells_rules():
    assert layout_cells("   Revenue     $     46,298    $  51,761") == "Revenue\t$ 46,298\t$  51,761"
    assert layout_cells("two  spaces stay in prose\n\n  indented") == "two  spaces stay in prose\n\nindented"


def test_unknown_extractor_is_an_error(tmp_path, make_pdf):
    f = make_pdf(tmp_path / "r.pdf", [["Text."]])
    with pytest.raises(ValueError, match="unknown PDF text extractor 'pdftotext'"):
        read(f, "pdftotext")


def test_extractor_and_ocr_cap_are_index_settings(monkeypatch):
    base = Settings().fingerprint()
    assert Settings(pdf_text="pypdf").fingerprint() != base
    assert Settings(max_ocr_pages=5).fingerprint() != base
    monkeypatch.setenv("QA_MAX_OCR_PAGES", "7")
    assert Settings.from_env().max_ocr_pages == 7
    monkeypatch.setenv("QA_MAX_OCR_PAGES", "lots")
    with pytest.raises(UsageError, match="QA_MAX_OCR_PAGES must be a whole number of pages"):
        Settings.from_env()
