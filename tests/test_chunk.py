"""Pages → chunks: sentences, tables, references, and the offset invariants (hypothesis + shipped corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunk import chunk_document, estimate_tokens, split_sentences
from qa.ingest import FileReport, find_headings, normalise, read_file, scan_corpus
from qa.ingest.tables import statement_cells
from qa.records import Chunk, Page

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def page_of(text: str, doc: str = "doc.txt", page: int = 1, raw: bool = False) -> Page:
    """A page as ingest makes it: normalised text with its plain-text headings (``raw``: text as given)."""
    text = text if raw else normalise(text)
    return Page(doc=doc, page=page, text=text, headings=find_headings(text))


def check_invariants(pages: list[Page], chunks: list[Chunk]) -> None:
    """Offsets slice back, sentences inside chunks, nothing lost, no overlap, ids from offsets."""
    by_page = {(p.doc, p.page): p for p in pages}
    assert len({c.id for c in chunks}) == len(chunks), "chunk ids are unique"
    covered: dict[tuple[str, int], list[int]] = {k: [0] * len(p.text) for k, p in by_page.items()}
    in_sentence: dict[tuple[str, int], list[int]] = {k: [0] * len(p.text) for k, p in by_page.items()}
    last_end: dict[tuple[str, int], int] = {}
    for c in chunks:
        key = (c.doc, c.page)
        text = by_page[key].text
        assert text[c.start : c.end] == c.text
        assert c.id == f"{c.doc}#p{c.page}:{c.start}-{c.end}"
        assert c.text and c.text == c.text.strip()
        assert c.start >= last_end.get(key, 0), "chunks of a page are in order and do not overlap"
        last_end[key] = c.end
        assert c.sentences, "every chunk has sentences"
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        prev = c.start
        for a, b in c.sentences:
            assert prev <= a < b <= c.end, "sentences are ordered, disjoint and inside the chunk"
            assert text[a:b] == text[a:b].strip()
            prev = b
            for i in range(a, b):
                in_sentence[key][i] += 1
        for i in range(c.start, c.end):
            covered[key][i] += 1
    for key, page in by_page.items():
        for i, ch in enumerate(page.text):
            if not ch.isspace():
                assert covered[key][i] == 1, f"character {i} {ch!r} of {key} is in {covered[key][i]} chunks"
                assert in_sentence[key][i] == 1, f"character {i} {ch!r} of {key} is in no sentence"


# ---------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. and India signed it. Japan agreed.", ["The U.S. and India signed it.", "Japan agreed."]),
        ("The U.K. is there. The U.S.A. too.", ["The U.K. is there.", "The U.S.A. too."]),
        (
            "Use tools, e.g. Python and Java. Then stop.",
            ["Use tools, e.g. Python and Java.", "Then stop."],
        ),
        ("That is, i.e. This one. Next.", ["That is, i.e. This one.", "Next."]),
        ("It costs Rs. 500 per unit. That is cheap.", ["It costs Rs. 500 per unit.", "That is cheap."]),
        ("See No. 5 in the list. Next one.", ["See No. 5 in the list.", "Next one."]),
        ("Growth was 1.5% last year. It rose.", ["Growth was 1.5% last year.", "It rose."]),
        ("Growth was 1.5%. Then 0.5 per cent. Done!", ["Growth was 1.5%.", "Then 0.5 per cent.", "Done!"]),
        ("Written by R. H. Laskar in 2025. Later.", ["Written by R. H. Laskar in 2025.", "Later."]),
        ("Smith et al. found this. Others did not.", ["Smith et al. found this.", "Others did not."]),
        ("Mr. Modi met Dr. Sato. Prof. Rao too.", ["Mr. Modi met Dr. Sato.", "Prof. Rao too."]),
        ("Is it? Yes. Wow! Ok.", ["Is it?", "Yes.", "Wow!", "Ok."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("Costs (about 5.) Then more.", ["Costs (about 5.)", "Then more."]),
        ("lower case after a stop. stays joined", ["lower case after a stop. stays joined"]),
        (
            "Key points:\n• First point\n▪ Second point\n- third one\n(a) fourth\n1. fifth",
            ["Key points:", "• First point", "▪ Second point", "- third one", "(a) fourth", "1. fifth"],
        ),
        ("A wrapped\nline stays one sentence.", ["A wrapped\nline stays one sentence."]),
        ("First paragraph\n\nSecond paragraph", ["First paragraph", "Second paragraph"]),
        ("   ", []),
        ("", []),
    ],
)
def test_split_sentences(text, expected):
    assert sentences(text) == expected


def test_split_sentences_inside_a_span_gives_absolute_offsets():
    text = "Intro. One here. Two there. Outro."
    a = text.index("One")
    b = text.index(" Outro")
    assert split_sentences(text, a, b) == [(a, a + 9), (a + 10, b)]


# ---------------------------------------------------------------- tables

TABLE = (
    "Table 9: Budget for Robots (in ₹ crore)\n\n"
    "Scheme\t2023–2024\t2024–2025\tMinistry\n"
    "Robot Mission\t10\t20\tMinistry of Machines\n"
    "\t5\t7\tDepartment of Gears\n"
    "Drone Mission\t1\t2\tMinistry of Skies\n\n"
    "Source: Made up (2025).\n\n"
    "A closing paragraph about robots. It has two sentences.\n"
)


def test_table_rows_are_chunks_with_title_and_header_context():
    page = page_of(TABLE)
    chunks = chunk_document([page], "Doc")
    check_invariants([page], chunks)
    rows = [c for c in chunks if c.kind == "table_row"]
    title = "Table 9: Budget for Robots (in ₹ crore)"
    header = " | Columns: Scheme | 2023–2024 | 2024–2025 | Ministry"
    assert [(c.text, c.context) for c in rows] == [
        ("Scheme\t2023–2024\t2024–2025\tMinistry", title),
        ("Robot Mission\t10\t20\tMinistry of Machines", title + header),
        # an empty first cell inherits the row label of the row above
        ("5\t7\tDepartment of Gears", title + header + " | Scheme: Robot Mission"),
        ("Drone Mission\t1\t2\tMinistry of Skies", title + header),
    ]
    assert all(c.section == (title,) for c in rows)
    robot = rows[1]
    assert [page.text[a:b] for a, b in robot.sentences] == [
        "Robot Mission",
        "10",
        "20",
        "Ministry of Machines",
    ]
    # the Source line closes the table: the closing paragraph is no longer in its section
    assert chunks[-1].text == "A closing paragraph about robots. It has two sentences."
    assert chunks[-1].section == () and chunks[-1].kind == "text"


def test_prose_between_two_tables_resets_the_header():
    text = "Table 1: A\n\nName\tValue\nx\t1\n\nSome prose in between.\n\nName2\tValue2\ny\t2\n"
    chunks = chunk_document([page_of(text)])
    rows = {c.text: c.context for c in chunks if c.kind == "table_row"}
    assert rows["y\t2"] == "Table 1: A | Columns: Name2 | Value2"


def test_brief_table_1_row():
    doc, pages, _ = _read(BRIEF)
    chunks = chunk_document(pages, doc.title)
    row = next(c for c in chunks if c.text.startswith("IndiaAI Mission\t"))
    assert row.kind == "table_row"
    assert (
        row.text
        == "IndiaAI Mission\t0\t173\t2000\tMinistry of Electronics and Information Technology (MeitY)"
    )
    assert row.context == (
        "Table 1: Public Resource Allocation to AI Development in India (in ₹ crore) | Columns: "
        "Initiative/Mission | 2022–2023 | 2023–2024 | 2024–2025 | Concerned Ministry"
    )
    assert row.section == (
        "4. Building India's AI Ecosystem: Seeking Global Collaboration",
        "Table 1: Public Resource Allocation to AI Development in India (in ₹ crore)",
    )
    ntt = next(c for c in chunks if c.text.startswith("Data centre\tNTT Data"))
    assert ntt.context.endswith(" | India AI Mission Pillar: Innovation Centre")


# A page of a filing as PDFium gives it: single spaces between columns, no blank lines.
STATEMENT = """Table of Contents
Consolidated Statements of Earnings
$ and shares in millions, except per share amounts
Fiscal Years Ended January 28, 2023 January 29, 2022 January 30, 2021
Revenue $ 46,298 $ 51,761 $ 47,262
Cost of sales 36,386 40,121 36,689
Other income (expense):
Interest expense (35) (25) (52)
Gross profit as a % of revenue 24.2 % 23.4 % 24.0 %
Revenue grew in fiscal 2023 because of 2 stores and 3 sites.
Selected data for the segment ($ in millions):
2023 2022
Balance at December 31, 2022 1,234 5,678
"""


def test_statement_cells_tab_separate_rows_and_their_period_headings():
    lines = statement_cells(STATEMENT).split("\n")
    assert lines[3] == "Fiscal Years Ended\tJanuary 28, 2023\tJanuary 29, 2022\tJanuary 30, 2021"
    assert lines[4] == "Revenue\t$ 46,298\t$ 51,761\t$ 47,262"  # a lone currency sign joins its amount
    assert lines[7] == "Interest expense\t(35)\t(25)\t(52)"
    assert lines[8] == "Gross profit as a % of revenue\t24.2 %\t23.4 %\t24.0 %"
    assert lines[11] == "2023\t2022"  # periods over the amounts, none over the labels
    assert lines[12] == "Balance at December 31, 2022\t1,234\t5,678"  # the year is the label's
    untouched = [0, 1, 2, 6, 9, 10]  # titles, a group label, a sentence ending in numbers
    assert [lines[i] for i in untouched] == [STATEMENT.split("\n")[i] for i in untouched]
    assert len(statement_cells(STATEMENT)) == len(STATEMENT)  # only spaces became tabs


def test_statement_rows_carry_the_tables_title_group_and_period_header():
    page = page_of(statement_cells(STATEMENT), doc="filing.pdf")
    chunks = chunk_document([page], "Filing")
    check_invariants([page], chunks)
    rows = {c.text.split("\t")[0]: c.context for c in chunks if c.kind == "table_row"}
    title = "Table of Contents | Consolidated Statements of Earnings | " + STATEMENT.split("\n")[2]
    header = " | Columns: Fiscal Years Ended | January 28, 2023 | January 29, 2022 | January 30, 2021"
    assert rows["Revenue"] == title + header
    assert rows["Interest expense"] == title + " | Other income (expense):" + header
    # a sentence ends the table; the label lines after it title the next, whose header has no label column
    assert rows["Balance at December 31, 2022"] == (
        "Selected data for the segment ($ in millions): | Columns: - | 2023 | 2022"
    )


def test_a_filings_row_is_answered_under_its_header(make_pdf, build_fake, tmp_path):
    """PDF → plain PDFium text → statement cells → row chunks → "how much was X in year Y" shows the row
    with the asked period's column."""
    import qa

    lines = STATEMENT.split("\n")[1:6] + ["Revenue grew in fiscal 2023 because the stores opened."]
    make_pdf(tmp_path / "corpus" / "ACME_2023_10K.pdf", [lines])
    build_fake(tmp_path / "corpus", tmp_path / "index")
    ans = qa.load_index(tmp_path / "index").ask("How much was revenue in 2022?")
    assert ans.display == "Revenue — January 29, 2022: $ 51,761"
    assert [c.quote for c in ans.citations] == ["Revenue\t$ 46,298\t$ 51,761\t$ 47,262"]


