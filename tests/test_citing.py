"""Linking the brief's own citations into the index (link_documents), reading them back (Bibliography), and
following a citation to the passage of a cited source that is in the corpus (follow)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from qa.chunk import chunk_document
from qa.citing import Bibliography, follow, link_documents
from qa.ingest import FileReport, read_file

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
BRIEF = "brief/indo-japanese-collaboration-on-ai.txt"
NITI = "sources/niti-aayog-national-strategy-for-ai-2018.txt"
NITI_URL = (
    "https://www.niti.gov.in/sites/default/files/2023-03/National-Strategy-for-Artificial-Intelligence.pdf"
)
HARRIS_URL = "https://blogs.nvidia.com/blog/abci-aist/"
HARRIS_SENTENCE = (
    "Japan's Artificial Intelligence Bridging Cloud Infrastructure (ABCi), developed by National "
    "Institute of Advanced Industrial Science and Technology (AIST), is among the most powerful "
    "public-sector supercomputers globally, supporting open AI research with low energy use and exascale "
    "processing (Harris, 2024)."
)
TABLE1_ROW = "IndiaAI Mission\t0\t173\t2000\tMinistry of Electronics and Information Technology (MeitY)"


def _read(corpus: Path, rel: str):
    doc, pages = read_file(corpus / rel, rel, 10**9, FileReport(rel))
    chunks = chunk_document(pages, doc.title)
    return doc, pages, chunks, [None] * len(chunks)


@pytest.fixture(scope="module")
def linked():
    """The brief and the NITI copy, read, chunked and linked as the index build does it (no model needed)."""
    docs, bib = link_documents(CORPUS, [_read(CORPUS, BRIEF), _read(CORPUS, NITI)])
    return {d.doc: (d, pages, chunks) for d, pages, chunks, _ in docs}, bib


def _span(page_text: str, needle: str) -> tuple[int, int]:
    assert page_text.count(needle) == 1, needle
    a = page_text.index(needle)
    return a, a + len(needle)


def _chunk_holding(chunks, start: int, end: int):
    return next(c for c in chunks if c.start <= start and end <= c.end)


# ---------------------------------------------------------------- link_documents on the real brief


def test_bibliography_of_the_brief(linked):
    docs, bib = linked
    assert list(bib) == [BRIEF]  # the NITI copy has no References list of its own that links
    refs = {r["key"]: r for r in bib[BRIEF]["references"]}
    assert len(refs) == 37
    assert refs["harris-2024"]["url"] == HARRIS_URL and refs["harris-2024"]["in_corpus"] is None
    assert refs["niti-aayog-2018"]["in_corpus"] == NITI and refs["niti-aayog-2018"]["url"] == NITI_URL
    page = docs[BRIEF][1][0].text
    for c in bib[BRIEF]["citations"]:
        assert c["page"] == 1 and page[c["start"] : c["end"]] == c["raw"]
        assert set(c["keys"]) <= set(refs)


def test_niti_copy_gets_the_url_of_its_entry(linked):
    docs, _ = linked
    assert docs[NITI][0].url == NITI_URL
    assert docs[BRIEF][0].url is None  # nothing names a URL for the brief itself


def test_harris_sentence_is_linked(linked):
    docs, bib = linked
    _, pages, chunks = docs[BRIEF]
    text = pages[0].text
    a, b = _span(text, HARRIS_SENTENCE)
    got = Bibliography(bib).for_span(BRIEF, 1, a, b)
    assert [(r["key"], r["label"], r["url"]) for r in got] == [("harris-2024", "Harris (2024)", HARRIS_URL)]
    assert got[0]["title"] == "Japan enhances AI sovereignty with advanced ABCI 3.0 supercomputer"
    assert "harris-2024" in _chunk_holding(chunks, a, b).refs
    # the sentence before it cites nothing
    before = "Its strengths lie in areas where India currently faces capability gaps"
    c, d = _span(text, before)
    assert Bibliography(bib).for_span(BRIEF, 1, c, d) == []


def test_table1_row_is_linked_to_its_source_line(linked):
    docs, bib = linked
    _, pages, chunks = docs[BRIEF]
    text = pages[0].text
    assert "Source: Francis et al., 2025." in text  # Table 1's source line
    a, b = _span(text, TABLE1_ROW)
    got = Bibliography(bib).for_span(BRIEF, 1, a, b)
    assert [(r["key"], r["label"]) for r in got] == [("francis-2025", "Francis et al. (2025)")]
    assert got[0]["url"].startswith("https://www.thehindu.com/data/union-budget-2025-artificial-intelligence")
    row = _chunk_holding(chunks, a, b)
    assert row.kind == "table_row" and row.text == TABLE1_ROW and row.refs == ("francis-2025",)


def test_figure2_rows_take_all_three_sources(linked):
    docs, bib = linked
    text = docs[BRIEF][1][0].text
    a, b = _span(text, "Agriculture\tAI-powered tools have resulted in a 20% increase in crop yields.")
    keys = [r["key"] for r in Bibliography(bib).for_span(BRIEF, 1, a, b)]
    assert keys == ["techsci-research-n-d", "nasscom-n-d", "victoria-2025"]


def test_uncited_sentence_and_unknown_document(linked):
    docs, bib = linked
    text = docs[BRIEF][1][0].text
    a, b = _span(text, "In healthcare, AI is enabling faster, lower-cost diagnostics")
    b_ = Bibliography(bib)
    assert b_.for_span(BRIEF, 1, a, b) == []
    assert b_.for_span("nope.txt", 1, 0, 100) == []
    assert b_.for_span(BRIEF, 2, 0, 10**6) == []  # the brief has one page


def test_reference_chunks_carry_their_own_key(linked):
    docs, bib = linked
    _, pages, chunks = docs[BRIEF]
    refs = [c for c in chunks if c.kind == "reference"]
    assert len(refs) == 37
    by_key = {c.refs[0]: c for c in refs}
    assert all(len(c.refs) == 1 for c in refs) and len(by_key) == 37
    assert set(by_key) == {r["key"] for r in bib[BRIEF]["references"]}
    assert by_key["niti-aayog-2018"].text.startswith("NITI Aayog. (2018, June). National strategy")
    assert by_key["harris-2024"].text.startswith("Harris, D. (2024, July 11).")
    # an entry that wraps across a blank line stays one chunk, its URL included
    francis = by_key["francis-2025"]
    assert (
        francis.text.startswith("Francis, V. R., Wani, S.")
        and "thehindu.com/data/union-budget-2025" in francis.text
    )
    assert all(c.section == ("References",) for c in refs)
    text = pages[0].text
    assert all(text[c.start : c.end] == c.text for c in refs)


def test_documents_without_references_are_left_alone(linked):
    docs, _ = linked
    _, _, niti_chunks = docs[NITI]
    _, _, fresh, _ = _read(CORPUS, NITI)
    assert niti_chunks == fresh  # no refs added to a document without its own References list


# ---------------------------------------------------------------- link_documents on a small corpus


def test_catalogue_url_on_a_copy_and_an_existing_url_kept(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "copies").mkdir(parents=True)
    (corpus / "paper.txt").write_text(
        "A Paper\n\nRivers flood in spring (Doe, 2020). Dams hold water.\n\nReferences\n\n"
        "Doe, J. (2020, May 1). *Rivers and floods*. <https://example.org/rivers>\n",
        encoding="utf-8",
    )
    (corpus / "copies" / "rivers.txt").write_text(
        "Rivers and Floods\n\nSpring floods follow snowmelt.\n", "utf-8"
    )
    (corpus / "sources.json").write_text(
        json.dumps({"copies/rivers.txt": {"reference": "doe-2020", "cites_from": "paper.txt"}}), "utf-8"
    )
    docs, bib = link_documents(corpus, [_read(corpus, "paper.txt"), _read(corpus, "copies/rivers.txt")])
    by = {d.doc: (d, chunks) for d, _, chunks, _ in docs}
    assert by["copies/rivers.txt"][0].url == "https://example.org/rivers"
    assert [r["key"] for r in bib["paper.txt"]["references"]] == ["doe-2020"]
    assert bib["paper.txt"]["references"][0]["in_corpus"] == "copies/rivers.txt"
    (cite,) = bib["paper.txt"]["citations"]
    assert cite["raw"] == "(Doe, 2020)" and tuple(cite["keys"]) == ("doe-2020",)
    text = docs[0][1][0].text
    a, b = _span(text, "Rivers flood in spring (Doe, 2020).")
    assert [r["key"] for r in Bibliography(bib).for_span("paper.txt", 1, a, b)] == ["doe-2020"]
    c, d = _span(text, "Dams hold water.")
    assert Bibliography(bib).for_span("paper.txt", 1, c, d) == []

    # a copy that already has a URL keeps it
    paper, copy = _read(corpus, "paper.txt"), _read(corpus, "copies/rivers.txt")
    copy = (replace(copy[0], url="https://mirror.example/rivers"), *copy[1:])
    docs, _ = link_documents(corpus, [paper, copy])
    assert {d.doc: d.url for d, *_ in docs}["copies/rivers.txt"] == "https://mirror.example/rivers"


# ---------------------------------------------------------------- the built index


@pytest.mark.slow
def test_real_index_documents_and_chunk_refs(real_index, linked):
    assert real_index.documents[NITI]["url"] == NITI_URL
    assert real_index.documents[BRIEF]["url"] is None
    docs, bib = linked
    assert real_index.bibliography.data[BRIEF]["references"] == json.loads(
        json.dumps(bib[BRIEF]["references"])
    )
    row = next(c for c in real_index.chunks if c.text == TABLE1_ROW)
    assert row.refs == ("francis-2025",)
    assert [r["key"] for r in real_index.references_for(row, row.start, row.end)] == ["francis-2025"]
    ref_chunks = [c for c in real_index.chunks if c.kind == "reference"]
    assert len(ref_chunks) == 37 and all(len(c.refs) == 1 for c in ref_chunks)


@pytest.mark.slow
def test_follow_finds_the_passage_in_the_niti_copy(real_index):
    entries = {r["key"]: r for r in real_index.bibliography.data[BRIEF]["references"]}
    quote = "The paper proposes a two-tiered structure to address India's AI research aspirations"
    out = follow(real_index, quote, [entries["harris-2024"], entries["niti-aayog-2018"]])
    assert len(out) == 1  # Harris has no copy in the corpus
    (e,) = out
    assert e["reference"] == "niti-aayog-2018" and e["doc"] == NITI
    assert e["title"] == "Discussion Paper National Strategy for Artificial Intelligence"
    assert real_index.pages[(NITI, e["page"])].text[e["start"] : e["end"]] == e["text"]
    assert "two-tiered structure" in e["text"]
    raw = (CORPUS / NITI).read_text(encoding="utf-8")
    assert e["page"] == raw.count("\f", 0, raw.index("two-tiered structure")) + 1


@pytest.mark.slow
def test_follow_skips_references_without_a_copy(real_index):
    entries = {r["key"]: r for r in real_index.bibliography.data[BRIEF]["references"]}
    assert follow(real_index, "anything at all", [entries["harris-2024"], entries["white-house-2025"]]) == []
    assert follow(real_index, "anything", [dict(entries["harris-2024"], in_corpus="missing/doc.txt")]) == []
