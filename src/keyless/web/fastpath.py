"""Fast routes: the hot endpoints answered straight from a (method, path) table.

FastAPI's routing and per-request parameter solving cost about as much CPU as a whole passwordless
flow's own work (see docs/benchmarks.md), so the API endpoints skip it. They are still declared to
FastAPI for the OpenAPI document, and render errors with the same function as everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keyless.web.errors import render_exception

Handler = Callable[[Request], Awaitable[Response]]


class FastRoutes:
    def __init__(self, app: ASGIApp, *, routes: dict[tuple[str, str], Handler]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:  # every failure becomes a rendered error, never a trace
            response = render_exception(exc)
        await response(scope, receive, send)
