"""The PDF page view: the quote's boxes on the rendered page, checked against text placed at known positions.

The test PDFs are set in Courier (every character 0.6 em wide), so the cell of each character on the page is
known: 12 pt type, lines from (72, 720) with a 20 pt leading, on a 612 × 792 pt page.
"""

import shutil
from pathlib import Path

from qa.ingest import ReadOptions, read_file
from qa.ingest.corpus import FileReport
from qa.pageview import OCR_BOXES, TEXT_LAYER, locate, merge_lines, page_html, place_quote, render_png
from test_ingest_ocr import needs_tesseract, scanned_pdf

W, H, SIZE, X0, Y0, LEAD = 612, 792, 12, 72, 720, 20
CELL = 0.6 * SIZE


def courier_pdf(path: Path, pages: list[list[str]], rotate: int = 0) -> Path:
    """A PDF whose pages show the given lines in 12 pt Courier at known positions."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Courier"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(width=W, height=H)
        ops = ["BT", f"/F1 {SIZE} Tf", f"{X0} {Y0} Td", f"{LEAD} TL"]
        ops += [f"({line}) Tj T*" for line in lines]
        stream = DecodedStreamObject()
        stream.set_data("\n".join([*ops, "ET"]).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        if rotate:
            page.rotate(rotate)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def cells(line: int, first: int, last: int) -> list[tuple[float, float]]:
    """Centres (x, y down, as page fractions) of characters first..last-1 of a line, at half x-height."""
    y = (H - (Y0 - LEAD * line) - 0.25 * SIZE) / H
    return [((X0 + CELL * (c + 0.5)) / W, y) for c in range(first, last)]


def inside(point, box) -> bool:
    x, y = point
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def read(path: Path):
    _, pages = read_file(path, path.name, 10**9, FileReport(path.name), ReadOptions())
    return pages


LINES = ["Herons wade in the marsh at dawn.", "Egrets nest in tall reeds; herons", "wade again at dusk."]


def test_the_boxes_cover_the_quote_on_a_pdf_with_known_text_positions(tmp_path):
    pdf = courier_pdf(tmp_path / "birds.pdf", [LINES])
    text = read(pdf)[0].text
    quote = "herons\nwade again"  # "herons" ends line 2, "wade again" starts line 3
    start = text.index(quote)
    placed = place_quote(pdf, 1, text, start, start + len(quote), ocr=False)
    assert placed.source == TEXT_LAYER and placed.size == (W, H)
    assert len(placed.boxes) == 2  # one box per line
    covered = cells(1, 27, 33) + cells(2, 0, 10)
    assert all(any(inside(p, b) for b in placed.boxes) for p in covered)
    left_out = cells(1, 0, 26) + cells(2, 11, 19) + cells(0, 0, len(LINES[0]))
    assert not any(inside(p, b) for p in left_out for b in placed.boxes)


def test_of_two_occurrences_the_one_at_the_quotes_offset_is_marked(tmp_path):
    pdf = courier_pdf(tmp_path / "birds.pdf", [LINES])
    text = read(pdf)[0].text
    second = text.index("wade", text.index("wade") + 1)
    placed = place_quote(pdf, 1, text, second, second + 4, ocr=False)
    assert len(placed.boxes) == 1
    assert all(inside(p, placed.boxes[0]) for p in cells(2, 0, 4))
    assert not any(inside(p, placed.boxes[0]) for p in cells(0, 7, 11))


def test_a_word_hyphenated_across_lines_is_found(tmp_path):
    pdf = courier_pdf(tmp_path / "h.pdf", [["Japan and India seek collabo-", "ration on chips."]])
    text = read(pdf)[0].text
    assert "collaboration" in text  # the index joined the word
    start = text.index("collaboration")
    placed = place_quote(pdf, 1, text, start, start + len("collaboration on chips"), ocr=False)
    assert len(placed.boxes) == 2
    assert all(any(inside(p, b) for b in placed.boxes) for p in cells(0, 21, 28) + cells(1, 0, 14))


def test_a_rotated_page_gets_its_boxes_turned_with_it(tmp_path):
    pdf = courier_pdf(tmp_path / "r.pdf", [LINES], rotate=90)
    text = read(pdf)[0].text
    start = text.index("Herons")
    placed = place_quote(pdf, 1, text, start, start + len("Herons"), ocr=False)
    ((x0, y0, x1, y1),) = placed.boxes
    # turned a quarter clockwise, the first line runs down the right-hand side
    (cx, cy), *_ = cells(0, 0, 1)
    assert x0 <= 1 - cy <= x1 and y0 <= cx <= y1
    assert y1 - y0 > x1 - x0


def test_a_quote_not_on_the_page_is_shown_unplaced(tmp_path):
    pdf = courier_pdf(tmp_path / "birds.pdf", [LINES])
    text = "Swallows fly south."  # another text than the PDF's
    placed = place_quote(pdf, 1, text, 0, len(text), ocr=False)
    assert placed.boxes == () and "not found" in placed.note
    assert place_quote(pdf, 2, text, 0, 4, ocr=False) is None  # no such page
    assert place_quote(pdf, 1, text, None, None, ocr=False).boxes == ()


def test_render_png_is_the_page_at_the_asked_width(tmp_path):
    from io import BytesIO

    from PIL import Image

    pdf = courier_pdf(tmp_path / "birds.pdf", [LINES])
    image = Image.open(BytesIO(render_png(pdf, 1, width=600)))
    assert image.size[0] == 600 and abs(image.size[1] - 600 * H / W) <= 1
    assert image.convert("L").getextrema()[0] < 100  # the text is drawn
    assert render_png(pdf, 3) is None


def test_locate_and_merge_lines_are_pure():
    words = [("Herons", 0), ("wade", 1), ("here;", 2), ("herons", 3), ("wade", 4)]
    text = "Herons wade here; herons wade"
    assert locate(words, text, text.rindex("herons"), len(text)) == [3, 4]
    assert locate(words, text, 0, 6) == [0]
    assert locate(words, "owls", 0, 4) == []
    rects = [(0.1, 0.1, 0.2, 0.12), (0.2, 0.1, 0.3, 0.125), (0.05, 0.2, 0.1, 0.22)]
    assert merge_lines(rects) == [(0.1, 0.1, 0.3, 0.125), (0.05, 0.2, 0.1, 0.22)]


@needs_tesseract
def test_an_ocr_page_is_marked_from_tesseracts_word_boxes(tmp_path):
    lines = ["Herons wade in shallow marshes.", "Egrets nest in tall reeds.", "Storks fly over."]
    pdf = scanned_pdf(tmp_path / "scan.pdf", [lines])
    page = read(pdf)[0]
    assert page.ocr
    start = page.text.index("Egrets")
    placed = place_quote(pdf, 1, page.text, start, start + len("Egrets nest"), ocr=True)
    assert placed.source == OCR_BOXES
    ((x0, y0, x1, y1),) = placed.boxes
    # line 2 is drawn 150-190 px down a 360 px page (test_ingest_ocr.scan), from x = 100 px of 1275
    assert y0 <= 170 / 360 <= y1 and y1 < 225 / 360 and y0 > 115 / 360
    assert x0 <= 110 / 1275 and 0.15 < x1 < 0.5


def test_an_ocr_page_without_tesseract_says_why_and_shows_the_quote(tmp_path, monkeypatch):
    pdf = courier_pdf(tmp_path / "birds.pdf", [LINES])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    placed = place_quote(pdf, 1, LINES[0], 0, 6, ocr=True)
    assert placed.boxes == () and "Tesseract is not installed" in placed.note
    view = {"doc": "b.pdf", "title": "Birds", "format": "pdf", "pages": 1, "page": 1, "label": None}
    out = page_html(dict(view, text=LINES[0], ocr=True), 0, 6, "n0nce", placed)
    assert "“Herons”" in out and "Tesseract is not installed" in out and "read by OCR" in out
    assert 'class="box"' not in out


def test_page_html_draws_the_boxes_over_the_image_and_escapes_the_text():
    from qa.pageview import Placement

    view = {"doc": "a b.pdf", "title": "<T>", "format": "pdf", "pages": 3, "page": 2, "label": "ii"}
    text = "x <script>alert(1)</script> y"
    placed = Placement((612, 792), ((0.1, 0.2, 0.5, 0.25),), TEXT_LAYER)
    out = page_html(dict(view, text=text, ocr=False), 2, 10, "n0nce", placed)
    assert "<script>alert" not in out and "&lt;T&gt;" in out
    assert 'id="hit" style="left:10.000%;top:20.000%;width:40.000%;height:5.000%"' in out
    assert 'src="/api/documents/a%20b.pdf/pages/2/image"' in out
    assert "page 2 (printed ii) of 3" in out
    assert 'href="/view/a%20b.pdf?page=1"' in out and 'href="/view/a%20b.pdf?page=3"' in out
    assert 'href="/api/documents/a%20b.pdf/file#page=2"' in out
    assert "Highlighted on the page from its text layer." in out
