"""The Gradio chat, mounted by the server at "/": questions, answers (rendered by qa.render), a document
filter, example questions from the index, the index panel, uploads, copy and export as Markdown.

gradio is imported only inside `build_ui`. The little script in ``HEAD`` copies an answer's Markdown and
exports the conversation: both read the Markdown that qa.render put, hidden, in every message.
"""

from __future__ import annotations

from qa.render import esc, render_answer, render_error, render_index_panel, render_question

# System fonts only: the app must not fetch anything from the internet.
THEME_KWARGS = {
    "font": ["ui-sans-serif", "system-ui", "sans-serif"],
    "font_mono": ["ui-monospace", "monospace"],
}
CSS = """
.qa-md{display:none!important}
[data-testid=block-label],[data-testid=block-info],#examples .label{color:#3730a3!important}
#chat .prose{opacity:1!important}
.info-text,.show-api{color:#4b5563!important}
#ask{background:#4338ca!important;color:#fff!important}
.qa-answer .qa-text{line-height:1.6}
.qa-answer mark.qa-hl{background:#ffe066;color:inherit;padding:0 .1em;border-radius:2px}
.qa-cite{font-size:.8em;font-weight:600;color:#0a58ad;margin-left:.15em}
.qa-cites{margin-top:.5em;font-size:.88em;color:#3b3b3b}
.qa-cites div{margin:.1em 0}
.qa-meta{font-size:.85em;color:#555;margin-top:.3em}
.qa-conf{font-weight:600;border-bottom:1px dotted currentColor;cursor:help}
.qa-conf-likely{color:#1a6b32}.qa-conf-probably{color:#3d4f00}.qa-conf-uncertain{color:#8a3b00}
.qa-uncertain{margin:0 0 .4em;padding:.3em .6em;border-left:4px solid #b35c00;background:#fff4e5;
color:#5c2b00;font-weight:600}
.qa-copy{font:inherit;font-size:.9em;margin-left:.6em;padding:.1em .6em;border:1px solid #767676;
border-radius:4px;background:#fff;color:#1f2328;cursor:pointer}
.qa-copy:focus-visible,.qa-conf:focus-visible,details.qa-sources summary:focus-visible{
outline:3px solid #0a58ad;outline-offset:2px}
details.qa-sources{margin-top:.5em;border-top:1px solid #ddd;padding-top:.3em}
details.qa-sources summary{cursor:pointer;font-weight:600}
.qa-source{margin:.5em 0;padding:.4em .6em;border-left:3px solid #0a58ad;background:rgba(11,92,173,.05)}
.qa-source blockquote{margin:.3em 0;font-style:normal}
.qa-columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(13em,1fr));gap:.8em}
.qa-column{border:1px solid #d0d7de;border-radius:6px;padding:.4em .7em;background:#fff}
.qa-column h3{font-size:1em;margin:.1em 0 .3em}
.qa-abstain .qa-noanswer{font-weight:600;color:#8a3b00}
.qa-related{margin-top:.4em;border:1px dashed #8c8c8c;border-radius:6px;padding:.4em .6em;color:#3b3b3b;
font-size:.9em;background:rgba(0,0,0,.03)}
.qa-related-item{margin:.4em 0}
.qa-error{color:#b3261e;font-weight:600}
.qa-stale{color:#8a3b00;font-weight:600;margin-top:.4em}
.qa-upload-ok{color:#1a6b32}
.qa-upload-bad{color:#b3261e}
.qa-upload-busy{color:#3b3b3b}
"""
HEAD = """<script>
(() => {
  const absolute = md => md.replace(/\\]\\(\\//g, "](" + location.origin + "/");
  const mdOf = el => absolute(el.querySelector(".qa-md").textContent);
  async function copy(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {
      const area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      const ok = document.execCommand("copy"); area.remove(); return ok;
    }
  }
  document.addEventListener("click", async ev => {
    const button = ev.target.closest(".qa-copy");
    if (!button) return;
    const ok = await copy(mdOf(button.closest(".qa-answer, .qa-abstain")));
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = "Copy as Markdown"; }, 2000);
  });
  window.qaExport = () => {
    const parts = [...document.querySelectorAll("#chat .qa-md")].map(el => absolute(el.textContent));
    const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
    const text = `# Conversation with qa (${stamp} UTC)\\n\\n` + parts.join("\\n\\n") + "\\n";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], {type: "text/markdown"}));
    link.download = "conversation.md";
    document.body.appendChild(link); link.click(); link.remove();
  };
})();
</script>"""


