"""How ``keyless serve`` listens: one port for REST/OIDC (HTTP/1.1) and gRPC (HTTP/2), TLS or cleartext.

One Scalekit environment URL carries both the REST/OAuth endpoints and the gRPC API, so one listener
must speak both. Each accepted connection is classified once: over TLS by the ALPN result, over
cleartext by the HTTP/2 prior-knowledge preface (h2c, what the Node SDK sends for an ``http://`` URL).

* HTTP/1.1 goes to uvicorn's httptools protocol, unchanged from before gRPC: the fast path for REST.
* HTTP/2 is relayed byte for byte to grpcio's server on loopback (``keyless.grpc``). grpcio, not an
  ASGI HTTP/2 server, because the ASGI HTTP/2 servers measured (uvicorn's zttp, hypercorn) reset
  connections under concurrent gRPC calls from the SDKs' own HTTP/2 stacks; the numbers and errors are
  in docs/benchmarks.md ("One port for REST and gRPC").

So HTTP/2 on this port is for gRPC. Over TLS, ``http/1.1`` is preferred when a client offers both
(browsers, curl, requests); gRPC clients offer only ``h2``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar, cast

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from keyless.container import Container
from keyless.grpc.relay import GrpcRelay
from keyless.grpc.server import GrpcServer
from keyless.grpc.service import PasswordlessService
from keyless.web.app import create_app

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class PublicPort(asyncio.Protocol):
    """First protocol of every accepted connection: picks HTTP/1.1 (uvicorn) or HTTP/2 (gRPC relay),
    then hands the transport over. uvicorn builds it like its own protocols (``Config(http=...)``)."""

    alpn_protocols: ClassVar[list[str]] = ["http/1.1", "h2"]
    grpc: ClassVar[GrpcServer]

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self._hand_over(http2=ssl_object.selected_alpn_protocol() == "h2")
            return
        # Until the first bytes arrive, uvicorn's shutdown and keep-alive timeout apply as to its own.
        self.server_state.connections.add(self)  # type: ignore[arg-type]
        self.idle = self.loop.call_later(self.config.timeout_keep_alive, self.transport.close)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < len(H2_PREFACE) and H2_PREFACE.startswith(self.buffer):
            return  # could still be the HTTP/2 preface
        self._forget()
        self._hand_over(http2=self.buffer.startswith(H2_PREFACE), initial=self.buffer)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def shutdown(self) -> None:
        assert self.transport is not None
        self.transport.close()

    def _forget(self) -> None:
        self.server_state.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None

    def _hand_over(self, *, http2: bool, initial: bytes = b"") -> None:
        assert self.transport is not None
        if http2:
            peer = self.transport.get_extra_info("peername")
            client_ip = str(peer[0]) if peer else "unknown"
            GrpcRelay(self.transport, client_ip, self.grpc.port, self.grpc.peers).start(initial)
            return
        http1 = HttpToolsProtocol(
            config=self.config, server_state=self.server_state, app_state=self.app_state, _loop=self.loop
        )
        self.transport.set_protocol(http1)
        http1.connection_made(self.transport)
        if initial:
            http1.data_received(initial)


def public_port(grpc: GrpcServer) -> type[PublicPort]:
    """The protocol class for uvicorn, bound to this process's gRPC server."""
    return type("PublicPort", (PublicPort,), {"grpc": grpc})


def with_grpc_lifecycle(app: ASGIApp, grpc: GrpcServer) -> ASGIApp:
    """Start the gRPC server after the app's start-up, stop it before the app's shutdown (which closes
    the database its calls use)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await grpc.stop()
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                await grpc.start()
            await send(message)

        await app(scope, receive_wrapper, send_wrapper)

    return wrapped


def build_grpc(container: Container) -> GrpcServer:
    return GrpcServer(
        PasswordlessService(container.flows).methods(),
        container.api_auth,
        container.ips,
        access_log=container.settings.access_log,
    )


def uvicorn_config(
    container: Container, *, host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None
) -> uvicorn.Config:
    grpc = build_grpc(container)
    return uvicorn.Config(
        with_grpc_lifecycle(create_app(container), grpc),
        host=host,
        port=port,
        loop="uvloop",
        http=public_port(grpc),
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        # A reverse proxy that keeps idle connections to keyless must close them first: uvicorn's own
        # default (5 s) closes them under a proxy about to reuse one, and the proxy answers 502.
        timeout_keep_alive=container.settings.keepalive_seconds,
        # The client IP is keyless's to resolve (trusted_proxies, keyless.web.clientip): uvicorn's own
        # proxy-header middleware would believe X-Forwarded-For from any loopback peer (or whatever
        # FORWARDED_ALLOW_IPS names), letting clients behind a layer-4 proxy pick their IP.
        proxy_headers=False,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
