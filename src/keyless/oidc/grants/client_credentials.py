"""``client_credentials``: an application's bearer token for the headless API (RFC 6749 §4.4)."""

from __future__ import annotations

from typing import Any

from keyless.clock import Clock
from keyless.oidc.errors import OAuthError
from keyless.oidc.grants.base import TokenRequest
from keyless.oidc.tokens import TokenService


class ClientCredentialsGrant:
    grant_type = "client_credentials"

    def __init__(self, tokens: TokenService, clock: Clock) -> None:
        self._tokens = tokens
        self._clock = clock

    async def exchange(self, request: TokenRequest) -> dict[str, Any]:
        client = request.client
        asked = request.form.get("scope", "").split()
        if any(scope not in client.scopes for scope in asked):
            raise OAuthError("invalid_scope", "The requested scope is not assigned to this client.")
        scopes = tuple(asked) if asked else client.scopes
        issued = self._tokens.issue_access_token(
            subject=client.id, client_id=client.id, scopes=scopes, now=self._clock.now()
        )
        # No refresh token and no id_token for this grant (RFC 6749 §4.4.3).
        return {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(scopes),
        }
