"""grant_type → grant. New grants register here; the token endpoint never branches on kinds."""

from __future__ import annotations

from keyless.oidc.errors import OAuthError
from keyless.oidc.grants.base import Grant


class GrantRegistry:
    def __init__(self, grants: list[Grant]) -> None:
        self._grants = {g.grant_type: g for g in grants}

    def get(self, grant_type: str) -> Grant:
        grant = self._grants.get(grant_type)
        if grant is None:
            raise OAuthError("unsupported_grant_type", "This grant type is not supported.")
        return grant

    @property
    def supported(self) -> list[str]:
        return sorted(self._grants)
