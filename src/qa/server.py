"""`qa serve`: one process, one model and index, a REST API (FastAPI) with the Gradio chat mounted at "/".

The loaded index lives in a `Service` (qa.service), the routes in qa.api. FastAPI, Gradio and uvicorn are
imported inside functions: `qa --help` stays fast.
"""

import os
import socket
import sys

from qa.config import Settings
from qa.errors import IndexProblem, UsageError
from qa.service import DEFAULT_MAX_UPLOAD, Service


def create_app(service: Service, ui: bool = True):
    """The FastAPI app: REST routes, the page viewer and (unless ui=False) the Gradio chat at "/"."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from qa.api import create_api

    app = create_api(service)
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
