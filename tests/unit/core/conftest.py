"""The passwordless core wired to a real database (SQLite and PostgreSQL) and a manual clock.

The dispatcher only records what the core hands to mail delivery; delivery itself is tested in
tests/unit/mail and tests/integration.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field

import pytest

from keyless.clock import ManualClock
from keyless.core.credentials import CredentialHasher, Sealer
from keyless.core.events import NullEvents
from keyless.core.flows.passwordless import Caller, PasswordlessFlows, SendCommand
from keyless.core.models import Client, EmailContent, OutboxMessage, PasswordlessType
from keyless.core.policies import PasswordlessPolicy, RateRules
from keyless.ratelimit.memory import InMemoryRateLimiter
from keyless.storage.database import Database
from keyless.storage.stores import SqlAuthRequestStore, SqlOutboxStore

MAGIC = "https://app.example.com/passwordless/verify"


@dataclass
class RecordingDispatcher:
    sent: list[tuple[OutboxMessage, EmailContent]] = field(default_factory=list)

    def dispatch(self, message: OutboxMessage, content: EmailContent) -> None:
        self.sent.append((message, content))

    def last(self) -> EmailContent:
        return self.sent[-1][1]


@dataclass
class Harness:
    flows: PasswordlessFlows
    clock: ManualClock
    mail: RecordingDispatcher
    store: SqlAuthRequestStore
    outbox: SqlOutboxStore
    db: Database
    caller: Caller
    other_caller: Caller

    def with_policy(self, **changes: object) -> Harness:
        self.flows.policy = dataclasses.replace(self.flows.policy, **changes)  # type: ignore[arg-type]
        return self

    async def send(self, email: str = "alice@example.com", **kw: object) -> tuple[str, EmailContent]:
        result = await self.flows.send(self.caller, SendCommand(email=email, **kw))  # type: ignore[arg-type]
        return result.auth_request_id, self.mail.last()


def make_client(client_id: str) -> Client:
    return Client(id=client_id, name=client_id, secret_hash=b"x" * 32, magiclink_uris=(MAGIC,))


@pytest.fixture
def harness(db: Database, clock: ManualClock) -> Harness:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    mail = RecordingDispatcher()
    flows = PasswordlessFlows(
        requests=store,
        outbox=outbox,
        limiter=InMemoryRateLimiter(),
        rules=RateRules.build(),
        hasher=CredentialHasher([secrets.token_bytes(32)]),
        sealer=Sealer([secrets.token_bytes(32)]),
        dispatcher=mail,
        clock=clock,
        policy=PasswordlessPolicy(passwordless_type=PasswordlessType.OTP),
        events=NullEvents(),
    )
    return Harness(
        flows,
        clock,
        mail,
        store,
        outbox,
        db,
        Caller(make_client("skc_1"), "192.0.2.1"),
        Caller(make_client("skc_2"), "192.0.2.2"),
    )
