"""Word documents (.docx, python-docx): headings as sections, paragraphs, tables as rows, page breaks, title,
and bad files reported and skipped."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from qa.chunk import chunk_document
from qa.errors import IngestError
from qa.ingest import FileReport, read_file

CAP = 10**9


def read(path: Path):
    report = FileReport(path.name)
    doc, pages = read_file(path, path.name, CAP, report)
    return doc, pages, report


def budget_docx(path: Path, title: str | None = "Harbour Budget 2024", page_break: bool = True) -> Path:
    import docx
    from docx.enum.text import WD_BREAK

    d = docx.Document()
    if title:
        d.core_properties.title = title
    d.add_heading("Harbour Report", 0)
    d.add_heading("1. Overview", 1)
    d.add_paragraph("The harbour handled more cargo this year.\tIts cranes were renewed.")
    d.add_heading("Budget", 2)
    d.add_paragraph("Table 1: Allocations (₹ crore)")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [["Item", "2023-2024", "2024-2025"], ["Cranes", "120", "150"], ["Dredging", "", ""]]
    ):
        for c, text in enumerate(row):
            t.cell(r, c).text = text
    t.cell(2, 1).merge(t.cell(2, 2)).text = "80"
    p = d.add_paragraph("Before the break.")
    if page_break:
        p.add_run().add_break(WD_BREAK.PAGE)
    p.add_run("After the break.")
    d.add_heading("2. Outlook", 1)
    d.add_paragraph("Dredging continues next year.")
    d.save(path)
    return path


def test_headings_paragraphs_tables_and_page_breaks(tmp_path):
    doc, pages, report = read(budget_docx(tmp_path / "budget.docx"))
    assert (doc.format, doc.title, doc.pages) == ("docx", "Harbour Budget 2024", 2)
    assert report.warnings == []
    one, two = pages
    assert [(h.level, h.title) for h in one.headings] == [
        (1, "Harbour Report"),
        (1, "1. Overview"),
        (2, "Budget"),
    ]
    for h in one.headings:
        assert one.text[h.start : h.end] == h.title
    lines = one.text.split("\n")
    # a tab inside a paragraph is not a table cell; table rows are tab-separated, a merged cell once
    assert "The harbour handled more cargo this year. Its cranes were renewed." in lines
    assert "Item\t2023-2024\t2024-2025" in lines and "Cranes\t120\t150" in lines and "Dredging\t80" in lines
    assert one.text.endswith("Before the break.")
    assert two.text.startswith("After the break.")
    assert [(h.level, h.title) for h in two.headings] == [(1, "2. Outlook")]


def test_table_rows_are_chunked_with_their_title_and_header(tmp_path):
    doc, pages, _ = read(budget_docx(tmp_path / "budget.docx"))
    chunks = chunk_document(pages, doc.title, 200, 900)
    rows = {c.text: c for c in chunks if c.kind == "table_row"}
    cranes = rows["Cranes\t120\t150"]
    assert "Item" in cranes.context and "2024-2025" in cranes.context
    assert cranes.section[-1] == "Budget"
    prose = next(c for c in chunks if "more cargo" in c.text)
    assert prose.kind == "text" and prose.section == ("1. Overview",)  # Title and Heading 1 are both top


def test_title_falls_back_to_the_first_heading_and_one_page_without_breaks(tmp_path):
    doc, pages, _ = read(budget_docx(tmp_path / "b.docx", title=None, page_break=False))
    assert doc.title == "Harbour Report" and doc.pages == 1
    assert "Before the break.After the break." in pages[0].text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"just some text, not a zip", "not a Word document (not a .docx zip file)"),
        (b"PK\x03\x04" + bytes(300), "corrupt or unreadable Word document"),
    ],
)
def test_bad_docx_is_refused_with_its_reason(tmp_path, content, reason):
    f = tmp_path / "bad.docx"
    f.write_bytes(content)
    with pytest.raises(IngestError) as e:
        read(f)
    assert str(e.value).startswith(reason)


def test_truncated_and_foreign_zips_are_refused(tmp_path):
    good = budget_docx(tmp_path / "good.docx").read_bytes()
    cut = tmp_path / "cut.docx"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(IngestError, match="corrupt or unreadable Word document"):
        read(cut)
    other = tmp_path / "other.docx"  # a zip, but not a Word document
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hello")
    with pytest.raises(IngestError, match="corrupt or unreadable Word document"):
        read(other)


def test_empty_document_and_xml_bomb_are_refused(tmp_path, monkeypatch):
    import docx

    empty = tmp_path / "empty.docx"
    docx.Document().save(empty)
    with pytest.raises(IngestError, match="no text in the Word document"):
        read(empty)
    monkeypatch.setattr("qa.ingest.word.MAX_XML_BYTES", 1000)
    with pytest.raises(IngestError, match="too large unpacked"):
        read(budget_docx(tmp_path / "big.docx"))


def test_docx_in_a_corpus_is_indexed_and_a_bad_one_skipped(tmp_path, build_fake):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    budget_docx(corpus / "budget.docx")
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04garbage")
    report = build_fake(corpus, tmp_path / "index")
    assert report["added"] == ["budget.docx"]
    assert [s["path"] for s in report["skipped"]] == ["broken.docx"]
    assert report["skipped"][0]["reason"].startswith("corrupt or unreadable Word document")


def test_upload_accepts_a_docx_by_its_content(tmp_path):
    from qa.uploads import UploadRejected, check_content, sanitize_filename

    data = budget_docx(tmp_path / "budget.docx").read_bytes()
    assert sanitize_filename("My Budget.DOCX") == "My-Budget.docx"
    check_content("budget.docx", data, 10**7)  # accepted
    with pytest.raises(UploadRejected, match="not a Word document") as e:
        check_content("notes.docx", b"plain text named .docx", 10**7)
    assert e.value.status == 415
