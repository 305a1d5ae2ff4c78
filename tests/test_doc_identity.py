"""Document identity: what a filing's file name, metadata and first pages say it is (company, ticker, form,
fiscal year, quarter), which documents a question names, and the index storing it. Companies made up."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.doc_identity import (
    Asked,
    Identity,
    asked,
    identify,
    is_title,
    named_documents,
    without_names,
)
from qa.records import Page

TEN_K = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
FORM 10-K
ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the fiscal year ended {end}
Commission file number 1-1234
{name}
(Exact name of registrant as specified in its charter)
Title of each class Trading Symbol Name of exchange on which registered
Common Stock, $0.10 par value per share {ticker} New York Stock Exchange
"""
TEN_Q = """FORM 10-Q
QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the quarterly period ended {end}
{name}
(Exact name of registrant as specified in its charter)
"""
RELEASE = """Exhibit 99.1
{upper} REPORTS FOURTH QUARTER AND FULL YEAR 2022 FINANCIAL RESULTS
Reno, Nevada, February 8, 2023 - {name} (NYSE: {ticker}) today reported results for the quarter and year
ended December 31, 2022.
"""


def pages_of(*texts: str, doc: str = "d.pdf") -> list[Page]:
    return [Page(doc=doc, page=i, text=t) for i, t in enumerate(texts, start=1)]


def ident(stem: str, *texts: str, metadata: dict | None = None) -> Identity:
    return identify(Path(f"{stem}.pdf"), "", pages_of(*texts), metadata=metadata or {})[0]


def cover_title(stem: str, *texts: str) -> str | None:
    return identify(Path(f"{stem}.pdf"), "", pages_of(*texts))[1]


# ---------------------------------------------------------------- build time


def test_a_10k_cover_gives_registrant_ticker_form_and_fiscal_year():
    cover = TEN_K.format(end="January 28, 2023", name="GOOD HARVEST FOODS CO., INC.", ticker="GHF")
    body = "Good Harvest Foods sells food. Our stores had a good year, the best since fiscal 2019."
    got = ident("annual-report", cover, body)
    assert got.names == ("GOOD HARVEST FOODS CO., INC.",)
    assert got.tickers == ("GHF",)
    assert (got.form, got.year, got.quarter, got.date) == ("10-K", 2023, None, "2023-01-28")
    # "good" is a word the filing also writes in lower case: not a one-word name of the company
    assert got.short == ()
    assert ("good", "harvest", "foods") in got.name_keys()


def test_a_filings_title_is_its_registrant_form_and_period_with_the_fiscal_year_it_does_not_say():
    cover = TEN_K.format(end="December 31, 2022", name="HERON FREIGHT INC.", ticker="HRN")
    assert cover_title("HERON_2022_10K", cover) == (
        "HERON FREIGHT INC. Form 10-K for the fiscal year ended December 31, 2022"
    )
    # a 52-week year's quarter ends in the calendar year before the fiscal year named after it
    q2 = TEN_Q.format(end="July 29, 2023", name="GOOD HARVEST CO.")
    assert cover_title("GOODHARVEST_2024Q2_10Q", q2) == (
        "GOOD HARVEST CO. Form 10-Q for the quarterly period ended July 29, 2023 (fiscal 2024, Q2)"
    )
    release = RELEASE.format(upper="HERON", name="Heron Freight Inc.", ticker="HRN")
    assert cover_title("HERON_2022Q4_EARNINGS", release) is None  # no cover
    # the cover's registrant, not a listed name nor a later registrant
    assert cover_title("x", "Heron Freight Inc. (NYSE: HRN) reports results.") is None
    first = TEN_K.format(end="December 31, 2022", name="HERON FREIGHT INC.", ticker="HRN")
    second = TEN_K.format(end="December 31, 2022", name="OSPREY LINES LLC", ticker="OSP")
    assert cover_title("x", first, second).startswith("HERON FREIGHT INC. Form 10-K")


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("0000320193-23-000106", False),
        ("  ", False),
        (None, False),
        ("Q4 2022", False),
        ("AI Strategy 2019", True),
    ],
)
def test_an_identifier_of_digits_and_dashes_is_no_title(title, ok):
    assert is_title(title) is ok


