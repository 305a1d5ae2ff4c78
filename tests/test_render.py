"""The chat's HTML and Markdown, pure: escaping, highlights, where a quote is (page or section), confidence in
words, comparison columns, evidence, and the Markdown that copy and export take away."""

from html import unescape

import pytest

from qa.export import answer_markdown, question_markdown
from qa.records import Answer, Citation
from qa.render import render_answer, render_question
from qa.wording import confidence_words, has_pages, location

NITI = "sources/niti.txt"
PDF = "related/strategy.pdf"
BRIEF = "brief/brief.txt"
DOCS = {
    NITI: {"format": "text", "pages": 115},
    PDF: {"format": "pdf", "pages": 74},
    BRIEF: {"format": "text", "pages": 1},
}


def _cit(n=1, doc=NITI, quote="a <script>alert(1)</script> & b", start=100, page=5, label=None, **kw):
    return Citation(
        n=n,
        doc=doc,
        title=kw.pop("title", "T <i>x</i>"),
        page=page,
        label=label,
        section=kw.pop("section", ("Sec <b>1</b>",)),
        start=start,
        end=start + len(quote),
        quote=quote,
        score=0.5,
        **kw,
    )


def _md_of(html: str) -> str:
    """The hidden Markdown of a rendered message, as the browser reads it."""
    inner = html.split('<pre class="qa-md" hidden>', 1)[1].split("</pre>", 1)[0]
    return unescape(inner)


def test_render_answer_escapes_and_highlights():
    c = _cit()
    ans = Answer(
        question="q",
        answer=c.quote,
        abstained=False,
        confidence=0.9,
        citations=(c,),
        highlights=({"citation": 1, "start": 102, "end": 110, "text": "<script>"},),
    )
    out = render_answer(ans, DOCS)
    assert "<script>" not in out and "<i>x" not in out and "<b>1" not in out
    assert '<mark class="qa-hl">&lt;script&gt;</mark>' in out
    assert '<sup class="qa-cite">[1]</sup>' in out
    assert '<details class="qa-sources"><summary>Sources (1)</summary>' in out
    assert f'href="/view/{NITI}?page=5&amp;start=100&amp;end={100 + len(c.quote)}#hit"' in out
    assert "open at page 5" in out and "p. 5 · Sec &lt;b&gt;1&lt;/b&gt;" in out
    assert "\n" not in out


def test_a_pdf_citation_opens_the_page_view_and_shows_the_label():
    c = _cit(doc=PDF, quote="Literacy.", page=19, label="15")
    out = render_answer(Answer("q", c.quote, False, 0.9, citations=(c,)), DOCS)
    assert f'class="qa-open" href="/view/{PDF}?page=19&amp;start=100&amp;end=109#hit"' in out
    assert "open at page 19" in out and "p. 19 (printed 15)" in out


def test_a_document_without_pages_is_cited_by_its_section():
    c = _cit(doc=BRIEF, quote="Japan leads.", page=1, section=("Report", "3. Areas"))
    out = render_answer(Answer("q", c.quote, False, 0.9, citations=(c,)), DOCS)
    assert "p. 1" not in out and "<b>T &lt;i&gt;x&lt;/i&gt;</b>, Report › 3. Areas" in out
    assert "open at the passage" in out
    assert "p. 1" not in _md_of(out)
    assert location(c, has_pages(DOCS[BRIEF])) == "Report › 3. Areas"
    assert location(c, has_pages(DOCS[NITI])) == "p. 1 · Report › 3. Areas"
    assert has_pages({"format": "pdf", "pages": 1}) and has_pages({"format": "docx", "pages": 3})
    assert not has_pages({"format": "markdown", "pages": 1})


@pytest.mark.parametrize(
    "p, words", [(0.97, "likely right"), (0.8, "likely right"), (0.65, "probably right"), (0.3, "uncertain")]
)
def test_confidence_in_words_with_the_number_on_hover(p, words):
    c = _cit()
    out = render_answer(Answer("q", c.quote, False, p, citations=(c,)), DOCS)
    assert confidence_words(p) == words
    assert f'title="calibrated probability that the answer is right: {p:.2f}">{words}</span>' in out
    assert f"confidence {p:.2f}" not in out.split("<pre", 1)[0]  # no bare number in the message


def test_an_uncertain_answer_says_so_before_the_quote():
    c = _cit(quote="The paper proposes two broad areas.")
    out = render_answer(Answer("q", c.quote, False, 0.3, citations=(c,)), DOCS)
    assert out.index('class="qa-uncertain"') < out.index("The paper proposes")
    assert _md_of(out).startswith("**Uncertain:")
    sure = render_answer(Answer("q", c.quote, False, 0.9, citations=(c,)), DOCS)
    assert "qa-uncertain" not in sure and not _md_of(sure).startswith("**")


