"""Validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636, RFC 9207).

Two kinds of failure: before the client and redirect URI are known to be good, nothing may be
redirected (an error page is shown); after that, errors go back to the client's redirect URI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from keyless.core.models import Client
from keyless.core.ports import ClientLookup

SUPPORTED_SCOPES = ("openid", "email", "profile", "offline_access")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_PARAM = 2048


class AuthorizeFatal(Exception):
    """Shown on an error page; never redirected (unknown client, unregistered redirect URI)."""


class AuthorizeRedirect(Exception):
    """Sent back to the client's redirect URI as ``error``/``error_description``/``state``/``iss``."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(description)
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None


async def validate_authorization_request(params: Mapping[str, str], clients: ClientLookup) -> AuthorizationRequest:
    client_id = params.get("client_id", "")
    client = await clients.get(client_id) if 0 < len(client_id) <= 64 else None
    if client is None:
        raise AuthorizeFatal("The application that sent you here is not registered.")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise AuthorizeFatal("The redirect URI is not registered for this application.")
    state = params.get("state")

    def fail(error: str, description: str) -> AuthorizeRedirect:
        return AuthorizeRedirect(redirect_uri, state, error, description)

    if state is not None and len(state) > MAX_PARAM:
        raise fail("invalid_request", "state is too long.")
    if "request" in params:
        raise fail("request_not_supported", "Request objects are not supported.")
    if "request_uri" in params:
        raise fail("request_uri_not_supported", "request_uri is not supported.")
    response_type = params.get("response_type")
    if not response_type:
        raise fail("invalid_request", "response_type is required.")
    if response_type != "code":
        raise fail("unsupported_response_type", "Only the authorization code flow (response_type=code) is supported.")
    requested = params.get("scope", "").split()
    if "openid" not in requested:
        raise fail("invalid_scope", "The openid scope is required.")
    scope = " ".join(s for s in SUPPORTED_SCOPES if s in requested)  # unknown scopes are ignored

    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None and method is not None:
        raise fail("invalid_request", "code_challenge_method was sent without code_challenge.")
    if challenge is not None:
        if method != "S256":
            raise fail("invalid_request", "Only the S256 code challenge method is supported.")
        if not _CHALLENGE.fullmatch(challenge):
            raise fail("invalid_request", "code_challenge is not a valid S256 challenge.")
    elif client.is_public:
        raise fail("invalid_request", "PKCE (code_challenge with S256) is required for this application.")

    prompt = frozenset(params.get("prompt", "").split())
    if "none" in prompt and len(prompt) > 1:
        raise fail("invalid_request", "prompt=none cannot be combined with other values.")
    max_age = None
    if "max_age" in params:
        raw = params["max_age"]
        if not raw.isdigit() or len(raw) > 9:
            raise fail("invalid_request", "max_age must be a non-negative integer.")
        max_age = int(raw)
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > MAX_PARAM:
        raise fail("invalid_request", "nonce is too long.")
    login_hint = params.get("login_hint")
    if login_hint is not None and len(login_hint) > 320:
        login_hint = None
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        prompt=prompt,
        max_age=max_age,
        login_hint=login_hint,
    )
