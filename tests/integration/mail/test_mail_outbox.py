"""OutboxWorker on a real SQLite database: delivery, back-off, expiry, supersession, crash recovery."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from keyless.clock import ManualClock
from keyless.core.credentials import (
    CredentialHasher,
    Sealer,
    generate_link_token,
    generate_otp,
    generate_prefixed_id,
    generate_request_id,
)
from keyless.core.flows.passwordless import email_content_for
from keyless.core.models import (
    AuthRequest,
    Credentials,
    EmailContent,
    OutboxMessage,
    OutboxStatus,
    PasswordlessType,
    RenderedEmail,
    TemplateType,
)
from keyless.core.ports import DeliveryError, MailDispatcher
from keyless.errors import ServiceUnavailable
from keyless.mail.devmailbox import DevMailboxMailer
from keyless.mail.outbox import OutboxWorker
from keyless.mail.render import TemplateRenderer
from keyless.mail.smtp import SmtpMailer
from keyless.storage.migrate import upgrade
from keyless.storage.sqlite import SqliteDatabase
from keyless.storage.stores import SqlAuthRequestStore, SqlDevMailboxStore, SqlOutboxStore
from keyless.storage.url import parse_database_url

LEASE = 30.0
MAGIC_URI = "https://app.example.com/passwordless/verify"


class RecordingMailer:
    """Records every send; fails according to ``script`` first ("transient", "permanent", "crash")."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.calls = 0
        self.sent: list[RenderedEmail] = []

    async def send(self, email: RenderedEmail) -> None:
        self.calls += 1
        if self.script:
            step = self.script.pop(0)
            if step == "transient":
                raise DeliveryError("451 4.7.1 try again later")
            if step == "permanent":
                raise DeliveryError("550 5.1.1 no such user", permanent=True)
            if step == "crash":
                raise RuntimeError("a bug in a mailer")
        self.sent.append(email)


@dataclass
class Env:
    clock: ManualClock
    db: SqliteDatabase
    requests: SqlAuthRequestStore
    outbox: SqlOutboxStore
    devmailbox: SqlDevMailboxStore
    sealer: Sealer
    hasher: CredentialHasher
    renderer: TemplateRenderer
    workers: list[OutboxWorker] = field(default_factory=list)

    def worker(self, mailer: Any, **kwargs: Any) -> OutboxWorker:
        options: dict[str, Any] = {"lease_seconds": LEASE, "poll_interval": 0.05, "retry_max_seconds": 60.0}
        options.update(kwargs)
        worker = OutboxWorker(
            outbox=self.outbox,
            requests=self.requests,
            sealer=self.sealer,
            renderer=self.renderer,
            mailer=mailer,
            clock=self.clock,
            **options,
        )
        self.workers.append(worker)
        return worker

    async def create(
        self,
        *,
        lifetime: int = 300,
        kind: PasswordlessType = PasswordlessType.OTP,
        email: str = "alice@example.com",
    ) -> tuple[AuthRequest, OutboxMessage, EmailContent]:
        """What ``send`` stores: a request and its first message, leased to this process."""
        now = self.clock.now()
        request_id = generate_request_id()
        credentials = Credentials(
            code=generate_otp() if kind.has_code else None,
            link_token=generate_link_token() if kind.has_link else None,
        )
        request = AuthRequest(
            id=request_id,
            client_id="skc_1",
            email=email,
            email_key=email,
            passwordless_type=kind,
            template=TemplateType.SIGNIN,
            state=None,
            magiclink_auth_uri=MAGIC_URI if kind.has_link else None,
            template_variables={},
            lifetime=lifetime,
            created_at=now,
            expires_at=now + lifetime,
            credential_version=1,
            code_hash=self.hasher.hash_code(request_id, credentials.code) if credentials.code else None,
            link_hash=self.hasher.hash_link(credentials.link_token) if credentials.link_token else None,
            sealed_credentials=self.sealer.seal_credentials(request_id, credentials),
        )
        message = OutboxMessage(
            id=generate_prefixed_id("msg"),
            auth_request_id=request_id,
            credential_version=1,
            recipient=email,
            status=OutboxStatus.SENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=now + LEASE,
            expires_at=request.expires_at,
            created_at=now,
        )
        await self.requests.create(request, message)
        return request, message, email_content_for(request, credentials)

    async def status(self, message_id: str) -> OutboxMessage:
        stored = await self.outbox.get(message_id)
        assert stored is not None
        return stored


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    path = str(tmp_path / "t.db")
    upgrade(parse_database_url("sqlite:///" + path))
    db = SqliteDatabase(path)
    clock = ManualClock()
    environment = Env(
        clock=clock,
        db=db,
        requests=SqlAuthRequestStore(db),
        outbox=SqlOutboxStore(db),
        devmailbox=SqlDevMailboxStore(db),
        sealer=Sealer([secrets.token_bytes(32)]),
        hasher=CredentialHasher([secrets.token_bytes(32)]),
        renderer=TemplateRenderer(app_name="Acme", clock=clock),
    )
    yield environment
    for worker in environment.workers:
        await worker.stop(grace_seconds=1)
    await db.close()