def test_a_row_too_long_to_embed_is_split_with_the_same_context():
    cell = " ".join(f"Sentence number {i} about a very long table cell." for i in range(60))
    page = page_of(f"Table 2: Long\n\nKey\tText\nrow\t{cell}\n")
    chunks = chunk_document([page], max_tokens=120)
    check_invariants([page], chunks)
    rows = [c for c in chunks if c.kind == "table_row" and c.context.endswith("Columns: Key | Text")]
    assert len(rows) > 3
    assert rows[0].text.startswith("row\tSentence number 0")
    for c in rows:
        assert estimate_tokens(c.text) <= 120 - estimate_tokens(c.context)


# ---------------------------------------------------------------- headings and references


def test_headings_start_chunks_and_give_the_section_path():
    doc, pages, _ = _read(BRIEF)
    chunks = chunk_document(pages, doc.title)
    by_start = {c.text.split("\n")[0]: c for c in chunks}
    intro = by_start["1. Introduction"]
    assert intro.section == ("1. Introduction",)
    assert intro.start == pages[0].text.index("1. Introduction")
    tokyo = by_start["Tokyo Electron and TATA Electronics"]
    assert tokyo.section == (
        "5. Existing Collaboration Between India and Japan",
        "Case Studies",
        "Case Study 1: Semiconductor Materials/Equipment",
        "Tokyo Electron and TATA Electronics",
    )
    market = next(c for c in chunks if "US$ 17 billion by 2027" in c.text)
    assert market.section == ("1. Introduction",) and market.kind == "text"


