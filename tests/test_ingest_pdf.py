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


def cells_pdf(path: Path, rows: list[list[tuple[int, str]]], scaled: bool = False) -> Path:
    """A PDF whose rows place each cell at its own x position (points), as financial statements do;
    ``scaled``: 10-point text drawn as a 1-point font under a 10× text matrix, as many producers write it."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    ops = []
    for n, row in enumerate(rows):
        for x, text in row:
            y = 740 - 14 * n
            place = f"/F1 1 Tf 10 0 0 10 {x} {y} Tm" if scaled else f"/F1 10 Tf {x} {y} Td"
            ops.append(f"BT {place} ({text}) Tj ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    with open(path, "wb") as f:
        writer.write(f)
    return path


@pytest.mark.parametrize("scaled", [False, True])
def test_pdfium_cells_reads_column_gaps_as_tabs(tmp_path, scaled):
    f = cells_pdf(
        tmp_path / "statement.pdf",
        [
            [(72, "Consolidated Statements of Earnings")],
            [(72, "Fiscal Years Ended"), (300, "January 28, 2023"), (420, "January 29, 2022")],
            [(72, "Revenue"), (300, "$"), (340, "46,298"), (420, "$"), (460, "51,761")],
            [(72, "Cost of sales"), (340, "36,386"), (460, "40,121")],
            [(72, "Net earnings rose in the year, as the notes explain.")],
        ],
        scaled=scaled,
    )
    doc, pages, _ = read(f, "pypdfium2-cells")
    assert pages[0].text.split("\n") == [
        "Consolidated Statements of Earnings",
        "Fiscal Years Ended\tJanuary 28, 2023\tJanuary 29, 2022",
        "Revenue\t$ 46,298\t$ 51,761",
        "Cost of sales\t36,386\t40,121",
        "Net earnings rose in the year, as the notes explain.",  # word spaces stay spaces
    ]
    rows = {c.text: c for c in chunk_document(pages, doc.title, 200, 900) if c.kind == "table_row"}
    assert "January 29, 2022" in rows["Revenue\t$ 46,298\t$ 51,761"].context
    # plain pypdfium2 reads the same words with single spaces, and qa.ingest.tables finds the same cells
    _, plain, _ = read(f, "pypdfium2")
    assert plain[0].text == pages[0].text


def test_page_that_inflates_past_the_limit_is_never_given_to_pdfium(tmp_path, make_pdf, monkeypatch):
    """A deflate bomb: a small stream that inflates past the limit is reported, not inflated by PDFium
    (which has no limit) nor rendered for OCR. Limits scaled down so the test's bomb stays small."""
    import zlib

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, StreamObject

    monkeypatch.setattr("qa.ingest.pdf.INFLATE_LIMIT", 4 << 20)
    monkeypatch.setattr("qa.ingest.pdf._BIG_CONTENT", 1 << 10)
    f = make_pdf(tmp_path / "bomb.pdf", [["Typed page about harbours."], ["A page to replace."]])
    writer = PdfWriter(clone_from=PdfReader(f))
    stream = StreamObject()
    stream._data = zlib.compress(b" " * (64 << 20), 9)  # 64 KB on disk, 64 MiB inflated
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.pages[1][NameObject("/Contents")] = writer._add_object(stream)
    with open(f, "wb") as out:
        writer.write(out)
    for extractor in EXTRACTORS:
        _, pages, report = read(f, extractor)
        assert "harbours" in pages[0].text and pages[1].text == ""
        assert report.warnings == ["page 2: not read (its content inflates past 4 MiB)"]


COVER = [
    "FORM 10-K",
    "For the fiscal year ended December 31, 2022",
    "HERON FREIGHT INC.",
    "(Exact name of registrant as specified in its charter)",
]


