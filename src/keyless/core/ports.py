"""The small contracts the core depends on. Adapters implement them; the core never sees how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from keyless.core.models import (
    AuthorizationCode,
    AuthRequest,
    Client,
    DevMailboxMessage,
    EmailContent,
    Grant,
    Login,
    OutboxMessage,
    RefreshToken,
    RenderedEmail,
    Session,
    SigningKey,
    User,
)


class AuthRequestStore(Protocol):
    async def create(self, request: AuthRequest, message: OutboxMessage) -> None:
        """Store a new request and its first email in one transaction (the outbox)."""

    async def get(self, request_id: str) -> AuthRequest | None: ...

    async def find_by_link_hash(self, link_hashes: Sequence[bytes]) -> AuthRequest | None: ...

    async def register_attempt(self, request_id: str, max_attempts: int) -> AuthRequest | None:
        """Atomically add one attempt unless ``max_attempts`` are spent; None when refused."""

    async def consume(self, request_id: str, credential_version: int, now: float) -> AuthRequest | None:
        """Atomically mark the request used if it is still open at that credential version, and close
        the address's other open requests. None when another caller won."""

    async def reissue(
        self,
        request_id: str,
        *,
        code_hash: bytes | None,
        link_hash: bytes | None,
        sealed_credentials: bytes,
        expires_at: float,
        message: OutboxMessage,
    ) -> AuthRequest | None:
        """Replace the credentials of an open request (old ones die), supersede its undelivered
        mail and queue ``message``, in one transaction. None if the request is no longer open."""


class OutboxStore(Protocol):
    async def enqueue(self, message: OutboxMessage) -> None: ...

    async def get(self, message_id: str) -> OutboxMessage | None: ...

    async def claim_due(self, now: float, lease_seconds: float, limit: int) -> list[OutboxMessage]:
        """Lease up to ``limit`` messages that are due (pending, or sending with a lapsed lease)."""

    async def mark_sent(self, message_id: str, now: float) -> None: ...

    async def mark_retry(self, message_id: str, next_attempt_at: float, error: str) -> None: ...

    async def mark_final(self, message_id: str, status: str, now: float, error: str | None) -> None: ...


class ClientLookup(Protocol):
    async def get(self, client_id: str) -> Client | None: ...


class ClientStore(Protocol):
    async def get(self, client_id: str) -> Client | None: ...

    async def create(self, client: Client) -> None: ...

    async def list(self) -> list[Client]: ...

    async def count(self) -> int: ...


class SigningKeyStore(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def reseal(self, kid: str, sealed_private_key: bytes) -> None: ...

    async def retire(self, kid: str, retire_at: float) -> None:
        """Set when the key stops being published and trusted (kept if already earlier)."""

    async def list(self) -> list[SigningKey]: ...


class DevMailboxStore(Protocol):
    async def add(self, message: DevMailboxMessage, *, delivers: str | None = None, now: float = 0.0) -> None:
        """Store the message; with ``delivers`` (an outbox message id), mark that one sent at ``now``
        in the same transaction."""

    async def list(self, recipient: str | None, limit: int) -> list[DevMailboxMessage]: ...


# --- rate limiting -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitRule:
    name: str
    limit: int
    window: float  # seconds


@dataclass(frozen=True, slots=True)
class LimitHit:
    rule: LimitRule
    key: str

    @property
    def bucket(self) -> str:
        return f"{self.rule.name}:{self.key}"


@dataclass(frozen=True, slots=True)
class LimitDecision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the denying rule admits one more
    rule: str | None = None  # the rule that denied


class RateLimiter(Protocol):
    async def acquire(self, hits: Sequence[LimitHit], now: float) -> LimitDecision:
        """All or nothing: record one event in every bucket, or in none if any is full."""

    async def release(self, hits: Sequence[LimitHit], now: float) -> None:
        """Take back the event an ``acquire`` at this same ``now`` recorded in each bucket (a refund after
        a success or a failed write); a bucket without one is left alone."""


# --- mail ----------------------------------------------------------------------------------------


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, email: RenderedEmail) -> None:
        """Deliver or raise DeliveryError."""


class EmailRenderer(Protocol):
    def render(self, content: EmailContent) -> RenderedEmail: ...


class MailDispatcher(Protocol):
    def dispatch(self, message: OutboxMessage, content: EmailContent) -> None:
        """Hand a freshly stored message to a worker now. Fire and forget: the outbox row is the
        durable copy, so a lost hand-off only delays delivery until the next poll."""


# --- OpenID Connect ------------------------------------------------------------------------------


class UserStore(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email_key(self, email_key: str) -> User | None: ...

    async def record_login(self, candidate: User, now: float) -> User:
        """The user with ``candidate.email_key``, created from ``candidate`` on first sign-in;
        ``last_login_at`` set to ``now``."""


class SessionStore(Protocol):
    async def create(self, session: Session) -> None: ...

    async def get_by_secret_hash(self, secret_hash: str) -> Session | None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def end(self, session_id: str, now: float) -> None:
        """End the session and revoke every grant made in it."""


class LoginStore(Protocol):
    async def create(self, login: Login) -> None: ...

    async def get(self, login_id: str) -> Login | None: ...

    async def get_by_auth_request(self, auth_request_id: str) -> Login | None: ...

    async def attach(self, login_id: str, auth_request_id: str, email: str, now: float) -> None: ...

    async def complete(self, login_id: str, now: float) -> bool:
        """Mark done; False if it already was (a second tab, a replayed POST)."""


@dataclass(frozen=True, slots=True)
class CodeContext:
    """An authorization code with what its exchange needs, read in one query."""

    code: AuthorizationCode
    grant: Grant
    user: User
    session: Session


class GrantStore(Protocol):
    async def create(self, grant: Grant, code: AuthorizationCode) -> None: ...

    async def code_context(self, code_hash: str) -> CodeContext | None: ...

    async def redeem_code(self, code_hash: str, now: float, refresh: RefreshToken) -> AuthorizationCode | None:
        """Atomically mark the code used and store the first refresh token of its grant; None (and
        nothing stored) if the code is unknown, used or expired, or its grant is revoked."""

    async def get(self, grant_id: str) -> Grant | None: ...

    async def get_code(self, code_hash: str) -> AuthorizationCode | None: ...

    async def revoke(self, grant_id: str, now: float) -> None: ...

    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def rotate_refresh_token(self, token_hash: str, now: float, successor: RefreshToken) -> RefreshToken | None:
        """Atomically retire ``token_hash`` and store ``successor`` (same grant). None when the
        token is unknown, expired, already used or its grant is revoked."""

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
