"""`qa serve`: one process, one model and index, a REST API (FastAPI) with the Gradio chat mounted at "/".

The loaded index lives in a `Service`. Every request takes one reference to it and uses only that, so an
upload that re-indexes and swaps in a new `Index` never changes an answer in flight. FastAPI, Gradio and
uvicorn are imported inside functions: `qa --help` stays fast.
"""

import contextlib
import html
import os
import secrets
import socket
import sys
import threading
from pathlib import Path

from qa import links, pageview
from qa.config import Settings
from qa.errors import IndexProblem, QAError, UsageError
from qa.links import doc_links
from qa.milvus import Location
from qa.uploads import (
    UPLOAD_FOLDER,
    UploadRejected,
    check_content,
    free_name,
    sanitize_filename,
    storage_error,
    validate_readable,
)

DEFAULT_MAX_UPLOAD = 25 * 1024 * 1024
# A request body is refused once it passes its limit, before the rest is read: an upload may carry the
# file plus multipart framing; any other API request (a question and its history) is small JSON.
MULTIPART_SLACK = 64 * 1024
MAX_JSON_BODY = 1024 * 1024
# How long an upload to an index in Milvus waits for another replica's update before it is refused (503).
UPLOAD_WAIT_S = 300
_MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text": "text/plain; charset=utf-8",
    "markdown": "text/plain; charset=utf-8",  # shown in the browser, not downloaded
    # An uploaded page must never run as HTML from this origin: it is served as text.
    "html": "text/plain; charset=utf-8",
}


# ---------------------------------------------------------------- the shared state


