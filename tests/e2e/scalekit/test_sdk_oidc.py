"""The seeds' OIDC flow through the official SDKs: get_authorization_url -> keyless's hosted sign-in in
real Chromium -> authenticate_with_code -> the user's email and tokens; then validate_access_token and
refresh. Python over TLS (its only transport), Node over h2c and over TLS."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.scalekit.conftest import StartKeyless
from tests.e2e.scalekit.sdk import sdk_client
from tests.support.callback import CallbackServer
from tests.support.scalekit import Keyless, SdkDriver
from tests.support.smtp import SmtpSink

# A PKCE pair (the Node SDK passes it through; the Python SDK has no PKCE option).
VERIFIER = secrets.token_urlsafe(48)
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def authorization_options(kind: str, email: str) -> dict[str, Any]:
    """login_hint as the seeds pass it, plus every other parameter the SDK can add to the URL."""
    if kind == "python":
        return {
            "login_hint": email,
            "state": "seed-state",
            "nonce": "seed-nonce",
            "domain_hint": "example.com",
            "connection_id": "conn_1",
            "organization_id": "org_1",
            "provider": "google",
        }
    return {
        "loginHint": email,
        "state": "seed-state",
        "nonce": "seed-nonce",
        "domainHint": "example.com",
        "connectionId": "conn_1",
        "organizationId": "org_1",
        "provider": "google",
        "codeChallenge": CHALLENGE,
        "codeChallengeMethod": "S256",
    }


async def sign_in_in_chromium(browser: Browser, url: str, email: str, smtp: SmtpSink, app: CallbackServer) -> str:
    """The user's part: keyless's hosted pages, the code from the mail, back at the app's callback."""
    # The dev CA is trusted by the SDKs through the variables keyless prints; the browser is only the
    # user's way through the pages, so it is told to accept the local certificate.
    context = await browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        page = await context.new_page()
        await page.goto(url)
        await expect(page.get_by_label("Email address")).to_have_value(email)
        await page.get_by_role("button", name="Email me a code").click()
        await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        code = (await smtp.wait_for(email))[0].code
        await page.get_by_label("Code").fill(code)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("body")).to_contain_text("Back at the app")
    finally:
        await context.close()
    return app.seen[-1]


async def authenticate(sk: SdkDriver, code: str, keyless: Keyless) -> dict[str, Any]:
    if sk.kind == "python":
        r = await sk.call("authenticate_with_code", code=code, redirect_uri=keyless.callback)
        return {
            "email": r["user"]["email"],
            "id": r["id_token"],
            "access": r["access_token"],
            "refresh": r["refresh_token"],
        }
    options = {"codeVerifier": VERIFIER}
    r = await sk.call("authenticate_with_code", code=code, redirect_uri=keyless.callback, options=options)
    return {"email": r["user"]["email"], "id": r["idToken"], "access": r["accessToken"], "refresh": r["refreshToken"]}


async def refresh(sk: SdkDriver, token: str) -> tuple[str, str]:
    r = await sk.call("refresh", refresh_token=token)
    if sk.kind == "python":
        return r["access_token"], r["refresh_token"]
    return r["accessToken"], r["refreshToken"]


@pytest.mark.parametrize(
    ("kind", "tls"),
    [
        pytest.param("python", True, id="python-tls"),
        pytest.param("node", False, id="node-h2c"),
        pytest.param("node", True, id="node-tls"),
    ],
)
async def test_hosted_sign_in_code_exchange_validate_and_refresh(
    kind: str, tls: bool, browser: Browser, start_keyless: StartKeyless, smtp: SmtpSink, app: CallbackServer
) -> None:
    keyless = start_keyless(tls=tls, passwordless_type="OTP")
    email = f"oidc.{kind}@example.com"
    async with sdk_client(kind, keyless) as sk:
        url = await sk.call(
            "authorization_url", redirect_uri=keyless.callback, options=authorization_options(kind, email)
        )
        assert url.startswith(f"{keyless.env_url}/oauth/authorize?")
        sent = parse_qs(urlsplit(url).query)
        assert sent["login_hint"] == [email] and sent["provider"] == ["google"]

        callback = await sign_in_in_chromium(browser, url, email, smtp, app)
        query = parse_qs(urlsplit(callback).query)
        assert query["state"] == ["seed-state"]

        result = await authenticate(sk, query["code"][0], keyless)
        assert result["email"] == email
        assert result["id"].count(".") == 2 and result["access"].count(".") == 2 and result["refresh"]

        assert await sk.call("validate_access_token", token=result["access"]) is True
        assert await sk.call("validate_access_token", token=result["access"][:-4] + "AAAA") is False

        access, rotated = await refresh(sk, result["refresh"])
        assert access != result["access"] and rotated != result["refresh"]
        assert await sk.call("validate_access_token", token=access) is True
