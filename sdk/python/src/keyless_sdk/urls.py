"""URLs built locally (no server call): the authorization URL, the logout URL, and PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from keyless_sdk.models import AuthorizationUrlOptions, LogoutUrlOptions, PkcePair

DEFAULT_SCOPES = ("openid", "profile", "email")


def generate_pkce() -> PkcePair:
    """A fresh PKCE pair (RFC 7636, S256): 32 random bytes as the verifier, its SHA-256 as the challenge."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return PkcePair(code_verifier=verifier, code_challenge=challenge)


def generate_state() -> str:
    """A random value for ``state`` or ``nonce``: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def authorization_url(env_url: str, client_id: str, redirect_uri: str, options: AuthorizationUrlOptions | None) -> str:
    """``ENV/oauth/authorize?…`` in Scalekit's parameter order; empty values are left out."""
    options = options or AuthorizationUrlOptions()
    method = options.code_challenge_method or ("S256" if options.code_challenge else None)
    params: list[tuple[str, str | None]] = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", " ".join(options.scopes or DEFAULT_SCOPES)),
        ("state", options.state),
        ("nonce", options.nonce),
        ("login_hint", options.login_hint),
        ("domain_hint", options.domain_hint),
        ("connection_id", options.connection_id),
        ("organization_id", options.organization_id),
        ("code_challenge", options.code_challenge),
        ("code_challenge_method", method),
        ("provider", options.provider),
        ("prompt", options.prompt),
        ("max_age", None if options.max_age is None else str(options.max_age)),
    ]
    return f"{env_url}/oauth/authorize?{urlencode([(k, v) for k, v in params if v])}"


def logout_url(env_url: str, options: LogoutUrlOptions | None) -> str:
    """``ENV/oidc/logout?…``; the browser must go there itself so keyless can end its own session."""
    options = options or LogoutUrlOptions()
    params = [
        ("id_token_hint", options.id_token_hint),
        ("post_logout_redirect_uri", options.post_logout_redirect_uri),
        ("state", options.state),
    ]
    return f"{env_url}/oidc/logout?{urlencode([(k, v) for k, v in params if v])}"
