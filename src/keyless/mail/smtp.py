"""The SMTP backend (aiosmtplib): one connection per message, TLS never downgraded (R-21).

Failures become ``DeliveryError``: a 5xx refusal of the recipient or of the message is permanent
(retrying cannot help, EM-06); connection trouble, timeouts, 4xx answers and TLS failures are
transient and retried by the outbox with back-off until the credential expires.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from email.errors import HeaderParseError
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib

from keyless.clock import Clock, SystemClock
from keyless.core.models import RenderedEmail
from keyless.core.ports import DeliveryError
from keyless.mail.message import build_mime
from keyless.settings import SmtpSecurity

if TYPE_CHECKING:
    from keyless.settings import Settings

log = logging.getLogger("keyless.mail.smtp")


class TlsUnavailable(Exception):
    """The server cannot give us the TLS the configuration requires."""


class SmtpMailer:
    """The ``Mailer`` port over SMTP. The message body (it holds the code) is never logged."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        sender_name: str = "",
        security: SmtpSecurity | str = SmtpSecurity.STARTTLS,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ca_file: Path | str | None = None,
        local_hostname: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._sender_name = sender_name
        self._security = SmtpSecurity(security)
        self._username = username
        self._password = password
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._clock: Clock = clock or SystemClock()
        self._tls: ssl.SSLContext | None = None
        if self._security is not SmtpSecurity.NONE:
            # Certificate and host name are always verified; ca_file only changes whom we trust.
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    async def send(self, email: RenderedEmail) -> None:
        try:
            message = build_mime(email, sender=self._sender, sender_name=self._sender_name, now=self._clock.now())
        except (ValueError, HeaderParseError) as exc:
            # An address the header API refuses will be refused on every attempt.
            reason = f"address cannot be written into a header: {_short(exc)}"
            raise DeliveryError(reason, permanent=True) from exc
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._security is SmtpSecurity.TLS,
            start_tls=False,  # STARTTLS is done by hand below, so that it is required, never optional
            tls_context=self._tls,
            validate_certs=True,
            timeout=self._timeout,
            local_hostname=await self._helo_name(),
        )
        try:
            await client.connect()
            if self._security is SmtpSecurity.STARTTLS:
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    raise TlsUnavailable("the server does not offer STARTTLS, which is required")
                await client.starttls()
            if self._username is not None:
                # Only after TLS is up, so the credentials never cross the wire in the clear.
                await client.login(self._username, self._password or "")
            await client.send_message(message, sender=self._sender, recipients=[email.recipient])
        except (aiosmtplib.SMTPException, OSError, TlsUnavailable) as exc:
            client.close()
            raise self._delivery_error(exc) from exc
        except BaseException:
            client.close()
            raise
        try:
            await client.quit()
        except Exception:
            # The server already accepted the message; a failed QUIT must not cause a resend.
            client.close()

    async def _helo_name(self) -> str:
        if self._local_hostname is None:
            # getfqdn may do a DNS lookup: do it once, off the event loop.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname

    def _delivery_error(self, exc: Exception) -> DeliveryError:
        where = f"{self._host}:{self._port}"
        if _is_tls_failure(exc):
            log.error("SMTP TLS failure with %s, not sending without TLS: %s", where, _short(exc))
            return DeliveryError(f"TLS failure: {_short(exc)}")
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [refusal.code for refusal in exc.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            return DeliveryError(f"recipient refused: {reason}"[:300], permanent=_all_permanent(codes))
        if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
            reason = f"refused: {exc.code} {exc.message}"[:300]
            return DeliveryError(reason, permanent=_all_permanent([exc.code]))
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            # e.g. SMTPUTF8 needed for this address and not offered: no retry will change that.
            return DeliveryError(f"not supported by {where}: {_short(exc)}", permanent=True)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            log.error("SMTP authentication with %s failed: %s %s", where, exc.code, exc.message)
            return DeliveryError(f"authentication failed: {exc.code}")
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            log.warning("SMTP server %s answered %s %s", where, exc.code, exc.message)
            return DeliveryError(f"server answered {exc.code} {exc.message}"[:300])
        if isinstance(exc, TimeoutError):
            return DeliveryError(f"timed out talking to {where}")
        return DeliveryError(f"{type(exc).__name__}: {_short(exc)}")


def _all_permanent(codes: list[int]) -> bool:
    return bool(codes) and all(500 <= code < 600 for code in codes)


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TlsUnavailable | ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def build_smtp_mailer(settings: Settings, clock: Clock | None = None) -> SmtpMailer:
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        sender_name=settings.mail_from_name or settings.app_name,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
        ca_file=settings.smtp_ca_file,
        clock=clock,
    )
