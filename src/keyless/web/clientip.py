"""The client IP used for limits: the socket peer, or X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIpResolver:
    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted: list[Network] = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def resolve(self, conn: HTTPConnection) -> str:
        return self.resolve_peer(
            conn.client.host if conn.client else "unknown", conn.headers.get("x-forwarded-for", "")
        )

    def resolve_peer(self, peer: str, forwarded: str) -> str:
        """The client IP from the socket peer and an X-Forwarded-For value (HTTP header or gRPC metadata)."""
        if not self._trusted or not self._is_trusted(peer):
            return peer
        # Walk from the right: the first hop that is not one of our proxies is the client.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)
