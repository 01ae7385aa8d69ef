"""Bearer authentication for the headless API: the first Authorization value, an at+jwt we issued,
the API scope, and a client that still exists."""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.requests import Request

from keyless.clock import Clock
from keyless.core.flows.passwordless import Caller
from keyless.core.models import Client
from keyless.core.ports import ClientStore
from keyless.errors import InsufficientScope, MissingCredentials, Unauthenticated
from keyless.oidc.tokens import API_SCOPE, InvalidToken, TokenService
from keyless.web.clientip import ClientIpResolver


class CachedClients:
    """Clients change rarely and are read on every call: keep them for a few seconds."""

    def __init__(self, store: ClientStore, ttl: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Client | None]] = {}

    async def get(self, client_id: str) -> Client | None:
        hit = self._cache.get(client_id)
        moment = time.monotonic()  # cache freshness only; not a business timestamp
        if hit is not None and hit[0] > moment:
            return hit[1]
        client = await self._store.get(client_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[client_id] = (moment + self._ttl, client)
        return client

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)


class ApiAuthenticator:
    def __init__(self, tokens: TokenService, clients: CachedClients, ips: ClientIpResolver, clock: Clock) -> None:
        self._tokens = tokens
        self._clients = clients
        self._ips = ips
        self._clock = clock

    async def caller(self, request: Request) -> Caller:
        return await self.authenticate(request.headers.getlist("authorization"), self._ips.resolve(request))

    async def authenticate(self, authorization: Sequence[str], ip: str) -> Caller:
        """The caller from the ``authorization`` values in the order received (REST headers or gRPC
        metadata): only the first counts, so a stale duplicate never rejects a call."""
        if not authorization:
            raise MissingCredentials()
        token = _bearer(authorization[0])
        if token is None:
            raise Unauthenticated()
        try:
            claims = await self._tokens.verify(token, self._clock.now())
        except InvalidToken:
            raise Unauthenticated() from None
        if API_SCOPE not in claims.scopes or claims.subject != claims.client_id:
            raise InsufficientScope()
        client = await self._clients.get(claims.client_id)
        if client is None:
            raise Unauthenticated()
        return Caller(client=client, ip=ip)


def _bearer(value: str) -> str | None:
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
