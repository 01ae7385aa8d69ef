"""The outbox worker: delivers stored messages now, retries with capped back-off, never twice.

Two ways in. ``dispatch`` hands over a message the flow has just stored, together with its content,
so the common case needs no database read. A poll loop claims due rows (retries, and rows whose lease
lapsed because a process died) and rebuilds their content from the sealed credentials. A row is
leased while a worker holds it; this process starts a delivery only if the lease covers the whole
send timeout, so a row is never being sent by two workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from dataclasses import dataclass

from keyless.clock import Clock
from keyless.core.credentials import Sealer
from keyless.core.flows.passwordless import email_content_for
from keyless.core.models import EmailContent, OutboxMessage, OutboxStatus
from keyless.core.ports import AuthRequestStore, DeliveryError, EmailRenderer, Mailer, OutboxStore
from keyless.mail.devmailbox import DevMailboxMailer

log = logging.getLogger("keyless.mail.outbox")


@dataclass(frozen=True, slots=True)
class _Job:
    message: OutboxMessage
    content: EmailContent | None  # None: rebuild it from the stored request


class OutboxWorker:
    """The ``MailDispatcher`` port, plus ``start``/``stop`` and ``poll_once``."""

    def __init__(
        self,
        *,
        outbox: OutboxStore,
        requests: AuthRequestStore,
        sealer: Sealer,
        renderer: EmailRenderer,
        mailer: Mailer,
        clock: Clock,
        concurrency: int = 4,
        poll_interval: float = 1.0,
        lease_seconds: float = 30.0,  # keep equal to PasswordlessPolicy.outbox_lease_seconds
        batch_size: int = 20,
        retry_base_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
        send_timeout: float | None = None,
        drain_timeout: float = 10.0,
        queue_size: int = 1000,
    ) -> None:
        self._outbox = outbox
        self._requests = requests
        self._sealer = sealer
        self._renderer = renderer
        self._mailer = mailer
        # The dev mailbox can file a message under its auth request; other mailers have no use for it.
        self._devmailbox = mailer if isinstance(mailer, DevMailboxMailer) else None
        self._clock = clock
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._send_timeout = send_timeout if send_timeout is not None else lease_seconds / 2
        self._drain_timeout = drain_timeout
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._slots = asyncio.Semaphore(concurrency)
        self._leases: dict[str, float] = {}  # messages queued or in flight here -> end of our lease
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._consumers: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._poller is not None:
            return
        self._stopping.clear()
        self._consumers = [
            asyncio.create_task(self._consume(), name=f"keyless-outbox-{i}") for i in range(self._concurrency)
        ]
        self._poller = asyncio.create_task(self._poll_loop(), name="keyless-outbox-poll")

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop polling, let in-flight and queued deliveries finish for up to ``grace_seconds``.
        Whatever is left keeps its row and lease, so another worker takes it once the lease lapses."""
        poller = self._poller
        if poller is None:
            return
        self._stopping.set()
        try:
            grace = self._drain_timeout if grace_seconds is None else grace_seconds
            await asyncio.wait_for(self._drain(poller), grace)
        except TimeoutError:
            unfinished = len(self._leases)
            log.warning("outbox stopped with %d deliveries unfinished; they resume after their lease", unfinished)
        tasks = [poller, *self._consumers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None
        self._consumers = []

    async def join(self) -> None:
        """Wait until every dispatched message has been handled (for tests and shutdown)."""
        await self._queue.join()

    async def _drain(self, poller: asyncio.Task[None]) -> None:
        await asyncio.wait({poller})
        await self._queue.join()

    # --- the two ways in ---------------------------------------------------------------------------

    def dispatch(self, message: OutboxMessage, content: EmailContent) -> None:
        if self._stopping.is_set() or message.id in self._leases:
            return  # the row is durable: a poller delivers it after the lease lapses
        lease = message.lease_until if message.lease_until is not None else self._clock.now()
        try:
            self._queue.put_nowait(_Job(message, content))
        except asyncio.QueueFull:
            log.warning("outbox queue full; message=%s waits for the poller", message.id)
            return
        self._leases[message.id] = lease

    async def poll_once(self) -> int:
        """Claim due messages and deliver them; returns how many this call took on."""
        claimed = await self._outbox.claim_due(self._clock.now(), self._lease_seconds, self._batch_size)
        jobs: list[_Job] = []
        for message in claimed:
            lease = message.lease_until if message.lease_until is not None else self._clock.now()
            known = message.id in self._leases
            self._leases[message.id] = lease  # our lease on it was just renewed
            if not known:
                jobs.append(_Job(message, None))
        await asyncio.gather(*(self._run(job) for job in jobs))
        return len(jobs)

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll_once()
            except Exception as exc:  # a database hiccup must not end polling
                log.warning("outbox poll failed: %s", _where(exc))
            with contextlib.suppress(TimeoutError):  # the pause between polls, cut short by stop()
                await asyncio.wait_for(self._stopping.wait(), self._poll_interval)

    async def _consume(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._run(job)
            finally:
                self._queue.task_done()

    # --- one delivery ------------------------------------------------------------------------------

    async def _run(self, job: _Job) -> None:
        message = job.message
        try:
            async with self._slots:
                now = self._clock.now()
                if now >= message.expires_at:
                    await self._final(message, OutboxStatus.ABANDONED, "credential expired before delivery")
                    return
                # Start only if our lease outlives the longest send; else another worker may take it.
                if now + self._send_timeout > self._leases.get(message.id, 0.0):
                    log.info(
                        "outbox message=%s auth_request=%s outcome=deferred (lease too short)",
                        message.id,
                        message.auth_request_id,
                    )
                    return
                await self._deliver(job)
        except Exception as exc:  # never let one message end the worker
            log.error(
                "outbox message=%s auth_request=%s outcome=error %s",
                message.id,
                message.auth_request_id,
                _where(exc),
            )
            try:
                await self._after_failure(message, DeliveryError(f"internal error: {type(exc).__name__}"))
            except Exception as again:  # e.g. the database is down: the lease lapses, a poller retries
                log.error("outbox message=%s left for the poller: %s", message.id, _where(again))
        finally:
            self._leases.pop(message.id, None)

    async def _deliver(self, job: _Job) -> None:
        message = job.message
        content = job.content if job.content is not None else await self._load(message)
        if content is None:
            return
        rendered = self._renderer.render(content)
        try:
            if self._devmailbox is not None:
                # The dev mailbox files the mail and marks the row sent in one transaction.
                send = self._devmailbox.send(
                    rendered, auth_request_id=message.auth_request_id, outbox_message_id=message.id
                )
            else:
                send = self._mailer.send(rendered)
            await asyncio.wait_for(send, self._send_timeout)
        except DeliveryError as exc:
            await self._after_failure(message, exc)
            return
        except TimeoutError:
            await self._after_failure(message, DeliveryError("delivery timed out"))
            return
        if self._devmailbox is None:
            await self._mark_sent(message)
        else:
            self._log_sent(message)

    async def _load(self, message: OutboxMessage) -> EmailContent | None:
        """Content for a polled message, or None after settling a message that must not go out."""
        request = await self._requests.get(message.auth_request_id)
        if request is None:
            await self._final(message, OutboxStatus.ABANDONED, "auth request not found")
            return None
        if request.credential_version != message.credential_version:
            await self._final(message, OutboxStatus.SUPERSEDED, "credentials were replaced")
            return None
        reason = None
        if request.consumed_at is not None:
            reason = "auth request already used"
        elif request.closed_at is not None:
            reason = "auth request closed"
        elif request.is_expired(self._clock.now()):
            reason = "credential expired before delivery"
        if reason is not None:
            await self._final(message, OutboxStatus.ABANDONED, reason)
            return None
        try:
            credentials = self._sealer.open_credentials(request.id, request.sealed_credentials)
        except ValueError:
            # The key it was sealed under is gone: no retry can open it.
            await self._final(message, OutboxStatus.ABANDONED, "credentials cannot be opened")
            return None
        return email_content_for(request, credentials)

    # --- outcomes ----------------------------------------------------------------------------------

    async def _after_failure(self, message: OutboxMessage, error: DeliveryError) -> None:
        reason = str(error)
        if error.permanent:
            await self._final(message, OutboxStatus.ABANDONED, f"permanent failure: {reason}")
            return
        now = self._clock.now()
        delay = min(self._retry_max, self._retry_base * 2 ** min(message.attempts, 30))
        next_attempt = now + delay
        if next_attempt >= message.expires_at:
            reason = f"credential expires before the next attempt: {reason}"
            await self._final(message, OutboxStatus.ABANDONED, reason)
            return
        try:
            await self._outbox.mark_retry(message.id, next_attempt, reason)
        except Exception as exc:  # the lease lapses and a poller retries it anyway
            log.error("outbox message=%s could not be rescheduled: %s", message.id, _where(exc))
            return
        log.info(
            "outbox message=%s auth_request=%s outcome=retry attempt=%d next_in=%.0fs reason=%s",
            message.id,
            message.auth_request_id,
            message.attempts + 1,
            delay,
            reason,
        )

    async def _final(self, message: OutboxMessage, status: OutboxStatus, reason: str | None) -> None:
        await self._outbox.mark_final(message.id, status.value, self._clock.now(), reason)
        log.info(
            "outbox message=%s auth_request=%s outcome=%s reason=%s",
            message.id,
            message.auth_request_id,
            status.value,
            reason,
        )

    async def _mark_sent(self, message: OutboxMessage) -> None:
        for attempt in range(3):
            try:
                await self._outbox.mark_sent(message.id, self._clock.now())
                break
            except Exception as exc:
                # The mail is out; failing to record it risks a second copy once the lease lapses.
                if attempt == 2:
                    log.error("outbox message=%s was sent but not recorded: %s", message.id, _where(exc))
                    return
                await asyncio.sleep(0.2 * 2**attempt)
        self._log_sent(message)

    def _log_sent(self, message: OutboxMessage) -> None:
        log.info(
            "outbox message=%s auth_request=%s outcome=sent attempt=%d",
            message.id,
            message.auth_request_id,
            message.attempts + 1,
        )


def _where(exc: BaseException) -> str:
    """The exception's type and where it was raised; never its message, which may quote data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.name} ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
