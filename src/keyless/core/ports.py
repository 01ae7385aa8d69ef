"""The small contracts the core depends on. Adapters implement them; the core never sees how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from keyless.core.models import (
    AuthRequest,
    Client,
    DevMailboxMessage,
    EmailContent,
    OutboxMessage,
    RenderedEmail,
    SigningKey,
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


class ClientStore(Protocol):
    async def get(self, client_id: str) -> Client | None: ...

    async def create(self, client: Client) -> None: ...

    async def list(self) -> list[Client]: ...

    async def count(self) -> int: ...


class SigningKeyStore(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def list(self) -> list[SigningKey]: ...


class DevMailboxStore(Protocol):
    async def add(self, message: DevMailboxMessage) -> None: ...

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
        """Take back the newest event of each bucket (a refund after a success or a failed write)."""


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