def test_an_accession_number_is_no_title_a_filings_cover_says_what_it_is(tmp_path, make_pdf):
    accession = "0000320193-23-000106"  # EDGAR's PDFs often carry it as their metadata title
    f = make_pdf(tmp_path / "HERON_2022_10K.pdf", [COVER, ["Revenue grew on our routes."]], title=accession)
    doc, _, _ = read(f, "pypdfium2")
    assert doc.title == "HERON FREIGHT INC. Form 10-K for the fiscal year ended December 31, 2022"
    # a filing's cover wins over a metadata title that is only the cover's first line
    g = make_pdf(tmp_path / "heron.pdf", [COVER], title="UNITED STATES SECURITIES AND EXCHANGE COMMISSION")
    assert read(g, "pypdfium2")[0].title.startswith("HERON FREIGHT INC. Form 10-K")
    # no cover: the metadata title if it reads as one, else what the first page says
    h = make_pdf(tmp_path / "memo.pdf", [["Port Budget Memo"], ["The port grew."]], title=accession)
    assert read(h, "pypdfium2")[0].title == "Port Budget Memo"
    m = make_pdf(tmp_path / "memo2.pdf", [["Port Budget Memo"]], title="Harbour Plan 2024")
    assert read(m, "pypdfium2")[0].title == "Harbour Plan 2024"


def test_a_pdf_is_identified_as_it_is_read_from_its_cover_and_metadata(tmp_path, make_pdf):
    doc = read(make_pdf(tmp_path / "HERON_2022_10K.pdf", [COVER]), "pypdfium2")[0]
    assert doc.identity.names[0] == "HERON FREIGHT INC." and doc.title.startswith(doc.identity.names[0])
    assert (doc.identity.form, doc.identity.year, doc.identity.date) == ("10-K", 2022, "2022-12-31")
    # no cover: what the metadata says it is
    meta = "Form 10-Q for the period ending 2023-07-29"
    scan = read(make_pdf(tmp_path / "scan.pdf", [["Some text."]], title=meta), "pypdfium2")[0]
    assert (scan.identity.form, scan.identity.date, scan.title) == ("10-Q", "2023-07-29", meta)


STACKED = """CONSOLIDATED BALANCE SHEETS
(In thousands)
December 31,
2022
At December 31,
2021
Current assets
Cash and cash equivalents $ 5,911,893 $ 4,703,059
Inventories 126,065 96,374
$ 6,037,958 $ 4,799,433
LIABILITIES AND STOCKHOLDERS' EQUITY
Current liabilities
Accounts payable $ 369,817 $ 286,196
The years 2022
2021 are compared below."""


def test_periods_printed_one_to_a_line_head_the_rows_and_a_bare_total_stays_in_its_table():
    from qa.ingest import find_headings, normalise
    from qa.ingest.tables import statement_cells
    from qa.records import Page

    cells = statement_cells(STACKED)
    assert len(cells) == len(STACKED)  # line breaks and spaces became tabs or spaces, nothing else
    lines = cells.split("\n")
    assert lines[2] == "December 31, 2022\tAt December 31, 2021"  # a date's year joins it, periods are cells
    assert lines[6] == "$ 6,037,958\t$ 4,799,433"  # a total row printed without its label
    assert lines[-2:] == ["The years 2022", "2021 are compared below."]  # no rows under them: untouched
    text = normalise(cells)
    chunks = chunk_document([Page(doc="f.pdf", page=1, text=text, headings=find_headings(text))], "Filing")
    rows = {c.text.split("\t")[0]: c.context for c in chunks if c.kind == "table_row"}
    title = "CONSOLIDATED BALANCE SHEETS | (In thousands)"
    header = " | Columns: - | December 31, 2022 | At December 31, 2021"
    assert rows["Cash and cash equivalents"] == title + " | Current assets" + header
    # the total row keeps the table: the two label lines after it group the next rows under the same header
    assert (
        rows["Accounts payable"]
        == title + " | LIABILITIES AND STOCKHOLDERS' EQUITY | Current liabilities" + header
    )