def test_brief_references_are_one_chunk_each():
    doc, pages, _ = _read(BRIEF)
    refs = [c for c in chunk_document(pages, doc.title) if c.kind == "reference"]
    assert len(refs) == 37  # the brief cites 37 sources
    assert all(c.section == ("References",) for c in refs)
    assert refs[0].text.startswith("Boston Consulting Group. (2024, February).")
    assert refs[-1].text.startswith("White House. (2025, February).")
    for c in refs:
        assert "http" in c.text, c.text
    francis = next(c for c in refs if c.text.startswith("Francis, V. R."))
    # the entry wraps over a blank line before its outlet and URL: still one chunk
    assert francis.text.endswith("allocations/article69163704.ece>")
    assert "\n\nThe Hindu. <https://" in francis.text


def test_references_on_consecutive_lines_are_split_per_entry():
    text = (
        "Intro text.\n\nReferences\n\n"
        "Alpha, A. (2020). First title. <https://a.example>\n"
        "Beta, B. (n.d.). Second title\ncontinued on a second line. https://b.example\n"
        "Gamma Org. (2021a, May 3). Third title.\n\n<https://c.example>\n"
    )
    page = page_of(text)
    chunks = chunk_document([page])
    check_invariants([page], chunks)
    assert [c.text for c in chunks if c.kind == "reference"] == [
        "Alpha, A. (2020). First title. <https://a.example>",
        "Beta, B. (n.d.). Second title\ncontinued on a second line. https://b.example",
        "Gamma Org. (2021a, May 3). Third title.\n\n<https://c.example>",
    ]