def test_is_a_mail_dispatcher(env: Env) -> None:
    port: MailDispatcher = env.worker(RecordingMailer())
    assert port is not None


async def test_dispatch_delivers_once(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    await worker.start()
    _, message, content = await env.create()
    worker.dispatch(message, content)
    await worker.join()
    assert [m.recipient for m in mailer.sent] == ["alice@example.com"]
    assert content.code is not None and content.code in mailer.sent[0].text
    stored = await env.status(message.id)
    assert stored.status is OutboxStatus.SENT
    assert stored.sent_at == env.clock.now()
    env.clock.advance(LEASE + 60)  # long after any lease: the poller finds nothing to resend
    assert await worker.poll_once() == 0
    assert len(mailer.sent) == 1


async def test_stop_drains_dispatched_messages(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer, concurrency=2)
    await worker.start()
    created = [await env.create(email=f"user{i}@example.com") for i in range(6)]
    for _, message, content in created:
        worker.dispatch(message, content)
    await worker.stop()
    assert sorted(m.recipient for m in mailer.sent) == sorted(f"user{i}@example.com" for i in range(6))
    for _, message, _ in created:
        assert (await env.status(message.id)).status is OutboxStatus.SENT


async def test_transient_failures_back_off_then_deliver_exactly_once(env: Env) -> None:
    mailer = RecordingMailer("transient", "transient")
    worker = env.worker(mailer)
    await worker.start()
    _, message, content = await env.create()
    worker.dispatch(message, content)
    await worker.join()
    await worker.stop()  # from here on only poll_once runs, driven by the test's clock

    first = await env.status(message.id)
    assert (first.status, first.attempts, first.next_attempt_at) == (
        OutboxStatus.PENDING,
        1,
        env.clock.now() + 1,
    )
    assert first.last_error is not None and "451" in first.last_error
    env.clock.advance(0.5)
    assert await worker.poll_once() == 0  # not due yet
    env.clock.advance(0.5)
    assert await worker.poll_once() == 1  # second attempt fails: the next one is 2 s later
    second = await env.status(message.id)
    assert (second.status, second.attempts, second.next_attempt_at) == (
        OutboxStatus.PENDING,
        2,
        env.clock.now() + 2,
    )
    env.clock.advance(1.9)
    assert await worker.poll_once() == 0
    env.clock.advance(0.1)
    assert await worker.poll_once() == 1
    assert mailer.calls == 3
    assert len(mailer.sent) == 1
    # Rebuilt from the sealed credentials: the same code the flow generated.
    assert content.code is not None and content.code in mailer.sent[0].text
    done = await env.status(message.id)
    assert (done.status, done.attempts) == (OutboxStatus.SENT, 3)
    env.clock.advance(120)
    assert await worker.poll_once() == 0
    assert len(mailer.sent) == 1


async def test_back_off_is_capped(env: Env) -> None:
    mailer = RecordingMailer(*["transient"] * 10)
    worker = env.worker(mailer, retry_max_seconds=5.0)
    _, message, _ = await env.create(lifetime=3600)
    env.clock.advance(LEASE + 1)  # as if the dispatching process died
    delays = []
    for _ in range(6):
        assert await worker.poll_once() == 1
        stored = await env.status(message.id)
        delays.append(stored.next_attempt_at - env.clock.now())
        env.clock.set(stored.next_attempt_at)
    assert delays == [1, 2, 4, 5, 5, 5]


async def test_failing_until_expiry_is_abandoned_without_a_retry_storm(env: Env) -> None:
    mailer = RecordingMailer(*["transient"] * 100)
    worker = env.worker(mailer)
    await worker.start()
    _, message, content = await env.create(lifetime=60)
    worker.dispatch(message, content)
    await worker.join()
    await worker.stop()
    for _ in range(70):
        env.clock.advance(1)
        await worker.poll_once()
    # Attempts at 0, 1, 3, 7, 15 and 31 s; the next would be at 63 s, after the credential expires.
    assert mailer.calls == 6
    stored = await env.status(message.id)
    assert stored.status is OutboxStatus.ABANDONED
    assert stored.last_error is not None and "expires" in stored.last_error


async def test_permanent_failure_is_abandoned_at_once(env: Env) -> None:
    mailer = RecordingMailer("permanent")
    worker = env.worker(mailer)
    await worker.start()
    _, message, content = await env.create()
    worker.dispatch(message, content)
    await worker.join()
    stored = await env.status(message.id)
    assert stored.status is OutboxStatus.ABANDONED
    assert stored.last_error is not None and "550" in stored.last_error
    env.clock.advance(LEASE + 60)
    assert await worker.poll_once() == 0
    assert mailer.calls == 1


async def test_credential_expired_before_polled_delivery(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    _, message, _ = await env.create(lifetime=60)
    env.clock.advance(61)  # the process died and nobody delivered in time
    assert await worker.poll_once() == 1
    assert mailer.calls == 0
    assert (await env.status(message.id)).status is OutboxStatus.ABANDONED


async def test_credential_expired_before_dispatched_delivery(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer, send_timeout=1.0)
    _, message, content = await env.create(lifetime=60)
    worker.dispatch(message, replace(content))
    env.clock.advance(60)  # waited in the queue until the credential expired
    await worker.start()
    await worker.join()
    assert mailer.calls == 0
    assert (await env.status(message.id)).status is OutboxStatus.ABANDONED


async def test_superseded_message_is_not_sent(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    request, _, _ = await env.create()
    now = env.clock.now()
    fresh = Credentials(code=generate_otp(), link_token=None)
    newer = OutboxMessage(
        id=generate_prefixed_id("msg"),
        auth_request_id=request.id,
        credential_version=2,
        recipient=request.email,
        status=OutboxStatus.SENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=now + LEASE,
        expires_at=now + 300,
        created_at=now,
    )
    stored = await env.requests.reissue(
        request.id,
        code_hash=env.hasher.hash_code(request.id, fresh.code or ""),
        link_hash=None,
        sealed_credentials=env.sealer.seal_credentials(request.id, fresh),
        expires_at=now + 300,
        message=newer,
    )
    assert stored is not None and stored.credential_version == 2
    # A copy of the old message that a worker claimed just before the resend replaced its code.
    stale = OutboxMessage(
        id=generate_prefixed_id("msg"),
        auth_request_id=request.id,
        credential_version=1,
        recipient=request.email,
        status=OutboxStatus.PENDING,
        attempts=1,
        next_attempt_at=now,
        lease_until=None,
        expires_at=request.expires_at,
        created_at=now,
    )
    await env.outbox.enqueue(stale)
    assert await worker.poll_once() == 1
    assert mailer.calls == 0
    assert (await env.status(stale.id)).status is OutboxStatus.SUPERSEDED


async def test_consumed_request_is_not_mailed(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    request, message, _ = await env.create()
    assert await env.requests.consume(request.id, 1, env.clock.now()) is not None
    env.clock.advance(LEASE + 1)
    assert await worker.poll_once() == 1
    assert mailer.calls == 0
    assert (await env.status(message.id)).status is OutboxStatus.ABANDONED


async def test_lapsed_lease_after_a_crash_is_delivered_exactly_once(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    _, message, content = await env.create(kind=PasswordlessType.LINK_OTP)
    # The process that stored it died before delivering: the row stays ``sending`` under its lease.
    assert await worker.poll_once() == 0
    env.clock.advance(LEASE)
    assert await worker.poll_once() == 0  # the lease lasts until lease_until inclusive
    env.clock.advance(0.5)
    assert await worker.poll_once() == 1
    assert await worker.poll_once() == 0
    env.clock.advance(LEASE + 60)
    assert await worker.poll_once() == 0
    assert len(mailer.sent) == 1
    assert content.code is not None and content.link is not None
    assert mailer.sent[0].text.count(content.code) == 1
    assert mailer.sent[0].text.count(content.link) == 1
    assert (await env.status(message.id)).status is OutboxStatus.SENT


class FlakyOutbox:
    """The real store, whose first ``claim_due`` fails as a database outage would."""

    def __init__(self, inner: SqlOutboxStore) -> None:
        self.inner = inner
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim_due(self, now: float, lease_seconds: float, limit: int) -> list[OutboxMessage]:
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailable(retry_after=1)
        return await self.inner.claim_due(now, lease_seconds, limit)


async def test_the_poll_loop_survives_a_database_error_and_recovers_lost_mail(env: Env) -> None:
    mailer = RecordingMailer()
    env.outbox = FlakyOutbox(env.outbox)  # type: ignore[assignment]
    worker = env.worker(mailer, poll_interval=0.01)
    _, message, _ = await env.create()
    env.clock.advance(LEASE + 1)  # the process that stored it died before delivering
    await worker.start()
    for _ in range(200):
        if (await env.status(message.id)).status is OutboxStatus.SENT:
            break
        await asyncio.sleep(0.01)
    assert (await env.status(message.id)).status is OutboxStatus.SENT
    assert len(mailer.sent) == 1


async def test_a_queued_message_the_poller_reclaims_is_still_sent_once(env: Env) -> None:
    mailer = RecordingMailer()
    worker = env.worker(mailer)
    _, message, content = await env.create()
    worker.dispatch(message, content)  # queued, but the worker is not running yet
    env.clock.advance(LEASE + 1)
    assert await worker.poll_once() == 0  # claimed (lease renewed) but already queued here
    await worker.start()
    await worker.join()
    assert len(mailer.sent) == 1
    env.clock.advance(5)
    assert await worker.poll_once() == 0
    assert len(mailer.sent) == 1


async def test_an_unexpected_error_does_not_stop_the_worker(env: Env) -> None:
    mailer = RecordingMailer("crash")
    worker = env.worker(mailer, concurrency=1)
    await worker.start()
    _, first, first_content = await env.create(email="first@example.com")
    _, second, second_content = await env.create(email="second@example.com")
    worker.dispatch(first, first_content)
    worker.dispatch(second, second_content)
    await worker.join()
    assert [m.recipient for m in mailer.sent] == ["second@example.com"]
    retry = await env.status(first.id)
    assert retry.status is OutboxStatus.PENDING  # kept for a later attempt
    assert retry.last_error == "internal error: RuntimeError"
    env.clock.advance(1)
    assert await worker.poll_once() == 1
    assert sorted(m.recipient for m in mailer.sent) == ["first@example.com", "second@example.com"]


async def test_logs_never_carry_the_code_or_the_link(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mailer = RecordingMailer("transient", "crash", "permanent")
    worker = env.worker(mailer)
    await worker.start()
    created = [await env.create(kind=PasswordlessType.LINK_OTP) for _ in range(4)]
    for _, message, content in created:
        worker.dispatch(message, content)
    await worker.join()
    secrets_in_mail = [c.code for _, _, c in created] + [c.link for _, _, c in created]
    token = [c.link.rsplit("=", 1)[1] for _, _, c in created if c.link]
    mail_logs = [r.getMessage() for r in caplog.records if r.name.startswith("keyless.mail")]
    assert any("outcome=sent" in line for line in mail_logs)
    assert any("outcome=retry" in line for line in mail_logs)
    assert any("outcome=abandoned" in line for line in mail_logs)
    for line in mail_logs:
        for secret in [*secrets_in_mail, *token]:
            assert secret is not None and secret not in line


async def test_dev_mailbox_keeps_and_prints_the_message(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="keyless.devmailbox")
    worker = env.worker(DevMailboxMailer(env.devmailbox, env.clock))
    await worker.start()
    request, message, content = await env.create()
    worker.dispatch(message, content)
    await worker.join()
    [kept] = await env.devmailbox.list("alice@example.com", 10)
    assert kept.id.startswith("dmsg_")
    assert kept.auth_request_id == request.id
    assert kept.subject == "Your Acme sign-in code"
    assert kept.created_at == env.clock.now()
    assert content.code is not None and content.code in kept.text and content.code in kept.html
    printed = [r.getMessage() for r in caplog.records if r.name == "keyless.devmailbox"]
    assert len(printed) == 1 and "alice@example.com" in printed[0] and content.code in printed[0]
    assert (await env.status(message.id)).status is OutboxStatus.SENT


# --- end to end through SMTP -----------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


async def test_end_to_end_through_smtp(env: Env, smtp_sink: tuple[Sink, int]) -> None:
    sink, port = smtp_sink
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=port,
        sender="noreply@acme.example",
        sender_name="Acme",
        security="none",
        timeout=5.0,
        local_hostname="keyless.test",
        clock=env.clock,
    )
    worker = env.worker(mailer)
    await worker.start()
    _, message, content = await env.create(kind=PasswordlessType.LINK_OTP)
    worker.dispatch(message, content)
    await worker.join()
    await asyncio.sleep(0)
    assert len(sink.received) == 1
    parsed = message_from_bytes(sink.received[0], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == "alice@example.com"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert content.code is not None and content.link is not None
    assert text.get_content().count(content.code) == 1
    assert text.get_content().count(content.link) == 1
    assert content.code in html.get_content()
    assert (await env.status(message.id)).status is OutboxStatus.SENT
