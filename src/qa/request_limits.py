"""The size limits on a request body of the REST API: an ASGI middleware that refuses with 413."""

from qa.service import Service

# A request body is refused once it passes its limit, before the rest is read: an upload may carry the
# file plus multipart framing; any other API request (a question and its history) is small JSON.
MULTIPART_SLACK = 64 * 1024
MAX_JSON_BODY = 1024 * 1024


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
