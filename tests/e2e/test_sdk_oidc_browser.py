"""The SDK's redirect-flow methods in real Chromium against a real keyless process: the authorization
URL with PKCE, the code exchange with ID-token checks, access-token validation, refresh-token rotation
and the logout URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, expect

from keyless_sdk import (
    AsyncKeylessClient,
    AuthorizationUrlOptions,
    CodeAuthenticationOptions,
    InvalidGrantError,
    LogoutUrlOptions,
    TokenValidationError,
    generate_pkce,
)
from tests.support.callback import CallbackServer
from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink, free_port


@pytest.fixture
def app() -> Iterator[CallbackServer]:
    server = CallbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


async def test_redirect_flow_with_the_sdk(tmp_path: Path, smtp: SmtpSink, app: CallbackServer, page: Page) -> None:
    port = free_port()
    server = ServerProcess(
        tmp_path,
        port,
        public_url=f"http://127.0.0.1:{port}",
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
    ).start()
    bye = f"http://127.0.0.1:{app.port}/bye"
    try:
        made = run_cli(
            tmp_path,
            "clients",
            "create",
            "--redirect-uri",
            app.url,
            "--post-logout-uri",
            bye,
            "--json",
            **server.settings,
        )
        assert made.returncode == 0, made.stderr
        client_id, secret = json.loads(made.stdout).values()
        async with AsyncKeylessClient(server.url, client_id, secret) as client:
            pkce = generate_pkce()
            options = AuthorizationUrlOptions(
                state="st-42", nonce="nonce-42", login_hint="sdk.user@example.com", code_challenge=pkce.code_challenge
            )
            await page.goto(client.get_authorization_url(app.url, options))
            await page.get_by_role("button", name="Email me a code").click()
            mail = (await smtp.wait_for("sdk.user@example.com"))[0]
            await page.get_by_label("Code").fill(mail.code)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("body")).to_contain_text("Back at the app")
            query = parse_qs(urlsplit(app.seen[-1]).query)
            assert query["state"] == ["st-42"]

            result = await client.authenticate_with_code(
                query["code"][0], app.url, CodeAuthenticationOptions(code_verifier=pkce.code_verifier, nonce="nonce-42")
            )
            assert result.user.email == "sdk.user@example.com" and result.user.id.startswith("usr_")
            assert result["user"]["emailVerified"] is True and result.connection_id == "otp"
            assert result.refresh_token and result.expires_in == 899
            claims = await client.validate_access_token_and_get_claims(result.access_token)
            assert claims.subject == result.user.id and claims.session_id == result.id_token_claims["sid"]
            assert "openid" in claims.scopes
            # An ID token carries the same audience, but it is not an access token.
            with pytest.raises(TokenValidationError, match="at\\+jwt"):
                await client.validate_access_token_and_get_claims(result.id_token)

            assert result.refresh_token is not None
            refreshed = await client.refresh_access_token(result.refresh_token)
            assert refreshed.refresh_token != result.refresh_token and refreshed["access_token"]
            assert await client.validate_access_token(refreshed.access_token)
            with pytest.raises(InvalidGrantError):  # the spent refresh token; its reuse revokes the family
                await client.refresh_access_token(result.refresh_token)
            with pytest.raises(InvalidGrantError):
                await client.refresh_access_token(refreshed.refresh_token)

            logout = client.get_logout_url(
                LogoutUrlOptions(id_token_hint=result.id_token, post_logout_redirect_uri=bye, state="gone")
            )
            await page.goto(logout)
            assert page.url == f"{bye}?state=gone"
    finally:
        server.stop()