class Service:
    """The process's one index (and, through it, one model), swapped atomically after uploads."""

    def __init__(self, settings: Settings, max_upload: int = DEFAULT_MAX_UPLOAD, index=None) -> None:
        from qa.index import load_index

        self.settings = settings
        self.corpus = Path(settings.corpus)
        self.max_upload = max_upload
        self.index = index if index is not None else load_index(settings.index)
        self._update = threading.Lock()  # one re-index at a time; readers never wait on it

    @property
    def index(self):
        """The index to answer from; one shared in Milvus is reloaded when another replica updated it."""
        self._index = self._index.latest()
        return self._index

    @index.setter
    def index(self, value) -> None:
        self._index = value

    def warm_up(self) -> None:
        """Load the model now, not on the first question."""
        self.index.embed_query("warm up")

    def ask(self, question: str, history: list | None = None, docs: list[str] | None = None, k: int = 8):
        idx = self.index  # one reference per request: a swap after an upload cannot change it mid-answer
        return idx.ask(question, history=history, docs=docs or None, k=k)

    def status(self) -> dict:
        # A replica answering from an index in Milvus may have no corpus folder: describe the index alone.
        st = self.index.status(self.corpus if self.corpus.is_dir() else None, self.settings)
        st["uploads"] = {"folder": f"{UPLOAD_FOLDER}/", "max_bytes": self.max_upload}
        return st

    def documents(self) -> list[dict]:
        return [document_entry(f) for _, f in sorted(self.index.documents.items())]

    @staticmethod
    def find_doc(idx, doc_id: str) -> str | None:
        """The id of a document in the index, or None. Only exact ids are served: nothing is guessed."""
        # A backslash is an ordinary character of a POSIX file name; ids only ever match exactly.
        if not doc_id or "\x00" in doc_id or doc_id.startswith("/"):
            return None
        if any(part in ("..", ".", "") for part in doc_id.split("/")):
            return None
        return doc_id if doc_id in idx.documents else None

    def page(self, doc_id: str, n: int) -> dict | None:
        idx = self.index
        doc = self.find_doc(idx, doc_id)
        page = idx.pages.get((doc, n)) if doc else None
        if page is None:
            return None
        rows = idx.doc_rows.get(doc, [])
        chunks = [idx.chunks[int(i)] for i in rows if idx.chunks[int(i)].page == n]
        meta = idx.documents[doc]
        return {
            "doc": doc,
            "title": meta.get("title"),
            "format": meta.get("format"),
            "pages": meta.get("pages"),
            "page": n,
            "label": page.label,
            "text": page.text,
            "headings": page.to_dict()["headings"],
            "ocr": page.ocr,
            "chunks": [
                {
                    "id": c.id,
                    "start": c.start,
                    "end": c.end,
                    "section": list(c.section),
                    "kind": c.kind,
                    "sentences": [list(s) for s in c.sentences],
                    "text": c.text,
                }
                for c in chunks
            ],
        }

    def file_path(self, doc_id: str) -> tuple[Path, str] | None:
        """The original file of an indexed document, only if it really lies inside the corpus."""
        idx = self.index
        doc = self.find_doc(idx, doc_id)
        if doc is None:
            return None
        root = self.corpus.resolve()
        target = (self.corpus / doc).resolve()  # follows symlinks: a link out of the corpus is refused
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target, idx.documents[doc].get("format", "text")

    def page_image(self, doc_id: str, n: int) -> bytes | None:
        """Page ``n`` of an indexed PDF as PNG, or None."""
        found = self.file_path(doc_id)
        if found is None or found[1] != "pdf" or (doc_id, n) not in self.index.pages:
            return None
        return pageview.render_png(found[0], n)

    def placement(self, view: dict, start: int | None, end: int | None):
        """Where [start, end) of a page view's text is on its rendered PDF page (None: not a PDF)."""
        found = self.file_path(view["doc"]) if view["format"] == "pdf" else None
        if found is None:
            return None
        return pageview.place_quote(found[0], view["page"], view["text"], start, end, view["ocr"])

    @contextlib.contextmanager
    def _shared_update(self, name: str, progress):
        """An index in Milvus is shared by replicas: one update at a time across all of them, held from
        choosing the file's name to the alias swap (``qa.milvus.lock``, in the corpus folder they share).
        A folder index has this one process, which ``_update`` serialises."""
        if not isinstance(self.settings.index, Location):
            yield
            return
        from qa.milvus.lock import NoCorpus, update_lock

        def say(message: str) -> None:
            print(f"qa serve: {message}", file=sys.stderr, flush=True)
            if progress:
                progress("waiting for another update", 0, 1)

        def busy(message: str) -> UploadRejected:
            return UploadRejected(f"{message}; nothing was saved", 503)

        try:
            with update_lock(self.corpus, f"the upload of {name}", say, UPLOAD_WAIT_S, busy):
                yield
        except NoCorpus:
            raise UploadRejected(
                f"this replica has no corpus folder ({self.corpus}): upload through a replica that shares it",
                503,
            ) from None

    def upload(self, filename: str, data: bytes, progress=None) -> dict:
        """Check, save under corpus/uploads/ and index one file; a rejected file changes nothing."""
        from qa.build import build_index
        from qa.index import load_index
        from qa.ingest import sha256_file

        name = sanitize_filename(filename)
        check_content(name, data, self.max_upload)
        with self._update:
            meta, n_chunks = validate_readable(name, data, self.settings)
            with self._shared_update(name, progress):
                folder = self.corpus / UPLOAD_FOLDER
                folder.mkdir(parents=True, exist_ok=True)
                dest, same = free_name(folder, name, data, sha256_file)
                rel = dest.relative_to(self.corpus).as_posix()
                if same and rel in self.index.documents:
                    return {"status": "unchanged", "doc": rel, "message": f"{rel} is already in the corpus"}
                # A dot file is not a corpus file: no build can see it half-written.
                part = folder / f".{dest.name}.part"
                old = self.index
                try:
                    part.write_bytes(data)
                    os.replace(part, dest)
                    report = build_index(
                        self.corpus,
                        self.settings.index,
                        self.settings,
                        embedder=old.embedder,
                        progress=progress,
                    )
                    new = load_index(self.settings.index, embedder=old.embedder)
                except BaseException as e:
                    part.unlink(missing_ok=True)
                    dest.unlink(missing_ok=True)
                    if isinstance(e, OSError):  # disk full, quota, I/O error: say so, not a bare 500
                        raise storage_error(name, e) from None
                    raise
                if rel not in new.documents:  # the build skipped it after all: undo, keep the old index
                    dest.unlink(missing_ok=True)
                    reason = next((s["reason"] for s in report["skipped"] if s["path"] == rel), "not indexed")
                    build_index(self.corpus, self.settings.index, self.settings, embedder=old.embedder)
                    raise UploadRejected(f"cannot index {name}: {reason}", 422)
                self.index = new  # the swap: requests that already hold `old` finish with it
        entry = document_entry(new.documents[rel])
        return {
            "status": "added",
            "doc": rel,
            "title": entry["title"] or meta["title"],
            "format": entry["format"],
            "pages": entry["pages"],
            "chunks": entry["chunks"] or n_chunks,
            "links": entry["links"],
            "summary": report["summary"],
            "message": f"added {rel} ({_n(entry['pages'], 'page')}, {_n(entry['chunks'], 'chunk')})",
        }


