"""The explorer's FastAPI application: the page, its assets, the API and the safety limits.

Limits: request bodies over :data:`MAX_BODY` bytes are refused before they are parsed (413);
only the files packaged in ``static/`` are served, looked up by name in a table read at start-up,
so no part of a request's path reaches the file system; the Host header must name the address
the server was started on (against DNS rebinding from other web pages); every error is a JSON
``{"detail": message}`` with a 4xx status, never a traceback.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genlab.data.errors import DataError
from genlab.errors import GenlabError
from genlab.explore.api import router
from genlab.explore.jobs import Busy, NotFound
from genlab.explore.session import Explorer

MAX_BODY = 2 * 1024 * 1024
"""Bytes in one request body at most: a drawn 512 x 512 mask as JSON fits, a flood does not."""
MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}
log = logging.getLogger("genlab.explore")


class BodyLimit:
    """ASGI middleware: read a request body up to ``limit`` bytes, answer 413 beyond it, and
    hand the application the body it read. Declared and streamed (chunked) sizes both count."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        too_big = not declared.isdigit() or int(declared) > self.limit
        chunks: list[bytes] = []
        size, more = 0, not too_big
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False) and size <= self.limit
        if too_big or size > self.limit:
            detail = f"the request body is larger than the limit of {self.limit} bytes"
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's assets, read once from the package: name -> (content, media type)."""
    folder = resources.files("genlab.explore") / "static"
    out = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in MEDIA:
            out[item.name] = (item.read_bytes(), MEDIA[suffix])
    return out


def _validation_message(exc: RequestValidationError) -> str:
    """Pydantic's errors in one line: ``body.z.3: Input should be ...; ...``."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _handlers(app: FastAPI) -> None:
    """Every error as ``{"detail": message}``: user errors 4xx, a bug 500 without a trace."""

    def handler(status: int) -> Any:
        async def respond(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return respond

    app.add_exception_handler(NotFound, handler(404))
    app.add_exception_handler(Busy, handler(429))
    app.add_exception_handler(GenlabError, handler(400))
    app.add_exception_handler(DataError, handler(400))

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("explorer: unexpected error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server "
                             "log"}, status_code=500)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, bug)


def create_app(state: Explorer, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The application serving ``state``'s runs; ``allowed_hosts`` (None: any) are the names
    the browser may reach it by. The caller owns ``state`` (and closes it): several apps, or
    test clients, may serve one."""
    app = FastAPI(title="genlab explore", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = state
    assets = static_files()
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        content, media = assets["index.html"]
        return Response(content, media_type=media)

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise NotFound(f"no asset {name!r}")
        content, media = assets[name]
        return Response(content, media_type=media)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    _handlers(app)
    app.add_middleware(BodyLimit)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app
