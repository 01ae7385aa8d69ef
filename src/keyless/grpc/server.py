"""The gRPC server: grpcio's asyncio server on a private loopback port, running the passwordless methods.

grpcio (gRPC's C core) speaks HTTP/2 for gRPC; keyless's public port relays each HTTP/2 connection to
it byte for byte (``keyless.grpc.relay``), so the SDKs see one origin. The server runs on the same event
loop as the REST app, so both call the same core flows on the same stores.

Keepalive: the Python SDK pings every 60 s, even without calls. grpcio's default policy answers that
with GOAWAY ``too_many_pings``; the options below accept pings every 20 s or slower (Scalekit allows
30 s) and keep an idle connection for 5 minutes, as Scalekit does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from keyless.errors import DeadlineExceeded, InternalError, KeylessError
from keyless.grpc.errors import render
from keyless.grpc.service import SERVICE, Handler
from keyless.web.auth import ApiAuthenticator
from keyless.web.clientip import ClientIpResolver

log = logging.getLogger("keyless.grpc")
access_log = logging.getLogger("keyless.access")

# The largest passwordless request (30 template variables at their bounds) is under 10 KiB.
MAX_MESSAGE_BYTES = 64 * 1024

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.max_connection_idle_ms", 300_000),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


class Peers:
    """Which client a relayed connection carries: grpcio sees the relay's loopback socket as the peer,
    so the relay records (its local address -> the real client's address) while the connection lives."""

    def __init__(self) -> None:
        self._by_relay: dict[str, str] = {}

    def add(self, relay_port: int, client_ip: str) -> None:
        self._by_relay[f"ipv4:127.0.0.1:{relay_port}"] = client_ip

    def discard(self, relay_port: int) -> None:
        self._by_relay.pop(f"ipv4:127.0.0.1:{relay_port}", None)

    def client_ip(self, grpc_peer: str) -> str:
        return self._by_relay.get(grpc_peer, "unknown")


class GrpcServer:
    def __init__(
        self,
        methods: dict[str, Handler],
        auth: ApiAuthenticator,
        ips: ClientIpResolver,
        *,
        access_log: bool = True,
    ) -> None:
        self._methods = methods
        self._auth = auth
        self._ips = ips
        self._access_log = access_log
        self.peers = Peers()
        self.port = 0
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(options=SERVER_OPTIONS)
        handlers = {path.rsplit("/", 1)[1]: self._handler(path, h) for path, h in self._methods.items()}
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
        # Loopback only: nothing but the relay in this process is meant to connect.
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server

    async def stop(self, grace: float = 5.0) -> None:
        """Finish calls in flight (up to ``grace`` seconds), GOAWAY every connection, stop."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def _handler(self, path: str, handler: Handler) -> grpc.RpcMethodHandler[bytes, bytes]:
        async def unary(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            started = time.perf_counter()
            try:
                reply = await self._call(handler, request, context)
            except KeylessError as error:
                rendered = render(error)
                self._log(path, rendered.code, started)
                context.set_trailing_metadata(rendered.trailing_metadata)
                await context.abort(grpc.StatusCode[error.grpc_status.name], rendered.message)
            self._log(path, 0, started)
            return reply

        return grpc.unary_unary_rpc_method_handler(unary)

    async def _call(self, handler: Handler, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        metadata = list(context.invocation_metadata() or ())
        # Every value in the order received: the Python SDK sends [current token, construction-time token].
        authorization = [str(v) for k, v in metadata if k == "authorization"]
        forwarded = ", ".join(str(v) for k, v in metadata if k == "x-forwarded-for")
        ip = self._ips.resolve_peer(self.peers.client_ip(context.peer()), forwarded)
        remaining = context.time_remaining()  # from grpc-timeout; None without a deadline
        try:
            async with asyncio.timeout(remaining):
                caller = await self._auth.authenticate(authorization, ip)
                return await handler(caller, request)
        except TimeoutError:
            raise DeadlineExceeded() from None
        except KeylessError:
            raise
        except Exception:
            log.exception("unhandled error in a gRPC call")
            raise InternalError() from None

    def _log(self, path: str, code: int, started: float) -> None:
        if self._access_log:
            access_log.info("gRPC %s %d %.1fms", path, code, (time.perf_counter() - started) * 1000)
