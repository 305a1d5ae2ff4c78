"""Answers as Markdown, to take away: each quote with its title, page (or section) and URL.

The chat embeds this text in every message; its "Copy as Markdown" button copies one answer and "Export
conversation" joins the questions and answers into one ``.md`` file. Links into the app are written
relative ("/view/..."); the browser makes them absolute with the page's origin when it copies them.
"""

from __future__ import annotations

from qa.links import doc_links
from qa.records import Answer, Citation
from qa.wording import UNCERTAIN_NOTE, UNSURE, confidence_words, has_pages, location

NO_ANSWER = "The documents don't answer this question."


def _md(text: str) -> str:
    """Text on one line with Markdown's markers escaped, so a quote reads as written."""
    out = " ".join(str(text).split())
    for ch in "\\`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return out


def _source(c: Citation, docs: dict[str, dict]) -> str:
    meta = docs.get(c.doc)
    where = location(c, has_pages(meta))
    link = doc_links(c.doc, (meta or {}).get("format"), c.page, c.start, c.end)["view"]
    line = f"[{c.n}] *{_md(c.title)}*" + (f", {_md(where)}" if where else "") + f" — [open]({link})"
    if c.url:
        line += f" · <{c.url}>"
    return line


def question_markdown(question: str) -> str:
    return f"**Q:** {_md(question)}"


def answer_markdown(ans: Answer, docs: dict[str, dict] | None = None) -> str:
    """One answer: a note when uncertain, the quotes (by document for a comparison), confidence, sources."""
    docs = docs or {}
    if ans.abstained:
        lines = [ans.message or NO_ANSWER]  # with how a follow-up was understood, if it was rewritten
        lines += [f"- Related reading (not an answer): {_source(c, docs)}" for c in ans.related]
        return "\n".join(lines)
    evidence = getattr(ans, "kind", "answer") == "evidence"  # quoted figures, not an answer
    if evidence:
        lines = [f"**{_md(ans.message)}**", ""]
    else:
        lines = [f"**{UNCERTAIN_NOTE}**", ""] if ans.confidence < UNSURE else []
    columns = getattr(ans, "by_document", None) or []
    cited = list(ans.citations)
    if columns:
        for col in columns:
            lines += [f"**{_md(col.get('title') or col['doc'])}**", ""]
            lines += [f"> {_md(c.quote)} [{c.n}]" for c in col["citations"]] + [""]
            cited += [c for c in col["citations"] if c not in cited]
    else:
        lines += [f"> {' '.join(f'{_md(c.quote)} [{c.n}]' for c in ans.citations)}", ""]
    if not evidence:
        lines += [f"*{confidence_words(ans.confidence)}* (confidence {ans.confidence:.2f})", ""]
    lines += [_source(c, docs) for c in sorted(cited, key=lambda c: c.n)]
    return "\n".join(lines)
