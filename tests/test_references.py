"""The brief's own citations: its References list, its in-text citations, the corpus catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.errors import IngestError
from qa.references import (
    InTextCitation,
    attach_catalogue,
    find_citations,
    load_catalogue,
    parse_references,
    reference_spans,
    refs_for_span,
    resolve,
)

CORPUS = Path(__file__).parents[1] / "corpus"
BRIEF_DOC = "brief/indo-japanese-collaboration-on-ai.txt"
NITI_DOC = "sources/niti-aayog-national-strategy-for-ai-2018.txt"


def normalise(text: str) -> str:
    """As ingest stores it: no emphasis, no ``\\$`` escapes, hyphenated words joined, spaces collapsed."""
    text = text.replace("*", "").replace("\\$", "$")
    text = re.sub(r"(\w)-[ \t]*\n(?:[ \t]*\n)*[ \t]*(\w)", r"\1\2", text)
    return re.sub(r"[ \t]+", " ", text)


@pytest.fixture(scope="module")
def raw() -> str:
    return (CORPUS / BRIEF_DOC).read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=["raw", "normalised"])
def brief(request, raw) -> str:
    return raw if request.param == "raw" else normalise(raw)


@pytest.fixture(scope="module")
def refs(brief):
    return parse_references(brief)


@pytest.fixture(scope="module")
def cites(brief, refs) -> list[InTextCitation]:
    return find_citations(brief, refs)


def by_key(refs):
    return {r.key: r for r in refs}


def one(cites, raw_start: str) -> InTextCitation:
    found = [c for c in cites if c.raw.startswith(raw_start)]
    assert len(found) == 1, [c.raw for c in cites]
    return found[0]


def applied(text: str, c: InTextCitation) -> str:
    return text[c.applies[0] : c.applies[1]]


# ---------------------------------------------------------------- the References list


def test_normalised_variant_really_differs(raw):
    text = normalise(raw)
    assert "*" not in text and "\\$" not in text and "infrastructure. A key example" in text
    assert "(Hindu-stan Times, 2025)" in text  # a hyphen inside a line stays


def test_all_37_entries_parse_with_a_url_and_unique_keys(refs):
    assert len(refs) == 37
    assert all(r.url and r.url.startswith("https://") and "<" not in r.url and ">" not in r.url for r in refs)
    assert len({r.key for r in refs}) == 37
    assert refs[0].key == "boston-consulting-group-2024" and refs[-1].key == "white-house-2025"


@pytest.mark.parametrize(
    "key, author, year, date, title, outlet, url",
    [
        (
            "harris-2024",
            "Harris",
            "2024",
            "2024, July 11",
            "Japan enhances AI sovereignty with advanced ABCI 3.0 supercomputer",
            "NVIDIA Blog",
            "https://blogs.nvidia.com/blog/abci-aist/",
        ),
        (
            "niti-aayog-2018",
            "NITI Aayog",
            "2018",
            "2018, June",
            "National strategy for artificial intelligence",
            None,
            "https://www.niti.gov.in/sites/default/files/2023-03/National-Strategy-for-Artificial-Intelligence.pdf",
        ),
        (
            "press-information-bureau-2025a",
            "Press Information Bureau",
            "2025a",
            "2025a, February 26",
            "India's AI revolution",
            None,
            "https://www.pib.gov.in/www.pib.gov.in/Pressreleaseshare.aspx?PRID=2108810",
        ),
        (
            "press-information-bureau-2023",
            "Press Information Bureau",
            "2023",
            "2023, December 14",
            "Three-day GPAI summit concluded today at Bharat Mandapam!!",
            None,
            "https://www.pib.gov.in/www.pib.gov.in/Pressrelease-share.aspx?PRID=1986475",
        ),
        (
            "the-hindu-bureau-2025a",
            "The Hindu Bureau",
            "2025a",
            "2025a, January 30",
            "India to build foundational AI model in months, GPUs to be made available to start-ups, "
            "academia at subsidised rates: IT Minister",
            "The Hindu",
            "https://www.thehindu.com/incoming/india-to-build-foundational-ai-model-in-months-gpus-to-be-made-"
            "available-to-start-ups-academia-at-subsidised-rates-it-minister/article69159786.ece",
        ),
        (
            "nasscom-n-d",
            "NASSCOM",
            "n.d.",
            None,
            "How AI is transforming the future of healthcare in India",
            None,
            "https://nasscom.in/knowledge-center/publications/how-ai-transforming-future-healthcare-india",
        ),
        (
            "francis-2025",
            "Francis et al.",
            "2025",
            "2025, February 1",
            "Union Budget 2025-26: All AI schemes receive huge increase in allocations, as well as new "
            "centre of excellence",
            "The Hindu",
            "https://www.thehindu.com/data/union-budget-2025-artificial-intelligence-related-schemes-receive-"
            "significant-increase-in-allocations/article69163704.ece",
        ),
        (
            "sharma-2025",
            "Sharma",
            "2025",
            "2025, August 13",
            "Trump's tariff gambit puts the India-US strategic partnership at a crossroads: What's next "
            "for India's global strategy?",
            "The Times of India",
            "https://timesofindia.indiatimes.com/blogs/ashoks-statecraft/trumps-tariff-gambit-puts-the-india-us-"
            "strategic-partnership-at-a-crossroads-whats-next-for-indias-global-strategy/",
        ),
        (
            "ceo-insights-asia-team-2025",
            "CEO Insights Asia Team",
            "2025",
            "2025, September 19",
            "Huawei unveils AI cluster breakthrough for China's tech",
            "CEO Insights Asia",
            "https://www.ceoinsightsasia.com/news/huawei-unveils-ai-cluster-breakthrough-for-china-s-tech-nwid-"
            "13932.html#google_vignette",
        ),
        (
            "laskar-2025",
            "Laskar",
            "2025",
            "2025, August 30",
            "At meeting with Modi, Japan says it will invest $68 billion in India over 10 yrs",
            "Hindustan Times",
            "https://www.hindustantimes.com/india-news/at-meeting-with-modi-japan-says-it-will-invest-68-billion-in-"
            "india-over-10-yrs-101756478272707.html?form=MG0AV3",
        ),
        (
            "etgovernment-com-2025",
            "ETGovernment.com",
            "2025",
            "2025, April 19",
            "NTT DATA to invest ₹10500 crore in India's largest AI data center cluster in Hyderabad",
            None,
            "https://government.economictimes.indiatimes.com/news/economy/ntt-data-to-invest-10500-crore-in-indias-"
            "largest-ai-data-center-cluster-in-hyderabad/120422504",
        ),
        (
            "indo-u-s-science-and-technology-forum-n-d",
            "Indo-U.S. Science and Technology Forum",
            "n.d.",
            None,
            "U.S.-India Artificial Intelligence Initiative (USIAI)",
            None,
            "https://usiai.iusstf.org/?form=MG0AV3",
        ),
    ],
)
def test_entry_fields(refs, key, author, year, date, title, outlet, url):
    r = by_key(refs)[key]
    assert (r.author, r.year, r.date, r.title, r.outlet, r.url) == (author, year, date, title, outlet, url)
    assert r.label() == f"{author} ({year})"


def test_pib_2025a_and_2025b_are_distinct(refs):
    a, b = by_key(refs)["press-information-bureau-2025a"], by_key(refs)["press-information-bureau-2025b"]
    assert a.url != b.url and a.title != b.title
    assert b.url.endswith("PRID=2097709") and b.date == "2025b, January 30"


def test_spans_slice_back_and_cover_wrapped_entries(brief):
    spans = reference_spans(brief)
    assert len(spans) == 37
    heading = brief.index("\nReferences\n")
    after = brief.index("About the authors")
    prev_end = heading
    for a, b, ref in spans:
        assert brief[a:b] == ref.text and prev_end < a < b < after
        prev_end = b
    pib_2023 = next(ref for _, _, ref in spans if ref.key == "press-information-bureau-2023")
    assert pib_2023.text.startswith("Press Information Bureau. (2023, December 14).")
    assert pib_2023.text.endswith("PRID=1986475>") and "\n\n" in pib_2023.text


def test_raw_and_normalised_parse_alike(raw):
    fields = [(r.key, r.author, r.year, r.date, r.title, r.outlet, r.url) for r in parse_references(raw)]
    assert fields == [
        (r.key, r.author, r.year, r.date, r.title, r.outlet, r.url) for r in parse_references(normalise(raw))
    ]


# ---------------------------------------------------------------- in-text citations of the brief


def test_every_in_text_citation_resolves(cites, refs):
    unresolved = [(c.raw, c.unresolved) for c in cites if c.unresolved]
    print(unresolved)
    assert unresolved == []
    assert [c.kind for c in cites].count("paren") == 15 and [c.kind for c in cites].count("source") == 10
    cited = {k for c in cites for k in c.keys}
    assert cited == {r.key for r in refs} - {"laskar-2025"}  # the one entry the text never cites


def test_citations_are_ordered_and_slice_back(brief, cites):
    assert [c.start for c in cites] == sorted(c.start for c in cites)
    for c in cites:
        assert brief[c.start : c.end] == c.raw
        assert c.applies[0] <= c.start and c.end <= c.applies[1]


def test_references_section_holds_no_in_text_citations(brief, cites):
    heading = brief.index("\nReferences\n")
    assert all(c.end < heading for c in cites)


def test_figure_1_source_line(brief, cites):
    c = one(
        cites,
        "Source: *The Hindu Bureau*" if "*" in brief else "Source: The Hindu Bureau (2025a, 2025b); The E",
    )
    assert c.kind == "source" and c.unresolved == ()
    assert c.keys == (
        "the-hindu-bureau-2025a",
        "the-hindu-bureau-2025b",
        "the-economic-times-2025a",
        "the-economic-times-2025b",
        "bw-businessworld-n-d",
        "sarkar-2024",
        "the-indian-express-2023",
    )
    text = applied(brief, c)
    assert text.startswith("Figure 1: The AI Market in India") and text.endswith("(2023).")
    assert "Snapshot of the Indian Market" not in text


@pytest.mark.parametrize(
    "start, keys, heading",
    [
        (
            "Source: TechSci",
            ("techsci-research-n-d", "nasscom-n-d", "victoria-2025"),
            "Figure 2: Sector Trends",
        ),
        ("Source: Francis et al., 2025.", ("francis-2025",), "Table 1: Public Resource Allocation"),
        ("Source: NITI Aayog (2018).", ("niti-aayog-2018",), "Table 2: India-US Collaboration"),
        ("Source: ETGovernment (2025).", ("etgovernment-com-2025",), "Case Study 2: AI Data Centre"),
        ("Source: ETHEalthworld (2021).", ("ethealthworld-com-2021",), "Case Study 3: AI Applications"),
    ],
)
def test_source_line_shapes(brief, cites, start, keys, heading):
    c = one(cites, start)
    assert c.keys == keys and c.unresolved == ()
    assert applied(brief, c).startswith(heading)


def test_source_line_wrapped_in_emphasis(brief, cites):
    c = one(cites, "Source: *MarketBrew" if "*" in brief else "Source: MarketBrew")
    assert c.keys == ("marketbrew-2025", "press-information-bureau-2025a", "nasscom-2020")
    assert applied(brief, c).startswith("Figure 3: India's Strength")


def test_timeline_source_applies_to_the_list_above_it(brief, cites):
    c = one(cites, "Source: ICRIER")
    assert c.keys[:6] == (
        "icrier-n-d",
        "sharma-2018",
        "press-information-bureau-2022",
        "press-information-bureau-2023",
        "press-information-bureau-2025a",
        "press-information-bureau-2025b",
    )
    text = applied(brief, c)
    assert text.startswith("- ") and "January 2018" in text and "Figure 3" not in text


def test_hyphen_broken_name_resolves(brief, cites):
    c = one(cites, "(Hindu-stan Times, 2025)")
    assert c.kind == "paren" and c.keys == ("hindustan-times-2025",)
    assert applied(brief, c).startswith("At the same time, Japan pledged investments worth US")


def test_authors_compilation_cites_nothing(brief, cites):
    c = one(cites, "Source: Authors' compilation.")
    assert c.raw == "Source: Authors' compilation." and c.keys == () and c.unresolved == ()
    assert applied(brief, c).startswith("Table 3: India-Japan Collaboration")


def test_paren_citation_applies_to_its_sentence(brief, cites):
    text = applied(brief, one(cites, "(Harris, 2024)"))
    assert text.startswith("Japan's Artificial Intelligence Bridging Cloud Infrastructure (ABCi)")
    assert text.endswith("exascale processing (Harris, 2024).") and "Companies like" not in text


def test_citation_after_a_full_stop_supports_the_sentence_before(brief, cites):
    text = applied(brief, one(cites, "(CEO Insights Asia Team, 2025)"))
    assert text.startswith("The company claims these systems lead the world")


def test_two_citations_in_one_sentence_share_it(brief, cites):
    a = one(cites, "(Indo-U.S. Science and Technology Forum, n.d.)")
    b = one(cites, "(Department of Science & Technology, n.d.)")
    assert a.applies == b.applies  # the periods of "Indo-U.S." and "n.d." end no sentence
    assert applied(brief, a).startswith("Parallel initiatives")


def test_sentence_broken_by_a_page_break(brief, cites):
    text = applied(brief, one(cites, "(Press Information Bureau, 2025b)"))
    assert text.startswith("This early groundwork culminated in the formal")


def test_refs_for_span(brief, cites):
    case1 = brief.index("Case Study 1:")
    case2 = brief.index("Case Study 2:")
    assert refs_for_span(cites, case1, case2) == (
        "etmanufacturing-desk-2025",
        "kumar-2025",
        "the-times-of-india-2025",
        "etgovernment-com-2025",
    )
    harris = brief.index("exascale processing")
    assert refs_for_span(cites, harris, harris + 10) == ("harris-2024",)
    quiet = brief.index("Sector-Specific Trends")
    assert refs_for_span(cites, quiet, quiet + 50) == ()
    everything = refs_for_span(cites, 0, len(brief))
    assert len(everything) == len(set(everything)) == 36 and everything[0] == "boston-consulting-group-2024"


# ---------------------------------------------------------------- synthetic strings

SYNTHETIC = """Body text.

