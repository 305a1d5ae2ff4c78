"""The app's addresses for a document, in one place the routes (qa.api) and the chat (qa.ui) both use.

``view`` is the in-app page view: a PDF page rendered with the quote highlighted on it, or a text page with
the quote marked; ``file`` the original file (a PDF at ``#page=N`` in the browser's viewer); ``image`` the
rendered PDF page. A citation's "open at page N" is ``open``, the page view, for every format.
"""

from __future__ import annotations

from urllib.parse import quote

VIEW = "/view/{doc_id:path}"
FILE = "/api/documents/{doc_id:path}/file"
PAGE = "/api/documents/{doc_id:path}/pages/{n}"
IMAGE = "/api/documents/{doc_id:path}/pages/{n}/image"


def doc_links(doc: str, fmt: str | None, page: int = 1, start: int | None = None, end: int | None = None):
    """URLs of a document at a page: ``view`` (with [start, end) marked), ``file``, ``image``, ``open``."""
    q = quote(doc, safe="/")
    view = f"/view/{q}?page={page}"
    if start is not None and end is not None:
        view += f"&start={start}&end={end}#hit"
    file = f"/api/documents/{q}/file" + (f"#page={page}" if fmt == "pdf" else "")
    image = f"/api/documents/{q}/pages/{page}/image"
    return {"file": file, "view": view, "image": image, "open": view}
