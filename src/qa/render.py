"""The chat's HTML, pure: an Answer → one message (quotes with the answering part highlighted, numbered
citations, confidence in words, a Sources panel, the Markdown to copy), every document text and question
escaped. ``docs`` is the index's manifest entries by document id (format, pages): it decides whether a
citation names a page or a section, and how a document opens.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from qa.export import NO_ANSWER, answer_markdown, question_markdown
from qa.links import doc_links
from qa.records import Answer, Citation
from qa.wording import (
    UNCERTAIN_NOTE,
    UNSURE,
    confidence_title,
    confidence_words,
    has_pages,
    location,
    page_words,
)

COPY = '<button type="button" class="qa-copy">Copy as Markdown</button>'


def esc(text: object) -> str:
    """HTML-escaped text on one line (Markdown renderers end an HTML block at a blank line)."""
    return html.escape(str(text), quote=True).replace("\r", "").replace("\n", " ")


def _markdown_block(text: str) -> str:
    """The message's Markdown, hidden, for the copy and export buttons (newlines kept as &#10;)."""
    return f'<pre class="qa-md" hidden>{html.escape(text, quote=True).replace(chr(10), "&#10;")}</pre>'


def _safe_url(url: str | None) -> str | None:
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


def _where(c: Citation, docs: dict[str, dict], with_title: bool = True) -> str:
    """Title, p. N (printed label) · section path; a document without pages by its section alone."""
    where = esc(location(c, has_pages(docs.get(c.doc))))
    parts = [f"<b>{esc(c.title)}</b>" if with_title else "", where]
    return ", ".join(p for p in parts if p)


def _marked(text: str, base: int, spans: list[tuple[int, int]]) -> str:
    """Escape ``text`` (which starts at page offset ``base``) with the given page spans wrapped in <mark>."""
    out, pos = [], 0
    for s, e in sorted(spans):
        a, b = max(s - base, pos), min(e - base, len(text))
        if a >= b:
            continue
        out += [esc(text[pos:a]), f'<mark class="qa-hl">{esc(text[a:b])}</mark>']
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def _open_label(c: Citation, docs: dict[str, dict]) -> str:
    return f"open at page {c.page}" if has_pages(docs.get(c.doc)) else "open at the passage"


def _links(c: Citation, docs: dict[str, dict]) -> str:
    links = doc_links(c.doc, (docs.get(c.doc) or {}).get("format"), c.page, c.start, c.end)
    out = [f'<a class="qa-open" href="{esc(links["open"])}" target="_blank">{_open_label(c, docs)}</a>']
    url = _safe_url(c.url)
    if url:
        out.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">source URL</a>')
    return " · ".join(out)


def _references(c: Citation) -> str:
    """What the document itself cites for this passage (its References entries), where known."""
    items = []
    for r in c.references:
        if not isinstance(r, dict):
            continue
        label = r.get("label") or (f"{r.get('author', '')} ({r.get('year', '')})" if r.get("author") else "")
        title = r.get("title") or ""
        text = " — ".join(esc(x) for x in (label, title) if x) or esc(r.get("text", ""))
        url = _safe_url(r.get("url"))
        if url:
            text += f' <a href="{esc(url)}" target="_blank" rel="noopener noreferrer">link</a>'
        items.append(text)
    html_out = f'<div class="qa-refs">The document cites: {"; ".join(items)}</div>' if items else ""
    return html_out + _evidence(c)


def _evidence(c: Citation) -> str:
    """Follow the citation: where a cited source is in the corpus, its passage that best matches the quote."""
    out = []
    for ev in c.evidence:
        if not isinstance(ev, dict) or "doc" not in ev:
            continue
        link = doc_links(ev["doc"], None, ev["page"], ev["start"], ev["end"])["view"]
        snippet = ev.get("text", "")[:300]
        out.append(
            f'<div class="qa-evidence">In the cited source, <b>{esc(ev.get("title") or ev["doc"])}</b>, '
            f"{page_words(ev['page'], None)}: “{esc(snippet)}” "
            f'<a href="{esc(link)}" target="_blank">open at page {ev["page"]}</a></div>'
        )
    return "".join(out)


def render_question(question: str) -> str:
    return f'<div class="qa-q">{esc(question)}{_markdown_block(question_markdown(question))}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-error">⚠ {esc(message)}</div>'


def _confidence(p: float, abstained: bool = False) -> str:
    """The confidence in words, the calibrated probability on hover (and on focus, to screen readers)."""
    words = confidence_words(p, abstained)
    level = "uncertain" if abstained or p < UNSURE else words.split()[0]
    return (
        f'<span class="qa-conf qa-conf-{level}" tabindex="0" title="{esc(confidence_title(p))}">'
        f"{esc(words)}</span>"
    )


def _quotes(citations, spans: dict[int, list[tuple[int, int]]]) -> str:
    return " ".join(
        _marked(c.quote, c.start, spans.get(c.n, [])) + f'<sup class="qa-cite">[{c.n}]</sup>'
        for c in citations
    )


def _columns(columns: list[dict], spans, docs: dict[str, dict]) -> str:
    """A question across documents: one column per document, its quotes and where each is."""
    cols = "".join(
        f'<section class="qa-column" aria-label="{esc(col.get("title") or col["doc"])}">'
        f"<h3>{esc(col.get('title') or col['doc'])}</h3>"
        + (f'<div class="qa-meta">{_confidence(col["confidence"])}</div>' if "confidence" in col else "")
        + f'<div class="qa-text">{_quotes(col["citations"], spans)}</div>'
        + "".join(
            f'<div class="qa-meta">[{c.n}] {_where(c, docs, with_title=False) or "the document"} · '
            f"{_links(c, docs)}</div>"
            for c in col["citations"]
        )
        + "</section>"
        for col in columns
    )
    return f'<div class="qa-columns">{cols}</div>'


