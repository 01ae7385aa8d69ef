"""The SDK's headless flows against a real keyless process, with the mail read from a real SMTP server."""

from __future__ import annotations

import time

import pytest

from keyless_sdk import (
    AlreadyUsedError,
    AsyncKeylessClient,
    AuthRequestNotFoundError,
    InvalidArgumentError,
    InvalidClientError,
    InvalidCodeError,
    InvalidEmailError,
    KeylessClient,
    KeylessConnectionError,
    MagiclinkAuthUriNotAllowedError,
    PasswordlessType,
    RateLimitedError,
    TemplateType,
    TooManyAttemptsError,
)
from keyless_sdk._core import CachedToken
from tests.sdk_client.conftest import MAGIC
from tests.support.server import ServerProcess
from tests.support.smtp import SmtpSink, free_port


@pytest.fixture
def client(server: ServerProcess, credentials: tuple[str, str]) -> KeylessClient:
    return KeylessClient(server.url, *credentials)


def test_send_then_verify_the_code(client: KeylessClient, smtp: SmtpSink) -> None:
    sent = client.passwordless.send_passwordless_email(
        "ada@example.com", template="SIGNIN", magiclink_auth_uri=MAGIC, state="st-1", expires_in=120
    )
    assert sent.passwordless_type is PasswordlessType.LINK_OTP and 110 <= sent.expires_in <= 120
    assert sent.expires_at > time.time() and len(sent.auth_request_id) >= 22
    assert sent[0] is sent  # Scalekit-style `resp[0].auth_request_id` keeps working
    mail = smtp.wait_for_sync("ada@example.com")[-1]
    verified = client.passwordless.verify_passwordless_email(code=mail.code, auth_request_id=sent.auth_request_id)
    assert verified.email == "ada@example.com" and verified.state == "st-1"
    assert verified.template is TemplateType.SIGNIN and verified.passwordless_type is PasswordlessType.LINK_OTP
    with pytest.raises(AlreadyUsedError) as used:
        client.passwordless.verify_passwordless_email(code=mail.code, auth_request_id=sent.auth_request_id)
    assert used.value.http_status == 400 and used.value.message and used.value.retry_after is None


def test_magic_link_and_resend_keep_the_request(client: KeylessClient, smtp: SmtpSink) -> None:
    sent = client.passwordless.send_passwordless_email("grace@example.com", magiclink_auth_uri=MAGIC)
    again = client.passwordless.resend_passwordless_email(sent.auth_request_id)
    assert again.auth_request_id == sent.auth_request_id
    mails = smtp.wait_for_sync("grace@example.com", count=2)
    assert mails[0].link_token == mails[1].link_token  # resend mails the same credential by default
    verified = client.passwordless.verify_passwordless_email(link_token=mails[-1].link_token)
    assert verified.email == "grace@example.com" and verified.state is None


def test_each_error_code_is_its_own_class(client: KeylessClient, smtp: SmtpSink) -> None:
    with pytest.raises(InvalidEmailError) as bad_email:
        client.passwordless.send_passwordless_email("not an address", magiclink_auth_uri=MAGIC)
    assert bad_email.value.error_code == "INVALID_EMAIL" and bad_email.value.grpc_code == 3
    with pytest.raises(MagiclinkAuthUriNotAllowedError):
        client.passwordless.send_passwordless_email("x@example.com", magiclink_auth_uri="https://evil.example/cb")
    with pytest.raises(InvalidArgumentError) as invalid:
        client.passwordless.send_passwordless_email("x@example.com", magiclink_auth_uri=MAGIC, expires_in=5)
    assert [v.field for v in invalid.value.field_violations] == ["expires_in"]
    with pytest.raises(AuthRequestNotFoundError) as missing:
        client.passwordless.resend_passwordless_email("no-such-request")
    assert missing.value.http_status == 404
    sent = client.passwordless.send_passwordless_email("wrong@example.com", magiclink_auth_uri=MAGIC)
    with pytest.raises(InvalidCodeError):
        client.passwordless.verify_passwordless_email(code="000000", auth_request_id=sent.auth_request_id)
    with pytest.raises(ValueError, match="exactly one"):
        client.passwordless.verify_passwordless_email(code="1", link_token="2")
    with pytest.raises(ValueError, match="template"):
        client.passwordless.send_passwordless_email("x@example.com", template="WELCOME")


def test_rate_limit_carries_retry_after(client: KeylessClient, smtp: SmtpSink) -> None:
    for _ in range(2):
        client.passwordless.send_passwordless_email("busy@example.com", magiclink_auth_uri=MAGIC)
    with pytest.raises(RateLimitedError) as limited:
        client.passwordless.send_passwordless_email("busy@example.com", magiclink_auth_uri=MAGIC)
    assert limited.value.http_status == 429 and 1 <= (limited.value.retry_after or 0) <= 60


