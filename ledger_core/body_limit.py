"""`BodyLimit` (pure ASGI) refuses a body larger than its route's limit with 413 before anything else runs (no
authentication, no parsing): a declared `Content-Length` is checked up front, a chunked body is counted while it
streams and cut at the limit. Routes that take a document upload can have their own, larger limit. Both HTTP
edges use it: the ledger service's API and the oracles' push endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": "RequestTooLarge", "message": f"the request body is larger than this route takes "
                         f"({limit} bytes)", "args": {"max_bytes": limit}}, status_code=413)


class BodyLimit:
    """Refuses request bodies over the limit of their route (413), before the application reads them.

    `uploads` names the routes with the larger `upload_limit` (path pattern and methods), or is a callable that
    lists them on the first request (the application's routes are complete by then)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None,
                 uploads: Iterable[tuple[re.Pattern[str], frozenset[str]]]
                 | Callable[[], Iterable[tuple[re.Pattern[str], frozenset[str]]]] = ()) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit if upload_limit is not None else limit
        self._uploads = uploads
        self._routes: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def limit_of(self, method: str, path: str) -> int:
        if self._routes is None:
            self._routes = list(self._uploads() if callable(self._uploads) else self._uploads)
        for pattern, methods in self._routes:
            if method in methods and pattern.match(path):
                return self.upload_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"error": "InvalidContentLength", "message": "Content-Length is not a number",
                                    "args": {}}, status_code=400)(scope, receive, send)
                return
            if int(declared) > limit:
                await too_large(limit)(scope, receive, send)
                return
        received = 0
        exceeded = False
        started = False

        async def counting() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def answering(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the application answers to a body cut short, the client is told why
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, answering)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await too_large(limit)(scope, receive, send)