def _n(count, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def document_entry(f: dict) -> dict:
    keys = ("path", "title", "format", "pages", "chunks", "url", "bytes")
    out = {k: f.get(k) for k in keys}
    out["id"] = f["path"]
    out["links"] = doc_links(f["path"], f.get("format"))
    return out


# ---------------------------------------------------------------- request limits


def _has_surrogate(value) -> bool:
    """Whether a JSON value holds a lone surrogate ("\\ud800"): valid JSON, but no UTF-8 text can hold it."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_surrogate(v) for v in value)
    return False


class BodyLimit:
    """ASGI middleware: a POST under /api/ whose body passes its limit gets 413 before the rest is read.

    The limit is the service's upload cap (plus multipart framing) for uploads, MAX_JSON_BODY otherwise. A
    declared Content-Length over it is refused without reading a byte; a body of unknown length is counted
    as it arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app, service: Service) -> None:
        self.app = app
        self.service = service

    def limit(self, path: str) -> int:
        if path.rstrip("/") == "/api/documents":
            return self.service.max_upload + MULTIPART_SLACK
        return MAX_JSON_BODY

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(send, scope["path"])
            return
        state = {"read": 0, "over": False, "started": False}

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    state["over"] = True
                    raise _BodyTooLarge
            return message

        async def guarded(message) -> None:
            if state["over"]:  # the app turned our signal into its own error response: ours is sent instead
                return
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._refuse(send, scope["path"])

    async def _refuse(self, send, path: str) -> None:
        import json

        if path.rstrip("/") == "/api/documents":
            detail = f"file too large (the limit is {self.service.max_upload / 1e6:.1f} MB)"
        else:
            detail = f"request too large (the limit is {MAX_JSON_BODY / 1e6:.1f} MB)"
        body = json.dumps({"detail": detail + "; the rest of it was not read"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


# ---------------------------------------------------------------- the app


def create_app(service: Service, ui: bool = True):
    """The FastAPI app: REST routes, the page viewer and (unless ui=False) the Gradio chat at "/"."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from typing import Annotated, Any

    from fastapi import FastAPI, File, HTTPException, Request, Response, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
    from pydantic import BaseModel, Field, field_validator

    from qa import __version__

    app = FastAPI(
        title="qa",
        version=__version__,
        description="Extractive, cited answers from your documents. The chat is at /.",
    )
    app.state.service = service
    app.add_middleware(BodyLimit, service=service)

    class AskRequest(BaseModel):
        question: str = Field(description="the question (1 to 2,000 characters)")
        history: list[Any] | None = Field(default=None, description="earlier turns of the conversation")
        docs: list[str] | None = Field(default=None, description="restrict to these document ids")
        k: int = Field(default=8, ge=1, le=100, description="passages to retrieve")

        @field_validator("question", "history", "docs")
        @classmethod
        def _text(cls, value):
            if _has_surrogate(value):
                raise ValueError("text with a lone surrogate (invalid Unicode); send valid UTF-8 text")
            return value

    @app.exception_handler(UsageError)
    async def _usage(request: Request, exc: UsageError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(UploadRejected)
    async def _rejected(request: Request, exc: UploadRejected):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(IndexProblem)
    async def _index_problem(request: Request, exc: IndexProblem):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(QAError)
    async def _qa_error(request: Request, exc: QAError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        parts = [f"{'.'.join(map(str, e.get('loc', ())[1:])) or 'body'}: {e.get('msg')}" for e in errors]
        return JSONResponse(
            {"detail": "invalid request: " + "; ".join(parts), "errors": _plain(errors)}, status_code=422
        )

    @app.post("/api/ask", summary="Ask a question: a cited extractive answer or an abstention")
    def api_ask(req: AskRequest) -> dict:
        return service.ask(req.question, history=req.history, docs=req.docs, k=req.k).to_dict()

    @app.get("/api/status", summary="What the index holds and whether the corpus changed since")
    def api_status() -> dict:
        return service.status()

    @app.get("/api/documents", summary="The indexed documents")
    def api_documents() -> dict:
        return {"documents": service.documents()}

    @app.get(links.PAGE, summary="A page's normalised text and its chunks")
    def api_page(doc_id: str, n: int) -> dict:
        view = service.page(doc_id, n)
        if view is None:
            raise HTTPException(404, f"no page {n} in document '{doc_id}'")
        return view

    @app.get(links.FILE, summary="The original file (only from inside the corpus)")
    def api_file(doc_id: str):
        found = service.file_path(doc_id)
        if found is None:
            raise HTTPException(404, f"no document '{doc_id}'")
        path, fmt = found
        headers = {"X-Content-Type-Options": "nosniff"}
        if fmt != "pdf":
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return FileResponse(
            path, media_type=_MEDIA.get(fmt, "text/plain"), headers=headers, content_disposition_type="inline"
        )

    @app.post("/api/documents", status_code=201, summary="Upload a PDF, DOCX, TXT, MD or HTML file; index it")
    def api_upload(response: Response, file: Annotated[UploadFile, File()]) -> dict:
        data = file.file.read(service.max_upload + 1)
        result = service.upload(file.filename or "", data)
        if result["status"] == "unchanged":
            response.status_code = 200
        return result

    @app.get(links.IMAGE, response_class=Response, summary="A PDF page rendered as a PNG image")
    def api_page_image(doc_id: str, n: int):
        png = service.page_image(doc_id, n)
        if png is None:
            raise HTTPException(404, f"no PDF page {n} in document '{doc_id}'")
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})

    @app.get(links.VIEW, response_class=HTMLResponse, summary="A page with a passage marked on it")
    def view(doc_id: str, page: int = 1, start: int | None = None, end: int | None = None):
        v = service.page(doc_id, page)
        if v is None:
            return HTMLResponse(
                f"<!doctype html><title>Not found</title><p>No page {page} in document "
                f"'{html.escape(doc_id)}'.</p>",
                status_code=404,
            )
        nonce = secrets.token_urlsafe(12)
        csp = f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'"
        return HTMLResponse(
            pageview.page_html(v, start, end, nonce, service.placement(v, start, end)),
            headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"},
        )

    if ui:
        import gradio as gr

        from qa.ui import CSS, HEAD, THEME_KWARGS, build_ui

        blocks = build_ui(service)
        app = gr.mount_gradio_app(
            app,
            blocks,
            path="/",
            max_file_size=4 * service.max_upload,  # our own check names the reason below this
            theme=gr.themes.Soft(**THEME_KWARGS),
            css=CSS,
            head=HEAD,
            footer_links=["api"],
        )
    return app


def _plain(obj):
    """Validation errors as JSON-safe values (pydantic may put exceptions in `ctx`)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, str):  # an echoed input may hold lone surrogates that UTF-8 JSON cannot carry
        return obj.encode("utf-8", "backslashreplace").decode("utf-8")[:1000]
    return obj if isinstance(obj, int | float | bool | type(None)) else _plain(str(obj))


# ---------------------------------------------------------------- qa serve


def _terminal_progress():
    """tqdm bars on a terminal; plain lines otherwise (e.g. under make or a service manager)."""
    from qa.build import progress_printer

    bars = progress_printer(False)
    if bars:
        return bars
    shown: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        step = max(1, total // 4)
        if done == 0 or done >= total or done // step != shown.get(stage, -1):
            shown[stage] = done // step
            print(f"qa: {stage} {done}/{total}", file=sys.stderr, flush=True)

    return update


def ensure_index(settings: Settings) -> None:
    """Build the index if missing, or update it if the corpus or settings changed, printing progress."""
    from qa.build import build_index
    from qa.index import status

    try:
        st = status(settings.index, settings.corpus, settings)
        if not st["stale"]:
            return
        what = ", ".join(f"{len(st[k])} {k}" for k in ("added", "changed", "removed") if st[k]) or "settings"
        print(f"qa: corpus changed since the index was built ({what}); updating", file=sys.stderr)
    except IndexProblem:
        print(f"qa: no index at {settings.index}; building it from {settings.corpus}", file=sys.stderr)
    report = build_index(settings.corpus, settings.index, settings, progress=_terminal_progress())
    print(f"qa: {report['summary']}", file=sys.stderr, flush=True)


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            msg = f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port"
            raise UsageError(msg) from None


def cmd_serve(args) -> int:
    from qa.cli import _settings

    settings = _settings(args)
    if args.port < 0 or args.port > 65535:
        raise UsageError(f"--port must be 0-65535, not {args.port}")
    _check_port(args.host, args.port)
    if args.build:
        ensure_index(settings)
    service = Service(settings, max_upload=int(args.max_upload_mb * 1024 * 1024))
    service.warm_up()
    app = create_app(service)
    import uvicorn

    st = service.index.manifest["counts"]
    print(
        f"qa: serving {st['documents']} documents ({st['chunks']} chunks) on http://{args.host}:{args.port}"
        f"  (API docs: http://{args.host}:{args.port}/docs)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_parser(sub) -> None:
    sp = sub.add_parser("serve", help="the web chat and REST API (default http://127.0.0.1:7860)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    sp.add_argument("--index", help="index folder (default: index/, or $QA_INDEX)")
    sp.add_argument("--corpus", help="corpus folder (default: corpus/, or $QA_CORPUS); uploads: uploads/")
    from qa.cli import milvus_options

    milvus_options(sp)
    sp.add_argument(
        "--build", action="store_true", help="build the index, or update it, if missing or stale first"
    )
    sp.add_argument(
        "--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD / 1024 / 1024, help="upload size cap"
    )
    sp.set_defaults(func=cmd_serve)