def test_a_52_week_year_ending_in_the_first_days_of_january_is_the_year_before():
    cover = TEN_K.format(end="January 1, 2023", name="Quill & Quarry", ticker="QQY")
    assert ident("filing", cover).year == 2022
    # unless the filing says which fiscal year it is
    assert ident("filing", cover + "Results of fiscal 2023 and fiscal 2023 again.").year == 2023


def test_the_file_name_gives_year_quarter_and_form_and_its_words_name_the_company():
    got = ident("NORTHWIND_2024Q2_10Q", TEN_Q.format(end="July 29, 2023", name="NORTHWIND TRADERS INC."))
    assert (got.file_name, got.form, got.year, got.quarter, got.date) == (
        "northwind",
        "10-Q",
        2024,  # the fiscal year the file name gives, not the calendar year of the period end
        2,
        "2023-07-29",
    )
    assert ident("Zeta_Corp_2021_10K", "No cover here.").file_name == "zeta corp"


def test_an_earnings_release_names_its_company_ticker_and_quarter():
    got = ident("release", RELEASE.format(upper="ORBITAL RESORTS", name="Orbital Resorts Ltd.", ticker="ORB"))
    assert got.names == ("Orbital Resorts Ltd.",)
    assert got.tickers == ("ORB",)
    assert (got.form, got.year, got.quarter) == ("earnings release", 2022, 4)
    assert got.short == ("orbital",)  # always written capitalised


def test_pdf_metadata_gives_form_and_period_where_the_pages_do_not():
    meta = {"subject": "Form 10-Q filed on 2023-09-01 for the period ending 2023-07-29"}
    got = ident("scan", "Some text without a cover.", metadata=meta)
    assert (got.form, got.date, got.year) == ("10-Q", "2023-07-29", 2023)


def test_a_document_that_is_no_filing_has_only_its_file_name():
    got = ident("notes-on-rivers", "Rivers carry water to the sea.")
    assert got == Identity(file_name="notes on rivers")


def test_a_file_name_that_starts_with_a_year_names_no_company():
    # "06_2008_Sichuan_earthquake": no words before the year, so no company name from the file name.
    got = ident("06_2008_Sichuan_earthquake", "The 2008 Sichuan earthquake struck on 12 May 2008.")
    assert got.year == 2008 and got.names == ()


def test_identity_round_trips_through_a_dict():
    got = ident("NORTHWIND_2024Q2_10Q", TEN_Q.format(end="July 29, 2023", name="NORTHWIND TRADERS INC."))
    assert Identity.from_dict(got.to_dict()) == got
    assert Identity.from_dict(None) == Identity()


# ---------------------------------------------------------------- question time


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("What was revenue in FY2022?", Asked(frozenset({2022}))),
        ("Did it grow between FY20 and FY21?", Asked(frozenset({2020, 2021}))),
        ("As of Q2'2023, is it spinning off a segment?", Asked(frozenset({2023}), 2)),
        ("Which region dropped most in Q22023?", Asked(frozenset({2023}), 2)),
        ("What happened in 4Q22?", Asked(frozenset({2022}), 4)),
        ("Lawsuits from 2022, 2021 and 2020?", Asked(frozenset({2020, 2021, 2022}))),
        ("Which companies does this 10K report name?", Asked(form="10-K")),
        ("Sales in the second quarter of fiscal 2024?", Asked(frozenset({2024}), 2)),
        ("What were sales of $2,023 million?", Asked()),
    ],
)
def test_asked_reads_years_quarters_and_forms(question, want):
    assert asked(question) == want


NORTHWIND = {"names": ("NORTHWIND TRADERS INC.",), "short": ("northwind",), "tickers": ("NWT",)}
QUILL = {"names": ("Quill & Quarry",), "short": ("quill",)}
FILINGS = {
    "nw-10k.pdf": Identity(**NORTHWIND, form="10-K", year=2023),
    "nw-10q.pdf": Identity(**NORTHWIND, form="10-Q", year=2024, quarter=2),
    "qq-10k.pdf": Identity(**QUILL, form="10-K", year=2022),
    "qq-8k.pdf": Identity(**QUILL, form="8-K", year=2023),
    "rivers.txt": Identity(file_name="notes on rivers"),
}


