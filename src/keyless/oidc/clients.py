"""Client registration rules and client authentication for the token endpoint."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from keyless.clock import Clock
from keyless.core.credentials import (
    client_secret_matches,
    generate_prefixed_id,
    generate_secret,
    hash_client_secret,
)
from keyless.core.models import Client
from keyless.core.ports import ClientLookup, ClientStore
from keyless.oidc.errors import invalid_client


def validate_redirect_uri(uri: str, *, allow_http: bool) -> str | None:
    """None when acceptable, else why not. https only, loopback http for development and native apps."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if parts.username or parts.password:
        return "must not contain credentials"
    if parts.scheme == "http" and not (allow_http or _is_loopback(parts.hostname)):
        return "must use https (http is allowed for loopback hosts only)"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClientRegistry:
    def __init__(self, store: ClientStore, clock: Clock, *, allow_http_uris: bool) -> None:
        self._store = store
        self._clock = clock
        self._allow_http = allow_http_uris

    async def register(
        self,
        name: str,
        *,
        redirect_uris: list[str],
        magiclink_uris: list[str],
        post_logout_redirect_uris: list[str] | None = None,
        public: bool = False,
    ) -> tuple[Client, str]:
        """Create a client; returns it with its secret, which is shown once and stored only hashed.
        A public client gets no usable secret (its returned secret is empty)."""
        for uri in [*redirect_uris, *magiclink_uris, *(post_logout_redirect_uris or [])]:
            problem = validate_redirect_uri(uri, allow_http=self._allow_http)
            if problem:
                raise ValueError(f"{uri!r} {problem}")
        secret = generate_secret()
        client = Client(
            id=generate_prefixed_id("skc"),
            name=name,
            secret_hash=hash_client_secret(secret),
            redirect_uris=tuple(redirect_uris),
            magiclink_uris=tuple(magiclink_uris),
            post_logout_redirect_uris=tuple(post_logout_redirect_uris or ()),
            created_at=self._clock.now(),
            is_public=public,
        )
        await self._store.create(client)
        return client, "" if public else secret


async def authenticate_client(store: ClientLookup, client_id: str, secret: str | None, *, used_basic: bool) -> Client:
    """A confidential client proves its secret; a public client (PKCE-bound) sends none."""
    client = await store.get(client_id) if client_id and len(client_id) <= 64 else None
    if client is None:
        raise invalid_client(used_basic)
    if secret is None or secret == "":
        if not client.is_public:
            raise invalid_client(used_basic)
        return client
    if client.is_public or not client_secret_matches(secret, client.secret_hash):
        raise invalid_client(used_basic)
    return client
