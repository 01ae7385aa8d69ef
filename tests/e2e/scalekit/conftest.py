"""Fixtures for the official-SDK suite: a real SMTP sink, keyless processes (cleartext and dev TLS)
with an application registered through the CLI, and SDK drivers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.callback import CallbackServer
from tests.support.scalekit import Keyless, TlsServer
from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink

MAGIC_LINK_URI = "https://app.example.com/passwordless/verify"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def app() -> Iterator[CallbackServer]:
    server = CallbackServer().start()
    yield server
    server.stop()


StartKeyless = Callable[..., Keyless]


@pytest.fixture
def start_keyless(tmp_path: Path, smtp: SmtpSink, app: CallbackServer) -> Iterator[StartKeyless]:
    """``start_keyless(tls=..., **settings)``: a running keyless mailing to ``smtp``, with one
    application whose redirect URI is the ``app`` callback and whose magic-link URI is MAGIC_LINK_URI."""
    started: list[ServerProcess] = []

    def start(*, tls: bool, **settings: str) -> Keyless:
        workdir = tmp_path / f"keyless-{len(started)}"
        values = {
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(smtp.port),
            "smtp_security": "none",
            "passwordless_type": "LINK_OTP",
            **settings,
        }
        server = TlsServer(workdir, **values) if tls else ServerProcess(workdir, **values)
        started.append(server)
        server.start()
        made = run_cli(
            workdir,
            "clients",
            "create",
            "--name",
            "sdk app",
            "--redirect-uri",
            app.url,
            "--magiclink-uri",
            MAGIC_LINK_URI,
            "--json",
        )
        assert made.returncode == 0, made.stderr
        data = json.loads(made.stdout)
        return Keyless(server, data["client_id"], data["client_secret"], app.url)

    yield start
    for server in started:
        server.stop()