def test_retry_on_429_waits_for_retry_after(
    server: ServerProcess, credentials: tuple[str, str], smtp: SmtpSink
) -> None:
    """The server here allows 2 wrong codes per address per 3 s: the right code right after them is a
    429 TOO_MANY_ATTEMPTS with Retry-After. With retries on, the SDK waits that long and succeeds."""
    plain = KeylessClient(server.url, *credentials)
    patient = KeylessClient(server.url, *credentials, max_retries_on_429=2, max_retry_wait=10)
    sent = plain.passwordless.send_passwordless_email("patient@example.com", magiclink_auth_uri=MAGIC)
    code = smtp.wait_for_sync("patient@example.com")[-1].code
    for _ in range(2):
        with pytest.raises(InvalidCodeError):
            plain.passwordless.verify_passwordless_email(code="000000", auth_request_id=sent.auth_request_id)
    with pytest.raises(TooManyAttemptsError) as refused:
        plain.passwordless.verify_passwordless_email(code=code, auth_request_id=sent.auth_request_id)
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    started = time.monotonic()
    verified = patient.passwordless.verify_passwordless_email(code=code, auth_request_id=sent.auth_request_id)
    assert verified.email == "patient@example.com"
    assert time.monotonic() - started >= 1.0  # it waited rather than hammering


def test_token_is_lazy_cached_refreshed_before_expiry_and_after_401(
    server: ServerProcess, credentials: tuple[str, str]
) -> None:
    now = [time.time()]
    client = KeylessClient(server.url, *credentials, clock=lambda: now[0])
    assert client.core.token_fetches == 0  # constructing it fetched nothing
    first = client.get_client_access_token()
    assert client.get_client_access_token() == first and client.core.token_fetches == 1
    now[0] += 899 - 20  # inside the refresh margin before the 899 s lifetime ends
    second = client.get_client_access_token()
    assert second != first and client.core.token_fetches == 2
    # A token the server no longer accepts (here: garbage) is replaced after its 401, and the call succeeds.
    client.core.token = CachedToken("not-a-token", now[0] + 600, 899)
    sent = client.passwordless.send_passwordless_email("refresh@example.com", magiclink_auth_uri=MAGIC)
    assert sent.auth_request_id and client.core.token_fetches == 3


def test_wrong_secret_and_unreachable_server(server: ServerProcess, credentials: tuple[str, str]) -> None:
    with pytest.raises(InvalidClientError) as bad:
        KeylessClient(server.url, credentials[0], "wrong").passwordless.resend_passwordless_email("x")
    assert bad.value.http_status == 401 and bad.value.error == "invalid_client"
    nowhere = KeylessClient(f"http://127.0.0.1:{free_port()}", *credentials, timeout=2)
    with pytest.raises(KeylessConnectionError):
        nowhere.passwordless.send_passwordless_email("a@example.com")


def test_a_deleted_client_is_unauthenticated(server: ServerProcess) -> None:
    from tests.sdk_client.conftest import register
    from tests.support.server import run_cli

    client_id, secret = register(server)
    client = KeylessClient(server.url, client_id, secret)
    client.get_client_access_token()
    deleted = run_cli(server.workdir, "clients", "delete", client_id, "--yes", **server.settings)
    assert deleted.returncode == 0, deleted.stderr
    time.sleep(5.5)  # the server caches clients for 5 s
    # The API answers 401; the SDK asks for a new token once, and the token endpoint refuses the client.
    with pytest.raises(InvalidClientError) as refused:
        client.passwordless.resend_passwordless_email("x")
    assert refused.value.http_status == 401


async def test_async_client_runs_the_same_flows(
    server: ServerProcess, credentials: tuple[str, str], smtp: SmtpSink
) -> None:
    async with AsyncKeylessClient(server.url, *credentials) as client:
        sent = await client.passwordless.send_passwordless_email("async@example.com", magiclink_auth_uri=MAGIC)
        resent = await client.passwordless.resend_passwordless_email(sent.auth_request_id)
        assert resent.auth_request_id == sent.auth_request_id
        mail = (await smtp.wait_for("async@example.com", count=2))[-1]
        with pytest.raises(InvalidCodeError):
            await client.passwordless.verify_passwordless_email(code="999999", auth_request_id=sent.auth_request_id)
        verified = await client.passwordless.verify_passwordless_email(
            code=mail.code, auth_request_id=sent.auth_request_id
        )
        assert verified[0].email == "async@example.com"
