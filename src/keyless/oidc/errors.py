"""RFC 6749 errors for the OAuth endpoints (token, revoke, userinfo); rendered as RFC error JSON."""

from __future__ import annotations


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def invalid_client(used_basic: bool) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="keyless"'} if used_basic else {}
    return OAuthError("invalid_client", "Client authentication failed.", status=401, headers=headers)


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)
