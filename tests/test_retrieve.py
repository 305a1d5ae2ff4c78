"""Retrieval: reciprocal rank fusion, each retriever's leader first, k clamping, document filters, and the
dense / BM25 / hybrid rankings of a tiny corpus built with the deterministic fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

import qa
from qa.errors import UsageError
from qa.retrieve import (
    PER_TABLE_PAGE,
    RRF_K,
    TABLE_ROWS,
    _with_leaders,
    expand_acronyms,
    fuse,
    label_initials,
    layout,
    page_terms,
    search,
    spread,
)

# Five one-sentence documents (one chunk each) whose words barely overlap: "hunt" is the only shared word.
DOCS = {
    "birds/herons.txt": "Grey herons hunt frogs in shallow marshes at dawn.\n",
    "birds/owls.txt": "Barn owls hunt voles in quiet meadows at night.\n",
    "boats/kayaks.txt": "Kayaks glide across calm lakes near pine forests.\n",
    "boats/ferries.txt": "Ferries carry trucks across the windy channel daily.\n",
    "kitchen.md": "# Kitchen\n\nCopper pans simmer tomato soup slowly.\n",
}
ALL = sorted(DOCS)


def rrf(*ranks: int) -> float:
    return sum(1.0 / (RRF_K + r) for r in ranks)


@pytest.fixture
def idx(tmp_path, fake_corpus, build_fake):
    corpus = fake_corpus(DOCS)
    build_fake(corpus, tmp_path / "index")
    return qa.load_index(tmp_path / "index")


def docs_of(hits) -> list[str]:
    return [h.chunk.doc for h in hits]


# ---------------------------------------------------------------- fusion math


def test_rrf_constant_is_the_usual_60():
    assert RRF_K == 60


def test_fuse_sums_reciprocal_ranks():
    dense = [(0, 0.9), (1, 0.5), (2, 0.1)]
    lexical = [(1, 7.0), (3, 2.0)]
    fused = fuse([dense, lexical], k=10)
    assert [row for row, _ in fused] == [1, 0, 3, 2]  # 2nd lexical (1/62) above 3rd dense (1/63)
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 62 + 1 / 61)  # 2nd dense + 1st lexical
    assert scores[0] == pytest.approx(1 / 61)
    assert scores[2] == pytest.approx(1 / 63)
    assert scores[3] == pytest.approx(1 / 62)


def test_fuse_orders_by_score_then_row_and_ignores_raw_scores():
    # Raw retriever scores play no part: only ranks count.
    a = fuse([[(5, 1000.0)], [(3, 0.001)]], k=10)
    assert a == [(3, pytest.approx(1 / 61)), (5, pytest.approx(1 / 61))]  # tie → lower row first
    assert fuse([[(4, 0.1), (9, 0.0)], [(9, 5.0), (4, 4.0)]], k=10) == [
        (4, pytest.approx(rrf(1, 2))),
        (9, pytest.approx(rrf(2, 1))),
    ]


def test_fuse_truncates_to_k_and_handles_empty_rankings():
    dense = [(i, 1.0 - i / 10) for i in range(6)]
    assert [row for row, _ in fuse([dense, []], k=3)] == [0, 1, 2]
    assert fuse([[], []], k=5) == []
    assert fuse([dense], k=0) == []


def test_fuse_exact_scores_of_a_longer_example():
    dense = [(10, 0), (11, 0), (12, 0), (13, 0)]
    lexical = [(13, 0), (12, 0), (14, 0)]
    got = fuse([dense, lexical], k=10)
    expected = {10: rrf(1), 11: rrf(2), 12: rrf(3, 2), 13: rrf(4, 1), 14: rrf(3)}
    assert (
        [row for row, _ in got] == sorted(expected, key=lambda r: (-expected[r], r)) == [13, 12, 10, 11, 14]
    )
    for row, score in got:
        assert score == pytest.approx(expected[row])


def test_with_leaders_puts_each_retrievers_top_first():
    dense = [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)]
    lexical = [(9, 5.0), (1, 4.0), (2, 3.0)]
    fused = fuse([dense, lexical], k=10)
    # Rows 1 and 2 are second and third in both rankings: fusion puts them above both leaders.
    assert [row for row, _ in fused] == [1, 2, 0, 9, 3]
    led = _with_leaders(fused, [dense, lexical], k=10, leaders=1)
    assert [row for row, _ in led] == [0, 9, 1, 2, 3]
    assert dict(led) == dict(fused)  # scores are the fused ones, only the order changes
    assert [row for row, _ in _with_leaders(fused, [dense, lexical], k=3, leaders=1)] == [0, 9, 1]
    # top two of each: {0, 1} and {9, 1} first, in fused order
    assert [row for row, _ in _with_leaders(fused, [dense, lexical], k=10, leaders=2)] == [1, 0, 9, 2, 3]
    assert _with_leaders(fused, [dense, lexical], k=10, leaders=0) == fused


def test_with_leaders_when_both_retrievers_agree():
    dense = [(4, 1.0), (5, 0.5)]
    lexical = [(4, 2.0), (6, 1.0)]
    fused = fuse([dense, lexical], k=10)
    assert [row for row, _ in _with_leaders(fused, [dense, lexical], k=10, leaders=1)] == [4, 5, 6]


# ---------------------------------------------------------------- k, retrievers, filters on a tiny corpus


def test_tiny_corpus_has_one_chunk_per_document(idx):
    assert sorted(c.doc for c in idx.chunks) == ALL
    assert len(idx.chunks) == 5


@pytest.mark.parametrize("retriever", ["dense", "hybrid"])
def test_k_is_clamped_to_the_corpus(idx, retriever):
    hits = search(idx, "herons hunt frogs", k=1000, retriever=retriever)
    assert len(hits) == 5
    assert sorted(docs_of(hits)) == ALL  # every chunk once
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert len(search(idx, "herons hunt frogs", k=0, retriever=retriever)) == 1  # at least one


def test_k_is_clamped_inside_a_document_filter(idx):
    hits = search(idx, "hunt", k=50, docs=["birds"], retriever="dense")
    assert sorted(docs_of(hits)) == ["birds/herons.txt", "birds/owls.txt"]


def test_bm25_ranks_by_matched_terms_and_drops_non_matches(idx):
    hits = search(idx, "owls hunt voles at night", k=5, retriever="bm25")
    assert docs_of(hits) == ["birds/owls.txt", "birds/herons.txt"]  # owls matches 4 terms, herons 1
    assert hits[0].score > hits[1].score > 0
    assert all(h.dense is None and h.lexical == h.score for h in hits)


def test_bm25_equal_scores_tie_by_row(idx):
    # "hunt" once in each of two seven-term documents: equal BM25 scores, the earlier row first.
    hits = search(idx, "hunt", k=5, retriever="bm25")
    assert docs_of(hits) == ["birds/herons.txt", "birds/owls.txt"]
    assert hits[0].score == pytest.approx(hits[1].score)


def test_bm25_without_a_match_returns_nothing(idx):
    assert search(idx, "zebra giraffe", k=5, retriever="bm25") == []


def test_dense_ranking_and_scores(idx):
    q = "herons hunt frogs"
    qvec = idx.embed_query(q)
    hits = search(idx, q, k=5, retriever="dense")
    assert docs_of(hits)[:2] == ["birds/herons.txt", "birds/owls.txt"]  # all three words, then "hunt"
    for h in hits:  # the score is the cosine of the query with the stored chunk vector
        assert h.score == pytest.approx(float(idx.vectors[idx.row_of[h.chunk.id]] @ qvec), abs=1e-5)
        assert h.dense == h.score and h.lexical is None
    assert hits[0].score > hits[1].score > 0
    assert [h.score for h in hits[2:]] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)  # no shared word
    assert sorted(docs_of(hits[2:])) == ["boats/ferries.txt", "boats/kayaks.txt", "kitchen.md"]


def test_dense_ranking_inside_a_filter_is_exact(idx):
    q = "owls hunt voles at night"
    qvec = idx.embed_query(q)
    hits = search(idx, q, k=5, docs=["birds"], retriever="dense")
    assert docs_of(hits) == ["birds/owls.txt", "birds/herons.txt"]
    for h in hits:
        assert h.score == pytest.approx(float(idx.vectors[idx.row_of[h.chunk.id]] @ qvec), abs=1e-5)


def test_hybrid_fuses_both_rankings(idx):
    hits = search(idx, "herons hunt frogs", k=5, retriever="hybrid")
    assert docs_of(hits)[:2] == ["birds/herons.txt", "birds/owls.txt"]
    # herons: 1st in both; owls: 2nd in both; the rest only in the dense ranking, at ranks 3-5.
    assert hits[0].score == pytest.approx(rrf(1, 1))
    assert hits[1].score == pytest.approx(rrf(2, 2))
    assert [h.score for h in hits[2:]] == pytest.approx([rrf(3), rrf(4), rrf(5)])
    assert hits[0].lexical > hits[1].lexical > 0 and hits[0].dense > hits[1].dense
    assert all(h.lexical is None and h.dense is not None for h in hits[2:])


def test_hybrid_query_without_lexical_match_is_dense_only(idx):
    dense = search(idx, "zebra giraffe", k=5, retriever="dense")
    hybrid = search(idx, "zebra giraffe", k=5, retriever="hybrid")
    assert docs_of(hybrid) == docs_of(dense) and len(hybrid) == 5
    assert all(h.lexical is None for h in hybrid)
    assert [h.score for h in hybrid] == pytest.approx([rrf(r) for r in range(1, 6)])
    assert [h.dense for h in hybrid] == [h.score for h in dense]


def test_hybrid_is_the_default_and_index_search_matches(idx):
    a = search(idx, "ferries trucks channel", k=3)
    b = idx.search("ferries trucks channel", k=3, retriever="hybrid")
    assert [(h.chunk.id, h.score) for h in a] == [(h.chunk.id, h.score) for h in b]
    assert a[0].chunk.doc == "boats/ferries.txt" and a[0].score == pytest.approx(rrf(1, 1))


def test_precomputed_query_vector_is_used(idx):
    qvec = idx.embed_query("soup")
    a = search(idx, "kayaks", k=1, retriever="dense", qvec=qvec)
    assert docs_of(a) == ["kitchen.md"]  # the vector wins over the text for the dense side


def test_unknown_retriever_is_refused(idx):
    with pytest.raises(ValueError, match="unknown retriever 'splade' \\(choose from dense, bm25, hybrid\\)"):
        search(idx, "soup", retriever="splade")


# ---------------------------------------------------------------- document filters


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["birds/herons.txt"], ["birds/herons.txt"]),  # relative path
        (["owls.txt"], ["birds/owls.txt"]),  # file name
        (["kitchen"], ["kitchen.md"]),  # file stem
        (["boats/kay"], ["boats/kayaks.txt"]),  # unique prefix
        (["birds"], ["birds/herons.txt", "birds/owls.txt"]),  # a folder prefix: every document under it
        (["corpus/boats/ferries.txt"], ["boats/ferries.txt"]),  # the corpus folder named too
        (["birds\\owls.txt"], ["birds/owls.txt"]),  # Windows separators
        (["kitchen.md", "owls.txt", "kitchen.md"], ["kitchen.md", "birds/owls.txt"]),  # several, deduplicated
    ],
)
def test_document_filter(idx, filters, expected):
    assert idx.resolve_docs(filters) == expected
    for retriever in ("dense", "hybrid"):
        hits = search(idx, "hunt soup kayaks ferries", k=10, docs=filters, retriever=retriever)
        assert sorted(docs_of(hits)) == sorted(expected)


def test_no_filter_means_every_document(idx):
    assert idx.resolve_docs(None) is None and idx.resolve_docs([]) is None


def test_bm25_respects_the_filter(idx):
    hits = search(idx, "owls hunt voles at night", k=5, docs=["herons.txt"], retriever="bm25")
    assert docs_of(hits) == ["birds/herons.txt"]  # the better match is outside the filter


def test_unknown_document_is_a_usage_error(idx):
    with pytest.raises(UsageError) as e:
        search(idx, "soup", docs=["nope.txt"])
    assert str(e.value) == "unknown document 'nope.txt' (see: qa status --json for the documents)"
    with pytest.raises(UsageError, match="unknown document 'zzz'"):
        search(idx, "soup", docs=["kitchen.md", "zzz"])


def test_hits_carry_chunk_and_per_retriever_scores(idx):
    h = search(idx, "copper pans simmer soup", k=1)[0]
    assert h.chunk.doc == "kitchen.md" and h.rank == 1
    page = idx.pages[(h.chunk.doc, h.chunk.page)].text
    assert page[h.chunk.start : h.chunk.end] == h.chunk.text
    d = h.to_dict()
    assert set(d) == {
        "rank",
        "chunk_id",
        "doc",
        "page",
        "section",
        "score",
        "dense",
        "lexical",
        "start",
        "end",
        "text",
    }
    assert d["chunk_id"] == h.chunk.id and d["doc"] == "kitchen.md" and d["page"] == 1
    assert isinstance(d["dense"], float) and isinstance(d["lexical"], float)
    assert np.isclose(d["score"], rrf(1, 1))


# ---------------------------------------------------------------- the documents a query names

COVER = (
    "FORM {form}\nFor the {period} ended {end}\nHERON FREIGHT INC.\n"
    "(Exact name of registrant as specified in its charter)\n\f"
)
FILINGS = {
    "HERON_2022_10K.txt": COVER.format(form="10-K", period="fiscal year", end="December 31, 2022")
    + "Heron Freight revenue grew on new routes.\n",
    "HERON_2023Q2_10Q.txt": COVER.format(form="10-Q", period="quarterly period", end="June 30, 2023")
    + "Heron Freight revenue fell on fewer routes.\n",
    "kitchen.md": "# Kitchen\n\nRevenue of the kitchen is soup.\n",
}


@pytest.fixture
def filings(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus(FILINGS), tmp_path / "filings")
    return qa.load_index(tmp_path / "filings")


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_a_query_naming_a_company_searches_its_documents_and_the_year_decides(filings, retriever):
    everything = set(FILINGS)
    heron = {"HERON_2022_10K.txt", "HERON_2023Q2_10Q.txt"}
    assert set(docs_of(search(filings, "revenue routes", k=20, retriever=retriever))) <= everything
    assert set(docs_of(search(filings, "Heron revenue routes", k=20, retriever=retriever))) == heron
    got = docs_of(search(filings, "Why did Heron revenue change in FY2022?", k=20, retriever=retriever))
    assert set(got) == {"HERON_2022_10K.txt"}
    got = docs_of(search(filings, "Heron Freight revenue in Q2 2023", k=20, retriever=retriever))
    assert set(got) == {"HERON_2023Q2_10Q.txt"}


def test_a_query_naming_no_document_searches_all_and_an_explicit_filter_wins(filings):
    assert set(docs_of(search(filings, "revenue", k=20, retriever="bm25"))) == set(FILINGS)
    got = docs_of(search(filings, "Heron revenue in FY2022", k=20, docs=["kitchen.md"]))
    assert set(got) == {"kitchen.md"}


def test_inside_the_named_documents_the_name_no_longer_ranks_passages(tmp_path, fake_corpus, build_fake):
    cover = COVER.format(form="10-K", period="fiscal year", end="December 31, 2022")
    files = {"HERON_2022_10K.txt": cover + "Heron Freight is Heron Freight.\n\fRevenue grew on routes.\n"}
    build_fake(fake_corpus({**files, "kitchen.md": FILINGS["kitchen.md"]}), tmp_path / "named")
    idx = qa.load_index(tmp_path / "named")
    hits = search(idx, "Heron Freight revenue", k=3, retriever="bm25")
    assert hits[0].chunk.text == "Revenue grew on routes."
    # the same words with the document given explicitly: the name's repetitions count
    hits = search(idx, "Heron Freight revenue", k=3, retriever="bm25", docs=["HERON_2022_10K.txt"])
    assert hits[0].chunk.text == "Heron Freight is Heron Freight."


# ---------------------------------------------------------------- table pages, pages spread, acronyms

# A paged report (form feeds): prose on page 1, a statement on page 2 (title, header, rows), prose on page 3
# (chunks of a few words: one sentence each).
REPORT = (
    "Our plants ran well. Capital projects grew.\n"
    "\f"
    "Balance Sheet\n"
    "Item\t2022\t2021\n"
    "Property, plant and equipment, net\t120\t110\n"
    "Capital stock\t5\t4\n"
    "Capital surplus\t3\t2\n"
    "Capital leases\t1\t1\n"
    "\f"
    "Spending rose in the north and the south.\n\nPlans grew in the east and the west.\n\n"
    "Leases fell in the towns and the cities.\n"
)


@pytest.fixture
def report(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus({"acme/report.txt": REPORT, **DOCS}), tmp_path / "report", max_tokens=12)
    return qa.load_index(tmp_path / "report")


def test_label_initials_read_and_as_skipped_or_written_n():
    got = label_initials("Property, plant and equipment, net")
    assert ("ppe", "property plant and equipment") in got  # "PP&E"
    assert ("ppne", "property plant and equipment") in got  # "PPNE", as "JnJ" writes "and"
    assert ("ppen", "property plant and equipment net") in got
    assert not any(phrase.startswith("and") or phrase.endswith("and") for _, phrase in got)


def test_an_acronym_is_searched_as_the_row_label_it_spells(report):
    q = "Did PPNE grow?"
    assert expand_acronyms(report, q, ["acme/report.txt"]) == f"{q} property plant and equipment"
    assert expand_acronyms(report, "Did PP&E grow?", ["acme/report.txt"]).endswith("plant and equipment")
    assert expand_acronyms(report, q, None) == q  # the whole corpus: no document's line items
    assert expand_acronyms(report, "Did AI grow?", ["acme/report.txt"]) == "Did AI grow?"  # two capitals
    hits = search(report, q, k=3, docs=["acme"], retriever="bm25")
    assert hits[0].chunk.text.startswith("Property, plant and equipment, net")
    assert search(report, q, k=3, retriever="bm25") == []  # "PPNE" and "grow" are in no chunk


def test_the_rows_of_a_table_page_share_the_pages_rank_and_prose_keeps_its_own(report):
    lay = layout(report)
    rows = [i for i, c in enumerate(report.chunks) if c.doc == "acme/report.txt" and c.page == 2]
    assert len(rows) >= TABLE_ROWS and len({int(lay.unit[r]) for r in rows}) == 1
    prose = [i for i, c in enumerate(report.chunks) if c.doc == "acme/report.txt" and c.page != 2]
    assert len({int(lay.unit[r]) for r in prose}) == len(prose)  # each prose chunk is its own unit
    query = "capital"
    qvec, lex = report.embed_query(query), report.lexical.scores(query)
    candidates = rows + prose
    terms = page_terms(report, qvec, lex, candidates)
    assert len({terms[r] for r in rows}) == 1
    # by hand: the table page by its rows' BM25 sum and mean similarity, each prose chunk by its own
    units = [rows] + [[r] for r in prose]
    lexical = [float(lex[u].sum()) for u in units]
    dense = [float(np.mean(np.asarray(report.vectors[u]) @ qvec)) for u in units]

    def rank(scores, i):
        return 1 + sum(s > scores[i] for s in scores)

    assert terms[rows[0]] == pytest.approx(rrf(rank(lexical, 0), rank(dense, 0)))
    assert terms[prose[0]] == pytest.approx(rrf(rank(lexical, 1), rank(dense, 1)))
    assert lexical[0] > max(lexical[1:])  # together the rows hold the word more than any one passage


def test_without_a_table_page_among_the_candidates_fusion_is_unchanged(idx):
    q = "herons hunt frogs"
    assert page_terms(idx, idx.embed_query(q), idx.lexical.scores(q), list(range(len(idx.chunks)))) is None


def test_spread_keeps_one_row_of_a_table_page_before_the_other_pages_and_passages_in_place(report):
    table = [i for i, c in enumerate(report.chunks) if c.doc == "acme/report.txt" and c.page == 2]
    page3 = [i for i, c in enumerate(report.chunks) if c.doc == "acme/report.txt" and c.page == 3]
    assert len(table) >= 3 and len(page3) == 3
    ranked = [
        (table[0], 0.9),
        (table[1], 0.8),
        (page3[0], 0.7),
        (page3[1], 0.6),
        (table[2], 0.5),
        (page3[2], 0.4),
    ]
    assert spread(report, ranked, per_page=1) == [ranked[i] for i in (0, 2, 3, 5, 1, 4)]
    assert spread(report, ranked, per_page=2) == [ranked[i] for i in (0, 1, 2, 3, 5, 4)]
    assert spread(report, ranked, per_page=3) == ranked
    birds = [i for i, c in enumerate(report.chunks) if c.doc.startswith("birds/")]
    unpaged = [(r, 1.0 - n / 10) for n, r in enumerate(birds)]
    assert spread(report, unpaged, per_page=1) == unpaged  # passages: each its own unit


def test_hybrid_search_shows_one_row_of_a_table_page_among_its_top_hits(report):
    hits = search(report, "capital stock surplus leases", k=3, docs=["acme"])
    assert [h.chunk.page for h in hits].count(2) == PER_TABLE_PAGE == 1