def test_evidence_is_introduced_as_such_not_as_an_answer():
    c = _cit(quote="FY2023 | 551.75 crore")
    msg = "The documents don't state this directly; the evidence is:"
    ans = Answer("q", c.quote, False, 0.4, citations=(c,), message=msg, kind="evidence")
    out = render_answer(ans, DOCS)
    assert out.index("state this directly") < out.index("FY2023")
    assert "qa-conf" not in out and "Uncertain:" not in out  # no confidence words for evidence
    assert _md_of(out).startswith("**The documents don")


def test_a_comparison_shows_one_column_per_document_each_cited():
    a = _cit(1, doc=NITI, quote="India trains talent.", title="India's strategy")
    b = _cit(2, doc=PDF, quote="Japan trains 250,000 people.", page=19, label="15", title="Japan's strategy")
    cols = (
        {"doc": NITI, "title": "India's strategy", "confidence": 0.9, "citations": (a,)},
        {"doc": PDF, "title": "Japan's strategy", "confidence": 0.6, "citations": (b,)},
    )
    ans = Answer("How do they differ on talent?", "x", False, 0.6, citations=(a, b), by_document=cols)
    out = render_answer(ans, DOCS)
    assert out.count('<section class="qa-column"') == 2
    first, second = out.split('<section class="qa-column"')[1:3]
    assert "<h3>India&#x27;s strategy</h3>" in first and "India trains talent." in first and "[1]" in first
    assert (
        "<h3>Japan&#x27;s strategy</h3>" in second and "250,000" in second and "p. 19 (printed 15)" in second
    )
    assert "likely right" in first and "probably right" in second
    assert f"/view/{PDF}?page=19" in second and "Sources (2)" in out
    md = _md_of(out)
    assert md.index("**India's strategy**") < md.index("> India trains talent. [1]")
    assert md.index("**Japan's strategy**") < md.index("> Japan trains 250,000 people. [2]")


def test_the_markdown_has_quote_title_page_and_url():
    c = _cit(doc=PDF, quote="AI *literacy* for all.", page=19, label="15", url="https://example.org/s.pdf")
    md = answer_markdown(Answer("q", c.quote, False, 0.9, citations=(c,)), DOCS)
    assert md.splitlines()[0] == r"> AI \*literacy\* for all. [1]"
    assert "*likely right* (confidence 0.90)" in md
    assert (
        f"[1] *T \\<i\\>x\\</i\\>*, p. 19 (printed 15) · Sec \\<b\\>1\\</b\\> — "
        f"[open](/view/{PDF}?page=19&start=100&end=122#hit) · <https://example.org/s.pdf>"
    ) in md
    assert question_markdown("What *is* it?") == r"**Q:** What \*is\* it?"


def test_an_abstention_renders_related_reading_and_its_markdown():
    ans = Answer("q", "", True, 0.1, related=(_cit(),))
    out = render_answer(ans, DOCS)
    assert "The documents don&#x27;t answer this question." in out
    assert 'class="qa-related"' in out and "not an answer" in out
    assert "qa-answer" not in out and "<script>" not in out and "no answer found" in out
    md = _md_of(out)
    assert md.startswith("The documents don't answer this question.")
    assert "- Related reading (not an answer): [1] *T \\<i\\>x\\</i\\>*, p. 5" in md


def test_an_abstained_follow_up_still_says_how_it_was_understood():
    no = "The documents don't answer this question."
    ans = Answer(
        "And when was it founded?", "", True, 0.1, message=f"Understood as: When was <b>X</b> founded? {no}"
    )
    out = render_answer(ans, DOCS)
    assert '<p class="qa-meta qa-understood">Understood as: When was &lt;b&gt;X&lt;/b&gt; founded?</p>' in out
    assert out.split('<pre class="qa-md"')[0].count("The documents don&#x27;t answer this question.") == 1
    assert _md_of(out).startswith(f"Understood as: When was <b>X</b> founded? {no}")
    plain = render_answer(Answer("q", "", True, 0.1, message=no), DOCS)
    assert "qa-understood" not in plain


def test_render_question_escapes_and_carries_its_markdown():
    out = render_question("<img src=x onerror=alert(1)>")
    assert out.startswith('<div class="qa-q">&lt;img src=x onerror=alert(1)&gt;<pre class="qa-md" hidden>')
    assert _md_of(out) == r"**Q:** \<img src=x onerror=alert(1)\>"