# ---------------------------------------------------------------- small cases


def test_empty_pages_give_no_chunks():
    pages = [Page("d.txt", 1, ""), Page("d.txt", 2, "   \n\n \t "), Page("d.txt", 3, "Only text.")]
    chunks = chunk_document(pages)
    assert [(c.id, c.text) for c in chunks] == [("d.txt#p3:0-10", "Only text.")]


def test_ids_and_offsets_exact():
    text = "Alpha beta. Gamma delta.\n\nSecond paragraph here."
    page = Page("x/y.txt", 4, text)
    chunks = chunk_document([page])
    assert [(c.id, c.start, c.end, c.sentences) for c in chunks] == [
        ("x/y.txt#p4:0-48", 0, 48, ((0, 11), (12, 24), (26, 48))),
    ]


def test_chunks_respect_the_budget_and_split_at_sentences():
    text = " ".join(f"Sentence {i} has several plain words in it." for i in range(100))
    page = Page("d.txt", 1, text)
    chunks = chunk_document([page], max_tokens=60, max_chars=10_000)
    check_invariants([page], chunks)
    assert len(chunks) > 5
    for c in chunks:
        assert estimate_tokens(c.text) <= 60
        assert c.text.endswith(".") and c.text.startswith("Sentence ")
    chunks = chunk_document([page], max_tokens=10_000, max_chars=300)
    assert all(len(c.text) <= 300 for c in chunks) and len(chunks) > 10


def test_an_overlong_sentence_is_cut_at_words():
    text = "word " * 500 + "end."
    page = Page("d.txt", 1, text.strip())
    chunks = chunk_document([page], max_tokens=50)
    check_invariants([page], chunks)
    assert len(chunks) > 5 and all(estimate_tokens(c.text) <= 50 for c in chunks)


def test_section_path_carries_across_pages():
    pages = [
        page_of("1. Scope\n\nFirst page text.", page=1),
        page_of("Continued on the second page.", page=2),
        page_of("2. Method\n\nThird page text.", page=3),
    ]
    sections = [(c.page, c.section) for c in chunk_document(pages)]
    assert sections == [(1, ("1. Scope",)), (2, ("1. Scope",)), (3, ("2. Method",))]


# ---------------------------------------------------------------- properties on generated text

WORDS = [
    "India",
    "Japan",
    "the",
    "AI",
    "market",
    "U.S.",
    "e.g.",
    "i.e.",
    "Rs.",
    "500",
    "No.",
    "5",
    "1.5%",
    "R.",
    "H.",
    "Laskar",
    "in-",
    "India-",
    "**bold**",
    "*it*",
    "US\\$",
    "\ufb01le",
    "\u00a0",
    "•",
    "-",
    "(a)",
    "1.",
    "Table 3:",
    "Case Study 1:",
    "Source:",
    "References",
    "Alpha, A. (2020).",
    "<https://x.example>",
    "2024–2025",
    "Growth",
    "?",
    "!",
    '"',
    ")",
]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", "\t", ". ", "? ", ".\n\n", " \n \n", "\r\n"]
raw_text = st.lists(st.sampled_from(WORDS + SEPARATORS), max_size=120).map("".join)
any_text = st.lists(
    st.sampled_from(list("ab. \n\t?!•-()1A%\u00a0\r\f\x0b") + ["U.S.", "Rs. ", "Source:", "References\n"]),
    max_size=150,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(raw_text, min_size=1, max_size=4), max_tokens=st.sampled_from([8, 30, 200]))
