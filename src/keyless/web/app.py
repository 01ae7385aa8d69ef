"""The ASGI application: routers, error handlers, static files and the access log."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyless import __version__
from keyless.web import devmailbox, health, hosted, oauth, oidc, rest
from keyless.web.errors import install_error_handlers
from keyless.web.fastpath import FastRoutes

if TYPE_CHECKING:
    from keyless.container import Container

access_log = logging.getLogger("keyless.access")


class AccessLog:
    """One line per request: method, path (never the query string: it may hold tokens), status, time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )


# FastAPI's dev-only API explorer loads its own scripts and styles; every other page gets a strict CSP.
DEV_DOCS = "/docs"


class SecurityHeaders:
    """Headers every response carries, HTML or not: no framing, no sniffing; HSTS under https."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.extra: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            self.extra.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.extra if h[0] not in present)
                if b"content-security-policy" not in present and not scope["path"].startswith(DEV_DOCS):
                    headers.append((b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def create_app(container: Container, *, manage_lifecycle: bool = True) -> ASGIApp:
    """The whole HTTP application: the hot endpoints straight from a table, everything else through
    FastAPI, and the headers and access log around both."""
    settings = container.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await container.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await container.stop()

    app = FastAPI(
        title="keyless",
        version=__version__,
        description="Passwordless sign-in with email one-time codes and magic links.",
        lifespan=lifespan,
        docs_url=DEV_DOCS if settings.is_dev else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.is_dev else None,
    )
    app.state.branding = {
        "app_name": settings.app_name,
        "app_logo_url": settings.app_logo_url,
        "primary_color": settings.primary_color,
        "support_email": settings.support_email,
    }
    install_error_handlers(app)
    api_handlers = rest.passwordless_handlers(container.flows, container.api_auth)
    app.include_router(rest.build_router(api_handlers))
    token = oauth.token_handler(
        grants=container.grants,
        clients=container.cached_clients,
        limiter=container.limiter,
        rules=container.rules,
        ips=container.ips,
        clock=container.clock,
    )
    app.include_router(oauth.build_router(token, keyring=container.keyring, clock=container.clock))
    app.include_router(
        hosted.build_router(
            signin=container.signin,
            clients=container.cached_clients,
            cookies=container.cookies,
            ips=container.ips,
            clock=container.clock,
            issuer=settings.public_url,
            resend_cooldown=settings.resend_cooldown_seconds,
        )
    )
    app.include_router(
        oidc.build_router(
            issuer=settings.public_url,
            grant_types=container.grants.supported,
            tokens=container.tokens,
            grants=container.oauth_grants,
            users=container.users,
            clients=container.cached_clients,
            keyring=container.keyring,
            signin=container.signin,
            cookies=container.cookies,
            clock=container.clock,
        )
    )
    app.include_router(health.build_router(container.readiness_probes()))
    branding_css = f":root {{ --primary: {settings.primary_color}; }}\n".encode()

    @app.get("/branding.css", include_in_schema=False)
    async def branding() -> Response:
        return Response(branding_css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})

    fast_routes = {("POST", path): handler for path, handler in api_handlers.items()}
    fast_routes[("POST", oauth.TOKEN_PATH)] = token
    if settings.is_dev:
        mailbox_messages = devmailbox.messages_handler(container.dev_mailbox)
        app.include_router(devmailbox.build_router(container.dev_mailbox, mailbox_messages))
        fast_routes[("GET", devmailbox.MESSAGES_PATH)] = mailbox_messages
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    # Outside FastAPI, so the hot endpoints skip its middleware stack as well as its routing.
    asgi: ASGIApp = FastRoutes(app, routes=fast_routes)
    asgi = SecurityHeaders(asgi, hsts=settings.public_url.startswith("https://"))
    if settings.access_log:
        asgi = AccessLog(asgi)
    return asgi
