"""SmtpMailer against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS, implicit TLS, refusals."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from keyless.core.models import RenderedEmail
from keyless.core.ports import DeliveryError, Mailer
from keyless.devtls import ensure_dev_tls
from keyless.mail.smtp import SmtpMailer

SENDER = "noreply@acme.example"


@dataclass
class Sink:
    """An SMTP handler that records what it accepts and refuses the addresses it is told to."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    sink: Sink
    port: int


@pytest.fixture
def serve() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(sink: Sink | None = None, **kwargs: Any) -> Server:
        sink = sink or Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return Server(sink, port)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA and a certificate for localhost/127.0.0.1 signed by it (not trusted by the system):
    the same generator ``keyless serve --dev-tls`` uses."""
    tls = ensure_dev_tls(tmp_path_factory.mktemp("pki"))
    return Pki(tls.ca_file, tls.certfile, tls.keyfile)


def email(recipient: str = "alice@example.com") -> RenderedEmail:
    return RenderedEmail(
        recipient=recipient,
        subject="Your Acme sign-in code",
        text="Your code is 428193.\n",
        html="<p>Your code is <b>428193</b>.</p>\n",
    )


def mailer(port: int, **kwargs: Any) -> SmtpMailer:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "sender_name": "Acme",
        "security": "none",
        "timeout": 5.0,
        "local_hostname": "keyless.test",
    }
    options.update(kwargs)
    return SmtpMailer(**options)


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_is_the_email(raw: bytes) -> None:
    msg = parse(raw)
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Your Acme sign-in code"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and "428193" in text.get_content()
    assert html is not None and "<b>428193</b>" in html.get_content()


def test_is_a_mailer() -> None:
    port: Mailer = mailer(25)
    assert port is not None


async def test_plain_delivery(serve: Any) -> None:
    server = serve()
    await mailer(server.port).send(email())
    assert len(server.sink.received) == 1
    mail_from, rcpt_tos, raw = server.sink.received[0]
    assert mail_from == SENDER
    assert rcpt_tos == ["alice@example.com"]
    assert_is_the_email(raw)


async def test_starttls_required_but_not_offered_is_transient_and_sends_nothing(serve: Any) -> None:
    server = serve()  # no tls_context: the server does not advertise STARTTLS
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port, security="starttls").send(email())
    assert not caught.value.permanent
    assert "STARTTLS" in str(caught.value)
    assert server.sink.received == []


async def test_starttls_with_a_trusted_certificate(serve: Any, pki: Pki) -> None:
    server = serve(tls_context=pki.server_context(), require_starttls=True)
    await mailer(server.port, security="starttls", ca_file=pki.ca_file).send(email())
    assert len(server.sink.received) == 1
    assert_is_the_email(server.sink.received[0][2])


async def test_starttls_with_an_untrusted_certificate_is_refused(serve: Any, pki: Pki) -> None:
    server = serve(tls_context=pki.server_context())
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port, security="starttls").send(email())  # system CAs only
    assert not caught.value.permanent
    assert "TLS" in str(caught.value)
    assert server.sink.received == []


async def test_implicit_tls(serve: Any, pki: Pki) -> None:
    server = serve(ssl_context=pki.server_context())
    await mailer(server.port, security="tls", ca_file=pki.ca_file).send(email())
    assert len(server.sink.received) == 1


async def test_implicit_tls_with_an_untrusted_certificate_is_refused(serve: Any, pki: Pki) -> None:
    server = serve(ssl_context=pki.server_context())
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port, security="tls").send(email())
    assert not caught.value.permanent
    assert server.sink.received == []


async def test_recipient_refused_with_550_is_permanent(serve: Any) -> None:
    server = serve(Sink(refuse={"nobody@example.com": "550 5.1.1 No such user"}))
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port).send(email("nobody@example.com"))
    assert caught.value.permanent
    assert "550" in str(caught.value)
    assert server.sink.received == []


async def test_recipient_deferred_with_451_is_transient(serve: Any) -> None:
    server = serve(Sink(refuse={"alice@example.com": "451 4.7.1 Try again later"}))
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port).send(email())
    assert not caught.value.permanent
    assert "451" in str(caught.value)


async def test_connection_refused_is_transient() -> None:
    with pytest.raises(DeliveryError) as caught:
        await mailer(free_port()).send(email())
    assert not caught.value.permanent


async def test_an_address_the_header_api_refuses_is_permanent(serve: Any) -> None:
    server = serve()
    with pytest.raises(DeliveryError) as caught:
        await mailer(server.port).send(email("alice@example.com\r\nBcc: x@evil.example"))
    assert caught.value.permanent
    assert server.sink.received == []
