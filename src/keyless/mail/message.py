"""MIME assembly with the ``email`` package's API: headers are never built from strings (R-20)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from keyless.core.models import RenderedEmail

# C0/C1 controls and the Unicode line/paragraph separators: anything a mail reader might treat as a
# line break must never reach a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
MAX_HEADER_TEXT = 250


def clean_header_text(value: str) -> str:
    """One line of header text: control characters become spaces, runs of space collapse."""
    cleaned = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return cleaned[:MAX_HEADER_TEXT].rstrip()


def build_mime(email: RenderedEmail, *, sender: str, sender_name: str, now: float | None = None) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred."""
    ascii_only = email.recipient.isascii() and sender.isascii()
    # A non-ASCII address needs SMTPUTF8; everything else stays plain 7-bit-safe SMTP.
    msg = EmailMessage(policy=policy.SMTP if ascii_only else policy.SMTPUTF8)
    msg["Subject"] = clean_header_text(email.subject)
    msg["From"] = Address(display_name=clean_header_text(sender_name), addr_spec=sender)
    msg["To"] = Address(addr_spec=email.recipient)
    moment = time.time() if now is None else now
    msg["Date"] = format_datetime(datetime.fromtimestamp(moment, UTC))
    msg["Message-ID"] = make_msgid(domain=_msgid_domain(sender))
    # RFC 3834: tells autoresponders not to answer a machine-sent message.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    return msg


def _msgid_domain(sender: str) -> str:
    # Passing a domain also keeps make_msgid from calling socket.getfqdn() (a DNS lookup) per message.
    domain = sender.rpartition("@")[2].strip().lower()
    if not domain or not domain.isascii():
        return "keyless.invalid"
    return domain
