"""Typed requests options and responses.

Two small compatibility affordances keep a migration from Scalekit's Python SDK a rename:

- Scalekit's passwordless methods return a ``(response, grpc.Call)`` tuple, so its documented code reads
  ``resp[0].auth_request_id``. The passwordless responses here accept ``[0]`` and return themselves.
- Scalekit's ``authenticate_with_code`` and ``refresh_access_token`` return dicts (``result["user"]["email"]``).
  The results here are dataclasses that also answer ``result["access_token"]``, and ``User`` answers
  Scalekit's user keys (``user["emailVerified"]``) as well as its own attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Literal, TypeVar

_T = TypeVar("_T")


class PasswordlessType(str, Enum):  # noqa: UP042 - StrEnum is Python 3.11+; the SDK supports 3.10
    OTP = "OTP"
    LINK = "LINK"
    LINK_OTP = "LINK_OTP"


class TemplateType(str, Enum):  # noqa: UP042 - as above
    UNSPECIFIED = "UNSPECIFIED"
    SIGNIN = "SIGNIN"
    SIGNUP = "SIGNUP"


class _IndexZeroIsSelf:
    """``resp[0]`` is ``resp``: code written for Scalekit's ``(response, call)`` tuples keeps working."""

    __slots__ = ()

    def __getitem__(self: _T, index: Literal[0]) -> _T:
        if index != 0:
            raise IndexError("keyless responses are not tuples; only [0] (the response itself) exists")
        return self


class _KeyAccess:
    """``result["field"]`` reads the attribute, for code written against Scalekit's dict results."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if key in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


@dataclass(frozen=True, slots=True)
class SendPasswordlessResponse(_IndexZeroIsSelf):
    """The answer to send and resend."""

    auth_request_id: str
    expires_at: int  # Unix seconds
    expires_in: int  # seconds from now
    passwordless_type: PasswordlessType


@dataclass(frozen=True, slots=True)
class VerifyPasswordlessResponse(_IndexZeroIsSelf):
    """The answer to a successful verify."""

    email: str
    passwordless_type: PasswordlessType
    state: str | None = None
    template: TemplateType | None = None


# Scalekit's user keys (camelCase, from its ID-token claim map) and the attribute each one reads.
_SCALEKIT_USER_KEYS = {
    "id": "id",
    "email": "email",
    "emailVerified": "email_verified",
    "name": "name",
    "username": "username",
    "givenName": "given_name",
    "familyName": "family_name",
}


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in person, from the ID token. ``id`` is keyless's stable user id (``usr_…``)."""

    id: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    username: str | None = None
    given_name: str | None = None
    family_name: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> User:
        return cls(
            id=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=bool(claims.get("email_verified", False)),
            name=claims.get("name"),
            username=claims.get("preferred_username"),
            given_name=claims.get("given_name"),
            family_name=claims.get("family_name"),
        )

    def __getitem__(self, key: str) -> Any:
        name = _SCALEKIT_USER_KEYS.get(key, key)
        if name in {f.name for f in fields(self)}:
            return getattr(self, name)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


@dataclass(frozen=True, slots=True)
class AuthenticationResponse(_KeyAccess):
    """What ``authenticate_with_code`` returns: the user and the tokens of the sign-in."""

    user: User
    id_token: str
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    connection_id: str | None = None  # Scalekit's name for amr[0]: "otp" or "link" at keyless
    organization_id: str | None = None  # keyless has no organisations; always None


@dataclass(frozen=True, slots=True)
class RefreshTokenResponse(_KeyAccess):
    """What ``refresh_access_token`` returns. keyless rotates refresh tokens: keep the new one."""

    access_token: str
    refresh_token: str
    expires_in: int | None = None
    id_token: str | None = None


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    """A validated access token."""

    subject: str
    client_id: str | None
    scopes: tuple[str, ...]
    expires_at: int
    issuer: str
    audience: tuple[str, ...]
    session_id: str | None
    claims: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.claims[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.claims.get(key, default)


@dataclass(frozen=True, slots=True)
class PkcePair:
    """A PKCE verifier (keep it server-side, in the session) and its S256 challenge (send it)."""

    code_verifier: str
    code_challenge: str
    code_challenge_method: str = "S256"


# --- options (mutable, like Scalekit's: create, then set attributes; or pass keywords) --------------


@dataclass(slots=True)
class AuthorizationUrlOptions:
    scopes: list[str] | None = None  # default ["openid", "profile", "email"]
    state: str | None = None
    nonce: str | None = None
    login_hint: str | None = None
    prompt: str | None = None  # "login" or "none"
    max_age: int | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None  # "S256" when code_challenge is set
    # Accepted for Scalekit compatibility; keyless ignores them.
    domain_hint: str | None = None
    connection_id: str | None = None
    organization_id: str | None = None
    provider: str | None = None


@dataclass(slots=True)
class CodeAuthenticationOptions:
    code_verifier: str | None = None
    nonce: str | None = None  # when given, the ID token's nonce must equal it


@dataclass(slots=True)
class LogoutUrlOptions:
    id_token_hint: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None


@dataclass(slots=True)
class TokenValidationOptions:
    issuer: str | list[str] | None = None  # default: the client's env_url
    audience: list[str] | None = None  # default: [the client's client_id]
    required_scopes: list[str] | None = None
