"""Domain records. Plain frozen dataclasses; storage adapters translate rows to and from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PasswordlessType(StrEnum):
    OTP = "OTP"
    LINK = "LINK"
    LINK_OTP = "LINK_OTP"

    @property
    def has_code(self) -> bool:
        return self in (PasswordlessType.OTP, PasswordlessType.LINK_OTP)

    @property
    def has_link(self) -> bool:
        return self in (PasswordlessType.LINK, PasswordlessType.LINK_OTP)


class TemplateType(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    SIGNIN = "SIGNIN"
    SIGNUP = "SIGNUP"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # leased by a worker until ``lease_until``
    SENT = "sent"
    ABANDONED = "abandoned"  # its credential expired before it could be delivered
    SUPERSEDED = "superseded"  # a resend with new credentials replaced it


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    secret_hash: bytes
    redirect_uris: tuple[str, ...] = ()
    magiclink_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ("passwordless",)
    created_at: float = 0.0
    is_public: bool = False  # a browser or native app: no secret, PKCE required


@dataclass(frozen=True, slots=True)
class AuthRequest:
    id: str
    client_id: str
    email: str  # the address mail goes to, exactly as validated
    email_key: str  # the identity key used for limits and accounts (see core/emails.py)
    passwordless_type: PasswordlessType
    template: TemplateType | None
    state: str | None
    magiclink_auth_uri: str | None
    template_variables: dict[str, str]
    lifetime: int  # the requested ``expires_in``, reused when a resend issues fresh credentials
    created_at: float
    expires_at: float
    credential_version: int
    code_hash: bytes | None
    link_hash: bytes | None
    sealed_credentials: bytes
    attempts: int = 0
    consumed_at: float | None = None
    closed_at: float | None = None

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class Credentials:
    """Plaintext credentials: only ever in memory, on their way into an email."""

    code: str | None
    link_token: str | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    auth_request_id: str
    credential_version: int
    recipient: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: float
    lease_until: float | None
    expires_at: float
    created_at: float
    sent_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    algorithm: str
    public_jwk: dict[str, str]
    sealed_private_key: bytes
    created_at: float
    not_before: float  # published from created_at, signs from not_before
    retire_at: float | None = None


@dataclass(frozen=True, slots=True)
class DevMailboxMessage:
    id: str
    recipient: str
    subject: str
    text: str
    html: str
    created_at: float
    auth_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class EmailContent:
    """What a passwordless email says; rendered by the mail adapter's templates."""

    recipient: str
    template: TemplateType
    passwordless_type: PasswordlessType
    code: str | None
    link: str | None
    expires_at: float
    lifetime_seconds: int
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    recipient: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    email_key: str
    email_verified: bool
    created_at: float
    last_login_at: float | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A browser session at keyless. The cookie holds a secret; only its hash is stored."""

    id: str
    secret_hash: str
    user_id: str
    auth_time: float
    amr: str
    created_at: float
    expires_at: float
    ended_at: float | None = None

    def is_active(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Login:
    """One hosted sign-in in progress: the authorization request waiting for the user."""

    id: str
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    max_age: int | None
    login_hint: str | None
    browser_hash: str  # binds the sign-in to the browser that started it
    created_at: float
    expires_at: float
    auth_request_id: str | None = None
    email: str | None = None
    last_sent_at: float | None = None
    completed_at: float | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """What one authorization produced; revoking it kills its access and refresh tokens."""

    id: str
    client_id: str
    user_id: str
    session_id: str
    scope: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    auth_time: float
    amr: str
    include_auth_time: bool
    created_at: float
    expires_at: float
    consumed_at: float | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    grant_id: str
    client_id: str
    created_at: float
    expires_at: float
    used_at: float | None = None
