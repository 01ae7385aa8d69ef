"""Local JWT checks against keyless's JWKS: RS256 only, ``kid`` required, no ``jku``/``x5u``/``jwk`` headers."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, cast

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from keyless_sdk.errors import MissingScopeError, TokenValidationError
from keyless_sdk.models import AccessTokenClaims

ALGORITHM = "RS256"


@dataclass
class JwksCache:
    """Public keys by ``kid``. Refetched when stale or when a token names a ``kid`` it does not hold,
    so a key rotation at the server never needs an application restart; ``min_refetch`` stops a
    stream of tokens with made-up ``kid`` values from turning into a stream of JWKS fetches."""

    ttl: float = 300.0
    min_refetch: float = 5.0
    keys: dict[str, RSAKey] = field(default_factory=dict)
    fetched_at: float | None = None
    fetches: int = 0

    def needs_fetch(self, kid: str, now: float) -> bool:
        if self.fetched_at is None or now - self.fetched_at >= self.ttl:
            return True
        return kid not in self.keys and now - self.fetched_at >= self.min_refetch

    def load(self, document: Any, now: float) -> None:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise TokenValidationError("the JWKS answer is not a key set")
        keys: dict[str, RSAKey] = {}
        for jwk in document["keys"]:
            # Only public RSA signing keys with a kid; anything else in the set is skipped, not fatal.
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM or "d" in jwk:
                continue
            try:
                keys[jwk["kid"]] = RSAKey.import_key(cast(dict[str, Any], jwk))
            except (JoseError, ValueError, TypeError):
                continue
        self.keys = keys
        self.fetched_at = now
        self.fetches += 1


def unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenValidationError("not a compact JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise TokenValidationError("the JWT header is not readable") from exc
    if not isinstance(header, dict):
        raise TokenValidationError("the JWT header is not an object")
    if header.get("alg") != ALGORITHM:
        raise TokenValidationError(f"algorithm {header.get('alg')!r} is not accepted; keyless signs with RS256")
    if not isinstance(header.get("kid"), str):
        raise TokenValidationError("the JWT has no kid")
    return header


def verified_claims(token: str, key: RSAKey, *, now: float, leeway: float) -> dict[str, Any]:
    """Signature, then the time claims. ``exp`` is required; ``nbf`` and ``iat`` may not lie ahead."""
    try:
        claims = dict(jwt.decode(token, key, algorithms=[ALGORITHM]).claims)
    except (JoseError, ValueError) as exc:
        raise TokenValidationError("the JWT signature is not valid") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + leeway <= now:
        raise TokenValidationError("the token has expired")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None and (not isinstance(value, int | float) or value - leeway > now):
            raise TokenValidationError(f"the token's {name} lies in the future")
    if not isinstance(claims.get("sub"), str):
        raise TokenValidationError("the token has no subject")
    return claims


def check_issuer(claims: dict[str, Any], issuers: list[str]) -> None:
    if claims.get("iss") not in issuers:
        raise TokenValidationError("the token was issued by another server")


def audiences(claims: dict[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list):
        return tuple(a for a in aud if isinstance(a, str))
    return ()


def check_audience(claims: dict[str, Any], expected: list[str]) -> None:
    if not set(audiences(claims)) & set(expected):
        raise TokenValidationError("the token is meant for another audience")


def access_claims(header: dict[str, Any], claims: dict[str, Any], required_scopes: list[str]) -> AccessTokenClaims:
    # RFC 9068 §4: the type tells an access token from an ID token, which carries the same aud.
    if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise TokenValidationError("not an access token (typ must be at+jwt)")
    raw_scopes = claims.get("scopes", [])
    scopes = tuple(s for s in raw_scopes if isinstance(s, str) and s.strip()) if isinstance(raw_scopes, list) else ()
    missing = [s for s in required_scopes if s not in scopes]
    if missing:
        raise MissingScopeError(missing)
    client_id = claims.get("client_id")
    sid = claims.get("sid")
    return AccessTokenClaims(
        subject=str(claims["sub"]),
        client_id=client_id if isinstance(client_id, str) else None,
        scopes=scopes,
        expires_at=int(claims["exp"]),
        issuer=str(claims.get("iss", "")),
        audience=audiences(claims),
        session_id=sid if isinstance(sid, str) else None,
        claims=claims,
    )


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
