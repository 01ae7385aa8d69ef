"""One real keyless process (and a real SMTP server) per module for the SDK's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink

MAGIC = "http://localhost:3000/passwordless/verify"  # the first client's, too
CALLBACK = "http://127.0.0.1:3999/auth/callback"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def start(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink, **settings: str) -> ServerProcess:
    workdir = tmp_path_factory.mktemp("keyless")
    server = ServerProcess(
        workdir,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
        **settings,
    )
    # public_url and the address the SDK uses are one origin, as in a deployment.
    server.settings["public_url"] = server.url
    return server.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[ServerProcess]:
    process = start(
        tmp_path_factory,
        smtp,
        passwordless_type="LINK_OTP",
        verify_failures_per_address="2",
        verify_failure_window_seconds="3",
        max_attempts_per_request="10",
        key_refresh_seconds="1",
    )
    yield process
    process.stop()


def register(server: ServerProcess, *extra: str) -> tuple[str, str]:
    result = run_cli(
        server.workdir,
        "clients",
        "create",
        "--name",
        "sdk test",
        "--magiclink-uri",
        MAGIC,
        "--redirect-uri",
        CALLBACK,
        *extra,
        "--json",
        **server.settings,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return data["client_id"], data["client_secret"]


@pytest.fixture(scope="module")
def credentials(server: ServerProcess) -> tuple[str, str]:
    return register(server)
