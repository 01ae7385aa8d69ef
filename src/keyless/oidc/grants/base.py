"""What a grant receives and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from keyless.clock import Clock
from keyless.core.models import Client
from keyless.core.ports import GrantStore, SessionStore, UserStore
from keyless.oidc.issuer import OidcIssuer


@dataclass(frozen=True, slots=True)
class TokenRequest:
    client: Client
    form: Mapping[str, str]
    ip: str


class Grant(Protocol):
    grant_type: str

    async def exchange(self, request: TokenRequest) -> dict[str, Any]:
        """The token response body, or raise OAuthError."""


class UserTokenGrant:
    """Shared wiring of the grants that end in tokens for a signed-in user."""

    def __init__(
        self,
        *,
        grants: GrantStore,
        users: UserStore,
        sessions: SessionStore,
        issuer: OidcIssuer,
        clock: Clock,
    ) -> None:
        self._grants = grants
        self._users = users
        self._sessions = sessions
        self._issuer = issuer
        self._clock = clock