@pytest.mark.parametrize(
    ("question", "docs"),
    [
        ("What did Northwind Traders earn in FY2023?", ["nw-10k.pdf"]),
        ("Did NorthWind's cash drop between FY2023 and Q2 of FY2024?", ["nw-10q.pdf"]),
        ("Were there unusual gains at Northwind in 2021?", ["nw-10k.pdf"]),  # the earliest that reports it
        ("What does Northwind expect to pay?", ["nw-10k.pdf", "nw-10q.pdf"]),  # no period: both
        ("What does Northwind's quarterly report say?", ["nw-10q.pdf"]),  # the form decides
        ("Is Quill a growth company based on FY2022?", ["qq-10k.pdf"]),
        ("What did Q&Q gain from the separation as of August 30, 2023?", ["qq-8k.pdf"]),  # initials
        ("What was NWT's gross margin?", ["nw-10k.pdf", "nw-10q.pdf"]),  # the ticker
        ("What do the notes on rivers say?", ["rivers.txt"]),  # a file name's words
        ("What industry does the company operate in?", None),  # names no document
        ("Which harvest was good in FY2022?", None),  # words of a name, not the name
    ],
)
def test_named_documents_keeps_the_companys_documents_and_the_period_decides(question, docs):
    ids = {**FILINGS, "gh.pdf": Identity(names=("GOOD HARVEST FOODS INC.",), form="10-K", year=2022)}
    assert named_documents(question, ids) == docs


def test_a_question_that_fits_every_document_is_not_restricted():
    ids = {d: FILINGS[d] for d in ("nw-10k.pdf", "nw-10q.pdf")}
    assert named_documents("How did Northwind do?", ids) is None
    assert named_documents("How did Northwind do in FY2023?", ids) == ["nw-10k.pdf"]


@pytest.mark.parametrize(
    ("question", "left"),
    [
        ("Did NorthWind Traders' cash drop in FY2023?", "Did cash drop in FY2023?"),
        ("Is NWT's margin the best of Northwind's years?", "Is margin the best of years?"),
        ("What did Q&Q and Quill & Quarry gain?", "What did and gain?"),
        ("Northwind?", "Northwind?"),  # nothing else to search for
    ],
)
def test_without_names_leaves_what_the_question_asks_besides_the_company(question, left):
    idents = [FILINGS["nw-10k.pdf"], FILINGS["qq-10k.pdf"]]
    assert without_names(question, idents) == left


# ---------------------------------------------------------------- stored in the index


def test_the_index_stores_each_documents_identity(fake_corpus, build_fake, tmp_path):
    filing = TEN_K.format(end="December 31, 2023", name="NORTHWIND TRADERS INC.", ticker="NWT")
    corpus = fake_corpus({"NORTHWIND_2023_10K.txt": filing, "rivers.txt": "Rivers carry water.\n"})
    build_fake(corpus, tmp_path / "index")
    idx = qa.load_index(tmp_path / "index")
    assert idx.identities["NORTHWIND_2023_10K.txt"] == Identity(
        names=("NORTHWIND TRADERS INC.",),
        short=("northwind",),
        tickers=("NWT",),
        file_name="northwind",
        form="10-K",
        year=2023,
        date="2023-12-31",
    )
    assert idx.identities["rivers.txt"] == Identity()  # one word, no period or form: no name
    status = {d["path"]: d for d in idx.status()["documents"]}
    assert status["NORTHWIND_2023_10K.txt"]["identity"]["tickers"] == ["NWT"]
    # an update keeps the identity of an unchanged file
    (corpus / "lakes.txt").write_text("Lakes hold water.\n", encoding="utf-8")
    build_fake(corpus, tmp_path / "index")
    assert qa.load_index(tmp_path / "index").identities["NORTHWIND_2023_10K.txt"].year == 2023


def test_urls_are_blanked_token_by_token_even_in_a_long_run_without_spaces():
    from qa.doc_identity import _without_urls

    assert (
        _without_urls("Visit pfizer.com or www.x.org, mail ir@x.net; Pfizer Inc.")
        == "Visit   or   mail   Pfizer Inc."
    )
    run = "x" * 200_000  # the old pattern rescanned such a run from each character (the build hung)
    assert _without_urls(f"{run} https://a.com/{run} Name") == f"{run}   Name"
