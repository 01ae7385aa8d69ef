"""What a grant receives and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from keyless.core.models import Client


@dataclass(frozen=True, slots=True)
class TokenRequest:
    client: Client
    form: Mapping[str, str]
    ip: str


class Grant(Protocol):
    grant_type: str

    async def exchange(self, request: TokenRequest) -> dict[str, Any]:
        """The token response body, or raise OAuthError."""