def render_answer(ans: Answer, docs: dict[str, dict] | None = None) -> str:
    """An answer with highlighted quotes, citation markers, confidence and a Sources panel; or an
    abstention. A question across documents shows its quotes side by side, one column per document."""
    docs = docs or {}
    if ans.abstained:
        return _render_abstention(ans, docs)
    spans: dict[int, list[tuple[int, int]]] = {}
    for h in ans.highlights:
        spans.setdefault(h.get("citation"), []).append((h["start"], h["end"]))
    columns = getattr(ans, "by_document", None) or []
    cited = list(ans.citations) + [c for col in columns for c in col["citations"] if c not in ans.citations]
    if columns:
        body = _columns(columns, spans, docs)
    elif ans.display and ans.display != ans.answer:
        # A table row shown with its header: highlight the answering text where it appears.
        text = esc(ans.display)
        for h in ans.highlights:
            t = esc(h.get("text", ""))
            if t and t in text:
                text = text.replace(t, f'<mark class="qa-hl">{t}</mark>', 1)
        text += "".join(f'<sup class="qa-cite">[{c.n}]</sup>' for c in ans.citations)
        body = f'<div class="qa-text">{text}</div>'
    else:
        body = f'<div class="qa-text">{_quotes(ans.citations, spans)}</div>'
    evidence = getattr(ans, "kind", "answer") == "evidence"
    if evidence:  # quoted figures that bear on the question, not an answer: said before them
        warn, meta = f'<p class="qa-uncertain">{esc(ans.message)}</p>', ""
    else:
        warn = f'<p class="qa-uncertain">{esc(UNCERTAIN_NOTE)}</p>' if ans.confidence < UNSURE else ""
        meta = _confidence(ans.confidence) + (f" · {esc(ans.message)}" if ans.message else "")
    cites = "".join(f"<div>[{c.n}] {_where(c, docs)}</div>" for c in cited)
    sources = "".join(
        f'<div class="qa-source"><div>[{c.n}] {_where(c, docs)}</div>'
        f"<blockquote>{_marked(c.quote, c.start, spans.get(c.n, []))}</blockquote>"
        f'<div class="qa-meta">score {c.score:.2f} · {_links(c, docs)}</div>{_references(c)}</div>'
        for c in cited
    )
    return (
        f'<div class="qa-answer">{warn}{body}<div class="qa-cites">{cites}</div>'
        f'<div class="qa-meta">{meta} {COPY}</div>'
        f'<details class="qa-sources"><summary>Sources ({len(cited)})</summary>{sources}</details>'
        f"{_markdown_block(answer_markdown(ans, docs))}</div>"
    )


def _render_abstention(ans: Answer, docs: dict[str, dict]) -> str:
    related = list(ans.related)
    if not related:  # fall back on the top hits, as passages
        related = [
            Citation(
                n=i + 1,
                doc=h.chunk.doc,
                title=h.chunk.doc,
                page=h.chunk.page,
                label=None,
                section=h.chunk.section,
                start=h.chunk.start,
                end=h.chunk.end,
                quote=h.chunk.text[:300],
                score=h.score,
            )
            for i, h in enumerate(ans.hits[:3])
        ]
    items = "".join(
        f'<div class="qa-related-item"><div>{_where(c, docs)}</div><div>“{esc(c.quote)}”</div>'
        f'<div class="qa-meta">{_links(c, docs)}</div></div>'
        for c in related
    )
    block = (
        '<div class="qa-related"><div class="qa-related-title">Related reading (not an answer)</div>'
        f"{items}</div>"
        if items
        else ""
    )
    note = ans.message.removesuffix(NO_ANSWER).strip()  # how a follow-up was understood
    understood = f'<p class="qa-meta qa-understood">{esc(note)}</p>' if note else ""
    return (
        f'<div class="qa-abstain">{understood}<p class="qa-noanswer">{esc(NO_ANSWER)}</p>{block}'
        f'<div class="qa-meta">{_confidence(ans.confidence, True)} {COPY}</div>'
        f"{_markdown_block(answer_markdown(ans, docs))}</div>"
    )


def render_index_panel(status: dict) -> str:
    """Documents, pages, chunks, model, built at, and a warning when the corpus changed since."""
    c = status["counts"]
    docs = "".join(
        f"<li>{esc(d.get('title') or d['path'])} <small>({esc(d['path'])}, {d.get('pages')} p.)</small></li>"
        for d in status["documents"]
    )
    skipped = "".join(f"<li>{esc(s['path'])}: {esc(s['reason'])}</li>" for s in status.get("skipped", []))
    out = (
        f'<div class="qa-index"><div><b>{c["documents"]}</b> documents · <b>{c["pages"]}</b> pages · '
        f'<b>{c["chunks"]}</b> chunks</div><div class="qa-meta">model {esc(status["model"]["id"])} · '
        f"built {esc(status['created'])}</div><ul>{docs}</ul>"
    )
    if skipped:
        out += f"<div>Skipped:</div><ul>{skipped}</ul>"
    if status.get("stale"):
        what = (
            ", ".join(f"{len(status[k])} {k}" for k in ("added", "changed", "removed") if status.get(k))
            or "settings changed"
        )
        out += (
            f'<div class="qa-stale">⚠ The corpus has changed since the index was built ({esc(what)}). '
            "Run <code>qa index</code> or restart with <code>qa serve --build</code>.</div>"
        )
    return out + "</div>"
