"""The development mailbox: mail is kept in the database and printed to the console, never sent.

Printing the code is the point of this backend (a developer signs in without a mail server); the
settings refuse it in production mode.
"""

from __future__ import annotations

import logging

from keyless.clock import Clock
from keyless.core.credentials import generate_prefixed_id
from keyless.core.models import DevMailboxMessage, RenderedEmail
from keyless.core.ports import DeliveryError, DevMailboxStore
from keyless.errors import ServiceUnavailable

log = logging.getLogger("keyless.devmailbox")


class DevMailboxMailer:
    """The ``Mailer`` port for development."""

    def __init__(self, store: DevMailboxStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def send(
        self, email: RenderedEmail, *, auth_request_id: str | None = None, outbox_message_id: str | None = None
    ) -> None:
        """File the message; with ``outbox_message_id``, its outbox row is marked sent in the same write."""
        stored = DevMailboxMessage(
            id=generate_prefixed_id("dmsg"),
            recipient=email.recipient,
            subject=email.subject,
            text=email.text,
            html=email.html,
            created_at=self._clock.now(),
            auth_request_id=auth_request_id,
        )
        try:
            await self._store.add(stored, delivers=outbox_message_id, now=stored.created_at)
        except ServiceUnavailable as exc:
            raise DeliveryError("dev mailbox database unavailable") from exc
        log.info(
            "\n----- dev mailbox %s -----\nTo: %s\nSubject: %s\n\n%s\n-----",
            stored.id,
            stored.recipient,
            stored.subject,
            stored.text.strip(),
        )
