"""``authorization_code`` (RFC 6749 §4.1.3, RFC 7636 §4.6): single use, bound to client, redirect URI,
PKCE challenge and nonce; a replayed code revokes everything the first exchange issued."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from keyless.oidc.errors import OAuthError, invalid_request
from keyless.oidc.grants.base import TokenRequest, UserTokenGrant
from keyless.oidc.issuer import token_hash

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def invalid_grant(
    description: str = "The authorization code is invalid, expired or already used.",
) -> OAuthError:
    return OAuthError("invalid_grant", description)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class AuthorizationCodeGrant(UserTokenGrant):
    grant_type = "authorization_code"

    async def exchange(self, request: TokenRequest) -> dict[str, Any]:
        form, client = request.form, request.client
        code = form.get("code")
        if not code or len(code) > 200:
            raise invalid_request("code is required.")
        if "redirect_uri" not in form:
            raise invalid_request("redirect_uri is required.")
        now = self._clock.now()
        digest = token_hash(code)
        context = await self._grants.code_context(digest)
        stored = context.code if context else None
        if context is None or stored is None or stored.client_id != client.id:
            raise invalid_grant()
        if stored.consumed_at is not None:
            # Replay: the code was stolen or leaked; whatever it issued is revoked (RFC 6749 §4.1.2).
            await self._grants.revoke(stored.grant_id, now)
            raise invalid_grant()
        if stored.expires_at <= now or form["redirect_uri"] != stored.redirect_uri:
            raise invalid_grant()
        verifier = form.get("code_verifier")
        if stored.code_challenge is None:
            if verifier is not None:
                raise invalid_grant("code_verifier was sent but the authorization request had no challenge.")
        else:
            if verifier is None or not _VERIFIER.fullmatch(verifier):
                raise invalid_grant("A valid code_verifier is required.")
            if not hmac.compare_digest(s256(verifier), stored.code_challenge):
                raise invalid_grant("The code_verifier does not match the code challenge.")
        grant = context.grant
        if grant.revoked_at is not None:
            raise invalid_grant()
        # One transaction: the code is used and the grant's first refresh token stored, or neither.
        refresh_value, refresh = self._issuer.new_refresh_token(grant)
        consumed = await self._grants.redeem_code(digest, now, refresh)
        if consumed is None:
            await self._grants.revoke(stored.grant_id, now)
            raise invalid_grant()
        return self._issuer.token_response(
            grant=grant,
            user=context.user,
            session=context.session,
            refresh_token=refresh_value,
            nonce=consumed.nonce,
            code=code,
            include_auth_time=consumed.include_auth_time,
        )
