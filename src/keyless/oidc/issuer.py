"""Issuing what a successful sign-in earns: an authorization code, then ID, access and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from keyless.clock import Clock
from keyless.core.credentials import generate_prefixed_id
from keyless.core.models import AuthorizationCode, Grant, RefreshToken, Session, User
from keyless.core.ports import GrantStore
from keyless.oidc.keys import Keyring
from keyless.oidc.tokens import TokenService

CODE_TTL = 60.0


def token_hash(value: str) -> str:
    """Codes and refresh tokens are 256-bit random values, so a plain SHA-256 is a sound store."""
    return hashlib.sha256(value.encode()).hexdigest()


def half_hash(value: str) -> str:
    """``at_hash``/``c_hash``: base64url of the left half of SHA-256 (OIDC Core §3.1.3.6, RS256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class CodeRequest:
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    include_auth_time: bool


class OidcIssuer:
    def __init__(
        self,
        *,
        grants: GrantStore,
        tokens: TokenService,
        keyring: Keyring,
        clock: Clock,
        refresh_token_ttl: int,
        id_token_ttl: int,
    ) -> None:
        self._grants = grants
        self._tokens = tokens
        self._keyring = keyring
        self._clock = clock
        self._refresh_ttl = refresh_token_ttl
        self._id_ttl = id_token_ttl

    async def issue_code(self, request: CodeRequest, session: Session) -> str:
        now = self._clock.now()
        code = secrets.token_urlsafe(32)
        grant = Grant(
            id=generate_prefixed_id("grt"),
            client_id=request.client_id,
            user_id=session.user_id,
            session_id=session.id,
            scope=request.scope,
            created_at=now,
            expires_at=now + self._refresh_ttl,
        )
        record = AuthorizationCode(
            code_hash=token_hash(code),
            grant_id=grant.id,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time=session.auth_time,
            amr=session.amr,
            include_auth_time=request.include_auth_time,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        await self._grants.create(grant, record)
        return code

    def new_refresh_token(self, grant: Grant) -> tuple[str, RefreshToken]:
        now = self._clock.now()
        value = secrets.token_urlsafe(32)
        record = RefreshToken(
            token_hash=token_hash(value),
            grant_id=grant.id,
            client_id=grant.client_id,
            created_at=now,
            expires_at=min(grant.expires_at, now + self._refresh_ttl),
        )
        return value, record

    def token_response(
        self,
        *,
        grant: Grant,
        user: User,
        session: Session,
        refresh_token: str,
        nonce: str | None = None,
        code: str | None = None,
        include_auth_time: bool = False,
    ) -> dict[str, Any]:
        now = self._clock.now()
        scopes = tuple(grant.scope.split())
        access = self._tokens.issue_access_token(
            subject=user.id,
            client_id=grant.client_id,
            scopes=scopes,
            now=now,
            extra={"sid": session.id, "gid": grant.id},
        )
        issued_at = int(now)
        claims: dict[str, Any] = {
            "iss": self._tokens.issuer,
            "sub": user.id,
            "aud": [grant.client_id],
            "azp": grant.client_id,
            "client_id": grant.client_id,
            "exp": issued_at + self._id_ttl,
            "iat": issued_at,
            "email": user.email,
            "email_verified": user.email_verified,
            "sid": session.id,
            "amr": [session.amr],
            "at_hash": half_hash(access.access_token),
        }
        if code is not None:
            claims["c_hash"] = half_hash(code)
        if nonce is not None:
            claims["nonce"] = nonce
        if include_auth_time:
            claims["auth_time"] = int(session.auth_time)
        return {
            "access_token": access.access_token,
            "token_type": "Bearer",
            "expires_in": access.expires_in,
            "id_token": self._keyring.sign(claims, now, typ="JWT"),
            "refresh_token": refresh_token,
            "scope": grant.scope,
        }
