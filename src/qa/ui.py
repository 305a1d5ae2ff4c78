"""The Gradio chat. Rendering is pure (Answer → HTML, every document text and question escaped); gradio is
imported only inside `build_ui`, which the server mounts at "/".
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from qa.records import Answer, Citation

NO_ANSWER = "The documents don't answer this question."
EXAMPLES = [
    "What has Microsoft launched across Indian states?",
    "In which areas does Japan lead that make it a valuable AI partner for India?",
    "What will Tokyo Electron supply for Tata's semiconductor facilities?",
    "How much did the IndiaAI Mission receive in 2023-2024?",
    "Who will lead infrastructure development at the Hyderabad AI data centre?",
]
# System fonts only: the app must not fetch anything from the internet.
THEME_KWARGS = {
    "font": ["ui-sans-serif", "system-ui", "sans-serif"],
    "font_mono": ["ui-monospace", "monospace"],
}
CSS = """
.qa-answer .qa-text{line-height:1.6}
.qa-answer mark.qa-hl{background:#ffe066;color:inherit;padding:0 .1em;border-radius:2px}
.qa-cite{font-size:.8em;font-weight:600;color:#0b5cad;margin-left:.15em}
.qa-cites{margin-top:.5em;font-size:.88em;color:#444}
.qa-cites div{margin:.1em 0}
.qa-meta{font-size:.8em;color:#666;margin-top:.3em}
details.qa-sources{margin-top:.5em;border-top:1px solid #ddd;padding-top:.3em}
details.qa-sources summary{cursor:pointer;font-weight:600}
.qa-source{margin:.5em 0;padding:.4em .6em;border-left:3px solid #0b5cad;background:rgba(11,92,173,.05)}
.qa-source blockquote{margin:.3em 0;font-style:normal}
.qa-abstain .qa-noanswer{font-weight:600;color:#8a4b00}
.qa-related{margin-top:.4em;border:1px dashed #aaa;border-radius:6px;padding:.4em .6em;color:#555;
font-size:.9em;background:rgba(0,0,0,.03)}
.qa-related-item{margin:.4em 0}
.qa-error{color:#b3261e;font-weight:600}
.qa-stale{color:#8a4b00;font-weight:600;margin-top:.4em}
.qa-upload-ok{color:#1a7f37}
.qa-upload-bad{color:#b3261e}
"""


def esc(text: object) -> str:
    """HTML-escaped text on one line (Markdown renderers end an HTML block at a blank line)."""
    return html.escape(str(text), quote=True).replace("\r", "").replace("\n", " ")


def _safe_url(url: str | None) -> str | None:
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


def _where(c: Citation, with_title: bool = True) -> str:
    """Title, p. N (printed label) · section path."""
    page = f"p. {c.page}"
    if c.label and c.label != str(c.page):
        page += f" (printed {esc(c.label)})"
    parts = [f"<b>{esc(c.title)}</b>" if with_title else "", page]
    where = ", ".join(p for p in parts if p)
    if c.section:
        where += " · " + " › ".join(esc(s) for s in c.section[-3:])
    return where


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


def _links(c: Citation, formats: dict[str, str]) -> str:
    from qa.server import doc_links

    fmt = formats.get(c.doc)
    links = doc_links(c.doc, fmt, c.page, c.start, c.end)
    out = [f'<a class="qa-open" href="{esc(links["open"])}" target="_blank">open at page {c.page}</a>']
    if fmt == "pdf":
        out.append(f'<a class="qa-view" href="{esc(links["view"])}" target="_blank">page text</a>')
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
    from qa.server import doc_links

    out = []
    for ev in c.evidence:
        if not isinstance(ev, dict) or "doc" not in ev:
            continue
        link = doc_links(ev["doc"], None, ev["page"], ev["start"], ev["end"])["view"]
        snippet = ev.get("text", "")[:300]
        out.append(
            f'<div class="qa-evidence">In the cited source, <b>{esc(ev.get("title") or ev["doc"])}</b>, '
            f"p. {ev['page']}: “{esc(snippet)}” "
            f'<a href="{esc(link)}" target="_blank">open at page {ev["page"]}</a></div>'
        )
    return "".join(out)


def render_question(question: str) -> str:
    return f'<div class="qa-q">{esc(question)}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-error">⚠ {esc(message)}</div>'


def render_answer(ans: Answer, formats: dict[str, str] | None = None) -> str:
    """An answer with highlighted quotes, citation markers and a Sources panel; or an abstention."""
    formats = formats or {}
    if ans.abstained:
        return _render_abstention(ans, formats)
    spans: dict[int, list[tuple[int, int]]] = {}
    for h in ans.highlights:
        spans.setdefault(h.get("citation"), []).append((h["start"], h["end"]))
    if ans.display and ans.display != ans.answer:
        # A table row shown with its header: highlight the answering text where it appears.
        body = esc(ans.display)
        for h in ans.highlights:
            t = esc(h.get("text", ""))
            if t and t in body:
                body = body.replace(t, f'<mark class="qa-hl">{t}</mark>', 1)
        body += "".join(f'<sup class="qa-cite">[{c.n}]</sup>' for c in ans.citations)
    else:
        body = " ".join(
            _marked(c.quote, c.start, spans.get(c.n, [])) + f'<sup class="qa-cite">[{c.n}]</sup>'
            for c in ans.citations
        )
    cites = "".join(f"<div>[{c.n}] {_where(c)}</div>" for c in ans.citations)
    meta = f"confidence {ans.confidence:.2f}"
    if ans.message:
        meta += f" · {esc(ans.message)}"
    sources = "".join(
        f'<div class="qa-source"><div>[{c.n}] {_where(c)}</div>'
        f"<blockquote>{_marked(c.quote, c.start, spans.get(c.n, []))}</blockquote>"
        f'<div class="qa-meta">score {c.score:.2f} · {_links(c, formats)}</div>{_references(c)}</div>'
        for c in ans.citations
    )
    return (
        f'<div class="qa-answer"><div class="qa-text">{body}</div><div class="qa-cites">{cites}</div>'
        f'<div class="qa-meta">{meta}</div>'
        f'<details class="qa-sources"><summary>Sources ({len(ans.citations)})</summary>{sources}</details>'
        "</div>"
    )


def _render_abstention(ans: Answer, formats: dict[str, str]) -> str:
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
        f'<div class="qa-related-item"><div>{_where(c)}</div><div>“{esc(c.quote)}”</div>'
        f'<div class="qa-meta">{_links(c, formats)}</div></div>'
        for c in related
    )
    block = (
        '<div class="qa-related"><div class="qa-related-title">Related reading (not an answer)</div>'
        f"{items}</div>"
        if items
        else ""
    )
    return (
        f'<div class="qa-abstain"><p class="qa-noanswer">{esc(NO_ANSWER)}</p>{block}'
        f'<div class="qa-meta">confidence {ans.confidence:.2f}</div></div>'
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


def _doc_choices(service) -> list[tuple[str, str]]:
    return [(f"{d['title'] or d['id']} ({d['id']})", d["id"]) for d in service.documents()]


def _formats(service) -> dict[str, str]:
    return {d: f.get("format") for d, f in service.index.documents.items()}


def build_ui(service):
    """The chat, document filter, examples, index panel and upload, as a gr.Blocks."""
    import gradio as gr

    from qa.errors import QAError
    from qa.server import UploadRejected

    def respond(question, chat, history, docs):
        chat = list(chat or [])
        history = list(history or [])
        question = question or ""
        chat.append({"role": "user", "content": render_question(question)})
        try:
            ans = service.ask(question, history=history, docs=docs or None)
        except QAError as e:
            chat.append({"role": "assistant", "content": render_error(str(e))})
            return question, chat, history
        chat.append({"role": "assistant", "content": render_answer(ans, _formats(service))})
        history.append({"question": question, "answer": ans.answer, "abstained": ans.abstained})
        return "", chat, history

    def new_chat():
        return [], [], ""

    def panel():
        try:
            return render_index_panel(service.status())
        except QAError as e:
            return render_error(str(e))

    def upload(files, docs, progress=gr.Progress()):  # noqa: B008 (gradio injects progress this way)
        lines = []
        for path in files or []:
            name = getattr(path, "name", path)
            shown = str(name).replace("\\", "/").rsplit("/", 1)[-1]
            try:
                with open(name, "rb") as f:
                    data = f.read(service.max_upload + 1)
                progress(0, desc=f"indexing {shown}")

                def step(stage, done, total, _shown=shown):
                    progress((done, max(total, 1)), desc=f"{stage} {_shown}")

                res = service.upload(shown, data, progress=step)
                lines.append(f'<div class="qa-upload-ok">✓ {esc(res["message"])}</div>')
            except UploadRejected as e:
                lines.append(f'<div class="qa-upload-bad">✗ {esc(shown)} rejected: {esc(e)}</div>')
            except QAError as e:
                lines.append(f'<div class="qa-upload-bad">✗ {esc(shown)}: {esc(e)}</div>')
        valid = {d for _, d in _doc_choices(service)}
        keep = [d for d in (docs or []) if d in valid]
        return (
            "".join(lines) or "",
            None,
            gr.update(choices=_doc_choices(service), value=keep),
            panel(),
        )

    with gr.Blocks(title="qa: ask your documents") as demo:
        gr.Markdown("## Ask your documents\nAnswers are sentences quoted from the documents, with citations.")
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=560,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=["copy"],
                    placeholder="Ask a question about the documents.",
                )
                with gr.Row():
                    box = gr.Textbox(
                        label="Question",
                        placeholder="e.g. What has Microsoft launched across Indian states?",
                        elem_id="question",
                        scale=5,
                        max_lines=4,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                clear = gr.Button("New chat", elem_id="new-chat", size="sm")
                gr.Examples(EXAMPLES, inputs=[box], label="Examples from the brief")
            with gr.Column(scale=2):
                docs = gr.Dropdown(
                    choices=_doc_choices(service),
                    value=[],
                    multiselect=True,
                    label="Documents to search",
                    info="empty: all documents",
                    elem_id="doc-filter",
                )
                with gr.Accordion("Index", open=True):
                    index_panel = gr.HTML(panel(), elem_id="index-panel")
                with gr.Accordion("Add documents", open=True):
                    files = gr.File(
                        label="PDF, DOCX, TXT, MD or HTML",
                        file_count="multiple",
                        file_types=sorted({".pdf", ".docx", ".txt", ".md", ".markdown", ".html", ".htm"}),
                        elem_id="upload",
                    )
                    upload_status = gr.HTML("", elem_id="upload-status")
        inputs = [box, chat, history, docs]
        outputs = [box, chat, history]
        box.submit(respond, inputs, outputs, concurrency_limit=None)
        ask.click(respond, inputs, outputs, concurrency_limit=None)
        clear.click(new_chat, None, [chat, history, box])
        chat.clear(lambda: ([], ""), None, [history, box])  # the chat's own trash button
        files.upload(upload, [files, docs], [upload_status, files, docs, index_panel], concurrency_limit=1)
        demo.load(panel, None, index_panel)
    return demo
