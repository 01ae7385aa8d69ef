"""The seeds' headless flows (send, resend, verify by code and by magic link) through the official
Scalekit SDKs, unchanged, against a running keyless: Python over TLS, Node over h2c and over TLS.
Codes and links come from the mail a real SMTP server received."""

from __future__ import annotations

import time

import pytest

from tests.e2e.scalekit.conftest import MAGIC_LINK_URI, StartKeyless
from tests.e2e.scalekit.sdk import (
    BAD_REQUEST,
    TOO_MANY_REQUESTS,
    resend,
    sdk_client,
    send,
    send_fails,
    verify,
    verify_fails,
)
from tests.support.smtp import SmtpSink

# (SDK, transport): the Python SDK speaks gRPC only over TLS; Node also speaks h2c for http:// URLs.
CLIENTS = [
    pytest.param("python", True, id="python-tls"),
    pytest.param("node", False, id="node-h2c"),
    pytest.param("node", True, id="node-tls"),
]


@pytest.mark.parametrize(("kind", "tls"), CLIENTS)
async def test_code_resend_wrong_and_right(kind: str, tls: bool, start_keyless: StartKeyless, smtp: SmtpSink) -> None:
    keyless = start_keyless(tls=tls)
    email = f"john.doe.{kind}@example.com"
    async with sdk_client(kind, keyless) as sk:
        before = int(time.time())
        sent = await send(
            sk,
            email,
            template="SIGNIN",
            state="jAy-state1-gM4fdZ",
            expires_in=300,
            magiclink_auth_uri=MAGIC_LINK_URI,
            template_variables={"employeeID": "EMP523", "teamName": "Alpha Team"},
        )
        assert sent.passwordless_type == "LINK_OTP" and sent.expires_in == 300
        assert before + 299 <= sent.expires_at <= int(time.time()) + 301
        first = (await smtp.wait_for(email))[0]

        again = await resend(sk, sent.auth_request_id)
        assert again.auth_request_id == sent.auth_request_id
        mails = await smtp.wait_for(email, count=2)
        assert mails[1].code == first.code  # "new credentials on resend" is off: the same code again

        wrong = f"{(int(first.code) + 1) % 1_000_000:06d}"
        error = await verify_fails(sk, code=wrong, auth_request_id=sent.auth_request_id)
        assert error["class"] == BAD_REQUEST and error["error_code"] == "INVALID_CODE", error

        verified = await verify(sk, code=first.code, auth_request_id=sent.auth_request_id)
        assert verified.email == email
        assert verified.state == "jAy-state1-gM4fdZ"
        assert verified.template == "SIGNIN" and verified.passwordless_type == "LINK_OTP"

        used = await verify_fails(sk, code=first.code, auth_request_id=sent.auth_request_id)
        assert used["class"] == BAD_REQUEST and used["error_code"] == "ALREADY_USED", used


@pytest.mark.parametrize(("kind", "tls"), CLIENTS)
async def test_magic_link_and_rate_limit(kind: str, tls: bool, start_keyless: StartKeyless, smtp: SmtpSink) -> None:
    keyless = start_keyless(tls=tls)
    email = f"link.{kind}@example.com"
    async with sdk_client(kind, keyless) as sk:
        await send(sk, email, magiclink_auth_uri=MAGIC_LINK_URI, state="link-state")
        mail = (await smtp.wait_for(email))[0]
        assert mail.link.startswith(f"{MAGIC_LINK_URI}?link_token=")
        # The seed's magic-link callback: only the link token, no auth_request_id.
        verified = await verify(sk, link_token=mail.link_token)
        assert verified.email == email and verified.state == "link-state"

        # Two mails per minute per address: the third send is the SDK's too-many-requests exception.
        await send(sk, email, magiclink_auth_uri=MAGIC_LINK_URI)
        limited = await send_fails(sk, email, magiclink_auth_uri=MAGIC_LINK_URI)
        assert limited["class"] == TOO_MANY_REQUESTS, limited
        assert limited["error_code"] == "RATE_LIMITED"
        assert limited["http_status"] in ("429", "HTTPStatus.TOO_MANY_REQUESTS")


@pytest.mark.parametrize(("kind", "tls"), CLIENTS)
async def test_same_browser_enforcement(kind: str, tls: bool, start_keyless: StartKeyless, smtp: SmtpSink) -> None:
    keyless = start_keyless(tls=tls, enforce_same_browser_origin="true")
    email = f"strict.{kind}@example.com"
    async with sdk_client(kind, keyless) as sk:
        sent = await send(sk, email, magiclink_auth_uri=MAGIC_LINK_URI)
        token = (await smtp.wait_for(email))[0].link_token
        refused = await verify_fails(sk, link_token=token)
        assert refused["class"] == BAD_REQUEST and refused["error_code"] == "INVALID_ARGUMENT", refused
        verified = await verify(sk, link_token=token, auth_request_id=sent.auth_request_id)
        assert verified.email == email