References

Smith, J. (2020, May 1). *A title: With colon*. Some Outlet. https://example.org/smith.

Doe, J., Roe, R., & Poe, P. (2021a). *Second title*. <https://example.org/doe>

Acme Corp. (n.d.). *Undated page.* <https://example.org/acme>
"""


@pytest.fixture()
def syn_refs():
    return parse_references(SYNTHETIC)


def test_synthetic_entries(syn_refs):
    assert [(r.key, r.author, r.year, r.date, r.url) for r in syn_refs] == [
        ("smith-2020", "Smith", "2020", "2020, May 1", "https://example.org/smith"),
        ("doe-2021a", "Doe et al.", "2021a", None, "https://example.org/doe"),
        ("acme-corp-n-d", "Acme Corp", "n.d.", None, "https://example.org/acme"),
    ]
    assert syn_refs[0].title == "A title: With colon" and syn_refs[0].outlet == "Some Outlet"
    assert syn_refs[2].title == "Undated page"


def test_multi_citation_parenthesis(syn_refs):
    text = "A claim (Smith, 2020; Doe et al., 2021a; Acme Corp, n.d.). Next one."
    (c,) = find_citations(text, syn_refs)
    assert c.kind == "paren" and c.keys == ("smith-2020", "doe-2021a", "acme-corp-n-d") and c.unresolved == ()
    assert text[c.applies[0] : c.applies[1]] == "A claim (Smith, 2020; Doe et al., 2021a; Acme Corp, n.d.)."


def test_name_broken_across_a_line(syn_refs):
    text = "Claim one (Ac-\nme Corp, n.d.). Claim two (Smith et\nal., 2020)."
    assert [c.keys for c in find_citations(text, syn_refs)] == [("acme-corp-n-d",), ("smith-2020",)]


def test_unresolved_and_non_citations(syn_refs):
    text = (
        "One (Nobody, 2020). Two (Smith, 2019). Three (Assembly, Testing, and Packaging). Four (~US$ 1.2 bn)."
    )
    cites = find_citations(text, syn_refs)
    assert [(c.raw, c.keys, c.unresolved) for c in cites] == [
        ("(Nobody, 2020)", (), ("Nobody, 2020",)),
        ("(Smith, 2019)", (), ("Smith, 2019",)),  # the year must match
    ]


def test_source_line_without_heading_applies_to_the_paragraph_above(syn_refs):
    text = "Intro.\n\nRow one\nRow two\n\nSource: Smith (2020); *Doe et al.* (2021a).\n\nAfter."
    (c,) = find_citations(text, syn_refs)
    assert c.kind == "source" and c.keys == ("smith-2020", "doe-2021a")
    assert (
        text[c.applies[0] : c.applies[1]] == "Row one\nRow two\n\nSource: Smith (2020); *Doe et al.* (2021a)."
    )


def test_resolve_tolerates_noise(refs):
    assert resolve("ETHEalthworld", "2021", refs).key == "ethealthworld-com-2021"
    assert resolve("*The Economic Times*", "2025b", refs).key == "the-economic-times-2025b"
    assert resolve("Economic Times", "2025a", refs).key == "the-economic-times-2025a"
    assert resolve("Francis et al.", "2025", refs).key == "francis-2025"
    assert resolve("Harris", "2025", refs) is None


def test_no_references_heading_means_no_entries():
    assert parse_references("Just text (Smith, 2020).\n") == [] and reference_spans("") == []


# ---------------------------------------------------------------- the corpus catalogue


def test_catalogue_points_at_a_real_entry_and_file(raw):
    catalogue = load_catalogue(CORPUS)
    assert catalogue[NITI_DOC] == {"reference": "niti-aayog-2018", "cites_from": BRIEF_DOC}
    for doc, entry in catalogue.items():
        assert (CORPUS / doc).is_file() and (CORPUS / entry["cites_from"]).is_file()
    refs = attach_catalogue(parse_references(raw), catalogue, BRIEF_DOC)
    assert [(r.key, r.in_corpus) for r in refs if r.in_corpus] == [("niti-aayog-2018", NITI_DOC)]
    assert all(r.in_corpus is None for r in attach_catalogue(parse_references(raw), catalogue, "x.txt"))


def test_catalogue_missing_and_malformed(tmp_path):
    assert load_catalogue(tmp_path) == {}
    (tmp_path / "sources.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IngestError, match="sources.json"):
        load_catalogue(tmp_path)
    (tmp_path / "sources.json").write_text(json.dumps({"a.txt": {"reference": 3}}), encoding="utf-8")
    with pytest.raises(IngestError, match="reference"):
        load_catalogue(tmp_path)
