"""``refresh_token`` (RFC 6749 §6): rotated on every use; presenting a used one revokes the family."""

from __future__ import annotations

from typing import Any

from keyless.oidc.errors import OAuthError, invalid_request
from keyless.oidc.grants.base import TokenRequest, UserTokenGrant
from keyless.oidc.issuer import token_hash


def _invalid() -> OAuthError:
    return OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.")


class RefreshTokenGrant(UserTokenGrant):
    grant_type = "refresh_token"

    async def exchange(self, request: TokenRequest) -> dict[str, Any]:
        value = request.form.get("refresh_token")
        if not value or len(value) > 200:
            raise invalid_request("refresh_token is required.")
        now = self._clock.now()
        digest = token_hash(value)
        current = await self._grants.get_refresh_token(digest)
        if current is None or current.client_id != request.client.id:
            raise _invalid()
        if current.used_at is not None:
            # Reuse of a rotated token: someone holds a copy. Revoke the whole family.
            await self._grants.revoke(current.grant_id, now)
            raise _invalid()
        grant = await self._grants.get(current.grant_id)
        if grant is None or grant.revoked_at is not None:
            raise _invalid()
        successor_value, successor = self._issuer.new_refresh_token(grant)
        if await self._grants.rotate_refresh_token(digest, now, successor) is None:
            await self._grants.revoke(current.grant_id, now)
            raise _invalid()
        user = await self._users.get(grant.user_id)
        session = await self._sessions.get(grant.session_id)
        if user is None or session is None:
            raise _invalid()
        return self._issuer.token_response(grant=grant, user=user, session=session, refresh_token=successor_value)
