"""The chat's HTML rendering: references and the cited source's passage under a quote, all escaped."""

from qa.records import Answer, Citation
from qa.ui import render_answer


def _answer(evidence: dict, reference: dict) -> Answer:
    cit = Citation(
        n=1,
        doc="brief.txt",
        title="Brief",
        page=1,
        label=None,
        section=("Table 2",),
        start=10,
        end=40,
        quote="India-US collaboration <b>x</b>.",
        references=(reference,),
        evidence=(evidence,),
    )
    return Answer(question="q?", answer=cit.quote, abstained=False, confidence=0.9, citations=(cit,))


def test_evidence_from_a_cited_source_is_shown_with_a_link_at_its_page():
    ev = {
        "reference": "niti-aayog-2018",
        "doc": "sources/niti.txt",
        "title": "NITI <Strategy>",
        "page": 59,
        "label": None,
        "start": 5,
        "end": 25,
        "text": "AIRAWAT <script>alert(1)</script> platform",
    }
    ref = {
        "key": "niti-aayog-2018",
        "label": "NITI Aayog (2018)",
        "title": "National strategy",
        "url": "https://www.niti.gov.in/x.pdf",
    }
    html = render_answer(_answer(ev, ref))
    assert "The document cites: NITI Aayog (2018) — National strategy" in html
    assert 'href="https://www.niti.gov.in/x.pdf"' in html
    assert "In the cited source, <b>NITI &lt;Strategy&gt;</b>, p. 59:" in html
    assert 'href="/view/sources/niti.txt?page=59&amp;start=5&amp;end=25#hit"' in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
