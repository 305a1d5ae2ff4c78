"""The REST API (FastAPI): its routes, request models and error responses, and the page viewer.

FastAPI is imported inside `create_api`: `qa --help` stays fast.
"""

import html
import secrets

from qa import links, pageview
from qa.errors import IndexProblem, QAError, UsageError
from qa.request_limits import BodyLimit
from qa.service import Service
from qa.uploads import UploadRejected

_MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text": "text/plain; charset=utf-8",
    "markdown": "text/plain; charset=utf-8",  # shown in the browser, not downloaded
    # An uploaded page must never run as HTML from this origin: it is served as text.
    "html": "text/plain; charset=utf-8",
}


def _has_surrogate(value) -> bool:
    """Whether a JSON value holds a lone surrogate ("\\ud800"): valid JSON, but no UTF-8 text can hold it."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_surrogate(v) for v in value)
    return False


def create_api(service: Service):
    """The FastAPI app: REST routes and the page viewer, without the chat."""
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
