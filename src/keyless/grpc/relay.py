"""Relay one HTTP/2 connection of the public port to the gRPC server, byte for byte.

The public listener (``keyless.serving``) decides per connection: HTTP/1.1 stays in uvicorn, HTTP/2
(ALPN ``h2`` over TLS, or the h2c preface over cleartext) comes here. TLS ends at the public port; the
relay speaks cleartext HTTP/2 to grpcio on loopback. Back-pressure is passed both ways (a slow reader
on one side pauses reading on the other), and closing either side closes both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from keyless.grpc.server import Peers

log = logging.getLogger("keyless.grpc")


class _Pipe(asyncio.Protocol):
    """One direction's sink: writes to ``peer`` and pauses ``peer`` reading while its buffer is full."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()


class _Upstream(_Pipe):
    """The relay's connection to grpcio; everything it reads goes to the client."""

    def __init__(self, relay: GrpcRelay) -> None:
        super().__init__()
        self.relay = relay

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.relay.client.write(data)

    def eof_received(self) -> bool | None:
        return None  # close fully; connection_lost closes the client side

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.close()


class GrpcRelay(_Pipe):
    """The client side: takes over the transport of an accepted connection whose first bytes (or
    ALPN) said HTTP/2."""

    def __init__(self, client: asyncio.Transport, client_ip: str, target_port: int, peers: Peers) -> None:
        super().__init__()
        self.client = client
        self.client_ip = client_ip
        self.target_port = target_port
        self.peers = peers
        self.upstream: _Upstream | None = None
        self.pending = bytearray()
        self.relay_port: int | None = None
        self.closed = False

    def start(self, initial: bytes) -> None:
        """Take the transport over; ``initial`` is what was read before the protocol was known."""
        self.transport = self.client
        self.pending += initial
        self.client.set_protocol(self)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, upstream = await loop.create_connection(lambda: _Upstream(self), "127.0.0.1", self.target_port)
        except OSError:
            log.warning("gRPC server unreachable on 127.0.0.1:%d", self.target_port)
            self.close()
            return
        if self.closed:
            transport.close()
            return
        self.upstream = upstream
        self.relay_port = int(transport.get_extra_info("sockname")[1])
        self.peers.add(self.relay_port, self.client_ip)
        # Back-pressure: a full client buffer pauses reading from grpcio, and the reverse.
        upstream.peer = self.client
        self.peer = transport
        if self.pending:
            transport.write(bytes(self.pending))
            self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(data)
        else:
            self.pending += data

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.relay_port is not None:
            self.peers.discard(self.relay_port)
        if not self.client.is_closing():
            self.client.close()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()