def test_property_invariants_on_generated_pages(raws, max_tokens):
    pages = [page_of(raw, page=i + 1) for i, raw in enumerate(raws)]
    chunks = chunk_document(pages, "Title", max_tokens=max_tokens, max_chars=400)
    check_invariants(pages, chunks)
    assert chunk_document(pages, "Title", max_tokens=max_tokens, max_chars=400) == chunks, "deterministic"
    for p in pages:
        if not p.text.strip():
            assert not [c for c in chunks if c.page == p.page]


@settings(max_examples=300, deadline=None)
@given(text=any_text)
def test_property_invariants_on_raw_text(text):
    """The chunker holds its invariants on any text, even text ingest never produces."""
    page = page_of(text, raw=True)
    chunks = chunk_document([page], max_tokens=12, max_chars=60)
    check_invariants([page], chunks)


@settings(max_examples=150, deadline=None)
@given(text=any_text)
def test_property_sentences_slice_back(text):
    spans = split_sentences(text)
    prev = 0
    for a, b in spans:
        assert prev <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        prev = b
    assert "".join("".join(text[a:b].split()) for a, b in spans) == "".join(text.split()), "nothing lost"


@settings(max_examples=100, deadline=None)
@given(raw=raw_text, doc=st.sampled_from(["a.txt", "dir/b.md"]))
def test_property_ids_are_stable_and_depend_only_on_the_page(raw, doc):
    page = page_of(raw, doc=doc, page=3)
    first = chunk_document([page])
    # the same page chunked after another document's pages: same chunks, same ids
    other = page_of("Other text. More.", doc="z.txt")
    again = [c for c in chunk_document([other]) + chunk_document([page]) if c.doc == doc]
    assert [c.id for c in first] == [c.id for c in again]
    assert all(c.id.startswith(f"{doc}#p3:") for c in first)


# ---------------------------------------------------------------- the shipped corpus


def _read(rel: str):
    report = FileReport(rel)
    doc, pages = read_file(CORPUS / rel, rel, 10**9, report)
    return doc, pages, report


@pytest.fixture(scope="module")
def shipped() -> list[tuple]:
    """(document, pages, chunks) of every shipped corpus file, chunked as the index does by default."""
    found, _ = scan_corpus(CORPUS)
    out = []
    for rel, _ in found:
        doc, pages, _ = _read(rel)
        out.append((doc, pages, chunk_document(pages, doc.title)))
    return out


def test_shipped_corpus_invariants(shipped):
    assert [d.doc for d, _, _ in shipped] == [
        BRIEF,
        "related/japan-ai-strategy-2019.pdf",
        "related/japan-ai-technology-strategy-2017.txt",
        "sources/niti-aayog-national-strategy-for-ai-2018.txt",
    ]
    for doc, pages, chunks in shipped:
        check_invariants(pages, chunks)
        assert {c.doc for c in chunks} == {doc.doc}
        empty = {p.page for p in pages if not p.text.strip()}
        assert empty.isdisjoint({c.page for c in chunks})
        again = chunk_document(pages, doc.title)
        assert [c.id for c in again] == [c.id for c in chunks]
    niti_pages = {c.page for c in shipped[3][2]}
    assert 1 not in niti_pages and 59 in niti_pages  # the blank cover gives no chunk


@pytest.mark.slow
def test_shipped_chunks_fit_the_model_window(shipped):
    """Chunk plus what is embedded with it stays within all-MiniLM-L6-v2's 256 word pieces."""
    from qa.embed import get_embedder
    from qa.units import embed_text

    embedder = get_embedder()
    assert embedder.max_tokens == 256
    worst = max(
        (embedder.count_tokens(embed_text(c, doc.title, True)), c.id)
        for doc, _, chunks in shipped
        for c in chunks
    )
    assert worst[0] <= 256, worst
