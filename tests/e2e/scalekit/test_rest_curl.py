"""The seeds' curl examples, as written, against the same keyless the SDKs use: token, send, resend,
verify by code (wrong, then right) and by magic link, over cleartext and over TLS (curl trusting the
development CA; curl may pick HTTP/2 by ALPN there, which the same port serves too)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.e2e.scalekit.conftest import MAGIC_LINK_URI, StartKeyless
from tests.support.scalekit import Keyless
from tests.support.smtp import SmtpSink


def curl(keyless: Keyless, *args: str) -> tuple[int, dict[str, Any]]:
    if shutil.which("curl") is None:
        pytest.fail("curl is missing: the seeds' REST examples are curl commands", pytrace=False)
    trust = ["--cacert", keyless.trust_env()["REQUESTS_CA_BUNDLE"]] if keyless.trust_env() else []
    result = subprocess.run(
        ["curl", "-sS", *trust, "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def bearer_token(keyless: Keyless) -> str:
    status, body = curl(
        keyless,
        "-X",
        "POST",
        f"{keyless.env_url}/oauth/token",
        "-d",
        "grant_type=client_credentials",
        "-d",
        f"client_id={keyless.client_id}",
        "-d",
        f"client_secret={keyless.client_secret}",
    )
    assert status == 200 and body["token_type"].lower() == "bearer"
    return str(body["access_token"])


def post(keyless: Keyless, token: str, path: str, payload: str) -> tuple[int, dict[str, Any]]:
    # The seeds' shape: curl -L '<ENV>/api/v1/passwordless/email/<path>' -H ... --data-raw '{...}'
    return curl(
        keyless,
        "-L",
        f"{keyless.env_url}/api/v1/passwordless/email/{path}",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {token}",
        "--data-raw",
        payload,
    )


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_seed_curl_walkthrough(tls: bool, start_keyless: StartKeyless, smtp: SmtpSink) -> None:
    keyless = start_keyless(tls=tls)
    token = bearer_token(keyless)
    status, sent = post(
        keyless,
        token,
        "send",
        f"""{{
  "email": "john.doe@example.com",
  "expires_in": 300,
  "state": "jAy-state1-gM4fdZ...2nqm6Q",
  "template": "SIGNIN",
  "magiclink_auth_uri": "{MAGIC_LINK_URI}",
  "template_variables": {{
    "custom_variable_key": "custom_variable_value"
  }}
}}""",
    )
    assert status == 200, sent
    assert set(sent) == {"auth_request_id", "expires_at", "expires_in", "passwordless_type"}
    assert isinstance(sent["expires_at"], str) and sent["expires_at"].isdigit()  # int64 as a JSON string
    assert sent["expires_in"] == 300 and sent["passwordless_type"] == "LINK_OTP"
    request_id = sent["auth_request_id"]

    status, resent = post(keyless, token, "resend", f'{{ "auth_request_id": "{request_id}"}}')
    assert status == 200 and resent["auth_request_id"] == request_id
    mail = (smtp.wait_for_sync("john.doe@example.com", count=2))[-1]

    wrong = f"{(int(mail.code) + 1) % 1_000_000:06d}"
    status, error = post(keyless, token, "verify", f'{{ "code": "{wrong}", "auth_request_id": "{request_id}"}}')
    assert status == 400 and error["code"] == 3
    assert error["details"][0]["@type"] == "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"

    status, verified = post(keyless, token, "verify", f'{{ "code": "{mail.code}", "auth_request_id": "{request_id}"}}')
    assert status == 200, verified
    assert verified == {
        "email": "john.doe@example.com",
        "state": "jAy-state1-gM4fdZ...2nqm6Q",
        "template": "SIGNIN",
        "passwordless_type": "LINK_OTP",
    }

    # Magic link: the token from the link, auth_request_id optional.
    status, second = post(
        keyless, token, "send", f'{{"email": "jane@example.com", "magiclink_auth_uri": "{MAGIC_LINK_URI}"}}'
    )
    assert status == 200
    link_token = smtp.wait_for_sync("jane@example.com")[0].link_token
    status, by_link = post(
        keyless, token, "verify", f'{{ "link_token": "{link_token}", "auth_request_id": "{second["auth_request_id"]}"}}'
    )
    assert status == 200 and by_link["email"] == "jane@example.com"
