"""``POST /oauth/token`` and the JWKS (``/keys``, ``/.well-known/jwks.json``).

Both ignore any Authorization header that is not HTTP Basic client authentication: the Scalekit
Python SDK sends its (possibly stale) bearer token on these calls.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_plus

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from keyless.clock import Clock
from keyless.core.policies import RateRules
from keyless.core.ports import ClientLookup, RateLimiter
from keyless.oidc.clients import authenticate_client
from keyless.oidc.errors import OAuthError, invalid_request
from keyless.oidc.grants.base import TokenRequest
from keyless.oidc.grants.registry import GrantRegistry
from keyless.oidc.keys import Keyring
from keyless.web.clientip import ClientIpResolver
from keyless.web.errors import NO_STORE

MAX_FORM_BYTES = 16 * 1024
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path
PUBLIC_CLIENT_GRANTS = ("authorization_code", "refresh_token")


async def read_form(request: Request, *, strict_type: bool = True) -> dict[str, str]:
    """An urlencoded body as a dict; repeated parameters are refused (RFC 6749 §3.2)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        if not strict_type:
            return {}
        raise invalid_request("The request must be application/x-www-form-urlencoded.")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise invalid_request("The request is too large.")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise invalid_request("The request is too large.")
    form: dict[str, str] = {}
    for pair in raw.decode("utf-8", "replace").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        key = unquote_plus(name)
        if key in form:  # RFC 6749 §3.2: parameters must not be repeated
            raise invalid_request(f"The parameter {key!r} is repeated.")
        form[key] = unquote_plus(value)
    return form


def basic_credentials(request: Request) -> tuple[str, str] | None:
    values = request.headers.getlist("authorization")
    for value in values:
        scheme, _, encoded = value.strip().partition(" ")
        if scheme.lower() != "basic":
            continue
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401)
        return unquote_plus(client_id), unquote_plus(secret)
    return None


def token_handler(
    *,
    grants: GrantRegistry,
    clients: ClientLookup,
    limiter: RateLimiter,
    rules: RateRules,
    ips: ClientIpResolver,
    clock: Clock,
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /oauth/token``. Hot (every API client, every code exchange), so the fast routes serve it;
    ``build_router`` declares it to FastAPI for the docs."""

    async def token(request: Request) -> Response:
        if "client_secret" in request.query_params or "client_id" in request.query_params:
            raise invalid_request("Client credentials must not be sent in the query string.")
        form = await read_form(request)
        ip = ips.resolve(request)
        decision = await limiter.acquire([rules.hit("token:ip", ip)], clock.now())
        if not decision.allowed:
            raise OAuthError(
                "temporarily_unavailable",
                "Too many token requests. Try again later.",
                status=429,
                headers={"Retry-After": str(max(1, decision.retry_after))},
            )
        basic = basic_credentials(request)
        client_id, secret = basic if basic is not None else (form.get("client_id", ""), form.get("client_secret"))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise invalid_request("grant_type is required.")
        grant = grants.get(grant_type)
        client = await authenticate_client(clients, client_id, secret, used_basic=basic is not None)
        if client.is_public and grant_type not in PUBLIC_CLIENT_GRANTS:
            raise OAuthError("unauthorized_client", "This application may not use this grant type.")
        body = await grant.exchange(TokenRequest(client=client, form=form, ip=ip))
        return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)

    return token


def build_router(token: Callable[[Request], Awaitable[Response]], *, keyring: Keyring, clock: Clock) -> APIRouter:
    router = APIRouter(tags=["OAuth"])

    async def jwks(_: Request) -> Response:
        return Response(
            orjson.dumps(keyring.jwks(clock.now())),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    router.add_api_route(TOKEN_PATH, token, methods=["POST"], summary="OAuth 2.0 token endpoint")
    router.add_api_route("/keys", jwks, methods=["GET"], summary="JSON Web Key Set")
    router.add_api_route("/.well-known/jwks.json", jwks, methods=["GET"], summary="JSON Web Key Set")
    return router