def _doc_choices(service) -> list[tuple[str, str]]:
    return [(f"{d['title'] or d['id']} ({d['id']})", d["id"]) for d in service.documents()]


def _examples(service) -> list[list[str]]:
    """Example questions drawn from the indexed corpus at build time (none when the index has none)."""
    examples = getattr(service.index, "examples", None)
    return [[q] for q in (examples() if callable(examples) else [])]


def build_ui(service):
    """The chat, document filter, examples, index panel and upload, as a gr.Blocks."""
    import gradio as gr

    from qa.errors import QAError
    from qa.uploads import UploadRejected

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
        chat.append({"role": "assistant", "content": render_answer(ans, service.index.documents)})
        history.append({"question": question, "answer": ans.answer, "abstained": ans.abstained})
        return "", chat, history

    def new_chat():
        return [], [], ""

    def panel():
        try:
            return render_index_panel(service.status())
        except QAError as e:
            return render_error(str(e))

    def names(files) -> list[str]:
        return [str(getattr(f, "name", f)).replace("\\", "/").rsplit("/", 1)[-1] for f in files or []]

    def started(files):
        shown = ", ".join(names(files))
        return f'<div class="qa-upload-busy" role="status">Indexing {esc(shown)}…</div>' if shown else ""

    def upload(files, docs, progress=gr.Progress()):  # noqa: B008 (gradio injects progress this way)
        lines = []
        for path, shown in zip(files or [], names(files), strict=True):
            try:
                with open(getattr(path, "name", path), "rb") as f:
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
        samples = _examples(service)
        return (
            f'<div role="status">{"".join(lines)}</div>' if lines else "",
            None,
            gr.update(choices=_doc_choices(service), value=keep),
            panel(),
            gr.update(samples=samples, visible=bool(samples)),
        )

    samples = _examples(service)
    with gr.Blocks(title="qa: ask your documents") as demo:
        gr.Markdown("# Ask your documents\nAnswers are sentences quoted from the documents, with citations.")
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
                        placeholder="Ask about the documents, then press Enter",
                        elem_id="question",
                        scale=5,
                        min_width=280,  # on a narrow screen Ask wraps below the box
                        max_lines=4,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                with gr.Row():
                    clear = gr.Button("New chat", elem_id="new-chat", size="sm")
                    export = gr.Button("Export conversation (Markdown)", elem_id="export", size="sm")
                examples = gr.Dataset(
                    components=[box],
                    samples=samples,
                    label="Example questions from these documents",
                    elem_id="examples",
                    visible=bool(samples),
                )
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
                    files = gr.UploadButton(
                        "Upload PDF, DOCX, TXT, MD or HTML files",
                        file_count="multiple",
                        file_types=sorted({".pdf", ".docx", ".txt", ".md", ".markdown", ".html", ".htm"}),
                        elem_id="upload",
                        size="md",
                    )
                    upload_status = gr.HTML("", elem_id="upload-status")
        inputs = [box, chat, history, docs]
        outputs = [box, chat, history]
        box.submit(respond, inputs, outputs, concurrency_limit=None)
        ask.click(respond, inputs, outputs, concurrency_limit=None)
        examples.click(lambda sample: sample[0], examples, box)
        clear.click(new_chat, None, [chat, history, box])
        export.click(None, None, None, js="() => window.qaExport()")
        chat.clear(lambda: ([], ""), None, [history, box])  # the chat's own trash button
        files.upload(started, files, upload_status, queue=False).then(
            upload,
            [files, docs],
            [upload_status, files, docs, index_panel, examples],
            concurrency_limit=1,
            show_progress_on=upload_status,
        )
        demo.load(panel, None, index_panel)
    return demo
