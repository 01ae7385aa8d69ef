"""Access tokens: RS256 JWTs (RFC 9068 ``at+jwt``) issued by keyless and checked on every API call."""

from __future__ import annotations

import base64
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from keyless.oidc.keys import ALGORITHM, Keyring

API_SCOPE = "passwordless"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: int
    claims: dict[str, Any]


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged, expired or not for this server."""


class UnknownKey(InvalidToken):
    """Signed with a ``kid`` this process has not loaded (yet: another process may have added it)."""

    def __init__(self, kid: str) -> None:
        super().__init__("unknown key")
        self.kid = kid


class TokenService:
    def __init__(self, keyring: Keyring, *, issuer: str, access_token_ttl: int, cache_size: int = 10_000) -> None:
        self._keyring = keyring
        self.issuer = issuer
        self.access_token_ttl = access_token_ttl
        self._cache: OrderedDict[str, AccessClaims] = OrderedDict()
        self._cache_size = cache_size

    def issue_access_token(
        self,
        *,
        subject: str,
        client_id: str,
        scopes: tuple[str, ...],
        now: float,
        extra: dict[str, Any] | None = None,
    ) -> IssuedToken:
        issued_at = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": [client_id],
            "exp": issued_at + self.access_token_ttl,
            "iat": issued_at,
            "nbf": issued_at,
            "jti": "tkn_" + secrets.token_urlsafe(16),
            "client_id": client_id,
            "scopes": list(scopes),
        }
        if extra:
            claims.update(extra)
        token = self._keyring.sign(claims, now, typ="at+jwt")
        return IssuedToken(token, self.access_token_ttl, scopes)

    async def verify(self, token: str, now: float) -> AccessClaims:
        """``verify_access_token``, and when the key is unknown here, reload keys once and retry: a
        token signed by a key another process just created is then accepted."""
        try:
            return self.verify_access_token(token, now)
        except UnknownKey as unknown:
            if not await self._keyring.reload_for(unknown.kid, now):
                raise
        return self.verify_access_token(token, now)

    def verify_access_token(self, token: str, now: float) -> AccessClaims:
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > now:
                return cached
            del self._cache[token]
            raise InvalidToken("expired")
        claims = self._verify(token, now)
        if len(self._cache) >= self._cache_size:
            self._cache.popitem(last=False)
        self._cache[token] = claims
        return claims

    def _verify(self, token: str, now: float) -> AccessClaims:
        header = _header(token)
        # Allow-list the algorithm and type; jku/x5u/jwk headers are never consulted.
        if header.get("alg") != ALGORITHM or header.get("typ") != "at+jwt":
            raise InvalidToken("wrong token type")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 1 <= len(kid) <= 100:
            raise InvalidToken("no key id")
        key = self._keyring.public_key(kid, now)
        if key is None:
            if not self._keyring.knows(kid):
                raise UnknownKey(kid)
            raise InvalidToken("retired key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError) as exc:
            raise InvalidToken("bad signature") from exc
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if claims.get("iss") != self.issuer or not isinstance(exp, int) or exp <= now or not isinstance(nbf, int):
            raise InvalidToken("expired or foreign")
        if nbf > now + 5:  # small skew allowance between keyless processes
            raise InvalidToken("not yet valid")
        client_id, scopes, sub = claims.get("client_id"), claims.get("scopes", []), claims.get("sub")
        if not isinstance(client_id, str) or not isinstance(sub, str) or not isinstance(scopes, list):
            raise InvalidToken("malformed claims")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if client_id not in audiences:
            raise InvalidToken("wrong audience")
        return AccessClaims(sub, client_id, tuple(str(s) for s in scopes), exp, claims)


def _header(token: str) -> dict[str, Any]:
    try:
        head = token.split(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(data, dict) or token.count(".") != 2:
        raise InvalidToken("malformed")
    return data
