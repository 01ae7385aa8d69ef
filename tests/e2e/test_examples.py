"""The example applications end to end, each exactly as its README starts it: `keyless setup` writes its
.env, the app runs in its own process, and Chromium signs in through it against a real keyless process
with mail read from a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.support.apps import ExampleApp
from tests.support.browser import ConsoleErrors, Screenshots
from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def start_keyless(tmp_path: Path, smtp: SmtpSink, **settings: str) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        tmp_path / "keyless",
        port,
        public_url=f"http://127.0.0.1:{port}",
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
        **settings,
    ).start()


def setup_app(server: ServerProcess, tmp_path: Path, name: str) -> tuple[Path, str]:
    """The README's first step for an example: `keyless setup` against the local keyless."""
    app_url = f"http://127.0.0.1:{free_port()}"
    env_file = tmp_path / name / ".env"
    result = run_cli(
        server.workdir,
        "setup",
        "--name",
        name,
        "--app-url",
        app_url,
        "--env-file",
        str(env_file),
        "--no-input",
        "--json",
        **server.settings,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["env_url"] == server.url
    return env_file, app_url


def only_4xx_documents(errors: ConsoleErrors) -> None:
    """Error pages are served with 400 on purpose; Chromium logs any 4xx document as a console error."""
    assert all("status of 400" in e for e in errors), errors
    errors.clear()


async def test_fastapi_headless_example(
    tmp_path: Path, smtp: SmtpSink, page: Page, shot: Screenshots, console_errors: ConsoleErrors
) -> None:
    server = start_keyless(tmp_path, smtp, passwordless_type="LINK_OTP")
    try:
        env_file, app_url = setup_app(server, tmp_path, "fastapi_headless")
        with ExampleApp("fastapi_headless", env_file, app_url):
            # The code path: the app's own form, the app's own code page, the app's own session.
            await page.goto(app_url)
            await page.get_by_label("Email address").fill("ada@example.com")
            await shot(page, "sign-in")
            await page.get_by_role("button", name="Email me a sign-in code").click()
            await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
            await shot(page, "check-your-email")
            mail = (await smtp.wait_for("ada@example.com"))[0]
            await page.get_by_label("Code").fill(f"{(int(mail.code) + 1) % 1_000_000:06d}")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("alert")).to_contain_text("not right")
            only_4xx_documents(console_errors)
            await page.get_by_label("Code").fill(mail.code)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("#who")).to_have_text("ada@example.com")
            await shot(page, "signed-in")
            await page.get_by_role("button", name="Sign out").click()
            await expect(page.get_by_role("button", name="Email me a sign-in code")).to_be_visible()

            # The magic link: a scanner's GET consumes nothing; the browser's visit signs in.
            await page.get_by_label("Email address").fill("grace@example.com")
            await page.get_by_role("button", name="Email me a sign-in code").click()
            await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
            link = (await smtp.wait_for("grace@example.com"))[0].link
            assert link.startswith(f"{app_url}/passwordless/verify?link_token=")
            for _ in range(2):
                assert httpx.get(link).status_code == 200  # what a mail scanner does
            await page.goto(link)
            await expect(page.locator("#who")).to_have_text("grace@example.com")
            await shot(page, "signed-in-by-link")
            assert console_errors == [], console_errors
    finally:
        server.stop()


async def test_flask_redirect_example(
    tmp_path: Path, smtp: SmtpSink, page: Page, shot: Screenshots, console_errors: ConsoleErrors
) -> None:
    server = start_keyless(tmp_path, smtp)
    try:
        env_file, app_url = setup_app(server, tmp_path, "flask_redirect")
        with ExampleApp("flask_redirect", env_file, app_url):
            await page.goto(app_url)
            await expect(page.locator("body")).to_contain_text("You are not signed in")
            await page.get_by_label("Email address").fill("lin@example.com")
            await page.get_by_role("button", name="Sign in").click()
            # keyless's hosted pages, with the address passed as login_hint.
            await expect(page.get_by_label("Email address")).to_have_value("lin@example.com")
            assert page.url.startswith(f"{server.url}/")
            await shot(page, "keyless-sign-in")
            await page.get_by_role("button", name="Email me a code").click()
            await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
            mail = (await smtp.wait_for("lin@example.com"))[0]
            await page.get_by_label("Code").fill(mail.code)
            await page.get_by_role("button", name="Sign in").click()
            # Back at the app: the code was exchanged (PKCE, state and nonce checked) for a session.
            await expect(page.locator("#who")).to_have_text("lin@example.com")
            assert page.url.rstrip("/") == app_url
            await shot(page, "signed-in")
            await page.get_by_role("link", name="Sign out").click()
            await expect(page.locator("body")).to_contain_text("You are not signed in")
            assert page.url.rstrip("/") == app_url  # keyless ended its session and came back
            # keyless's session is gone too: signing in again shows its pages, not an instant redirect.
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("button", name="Email me a code")).to_be_visible()
            # A callback that this browser did not start is refused.
            forged = await page.goto(f"{app_url}/auth/callback?code=x&state=forged")
            assert forged is not None and forged.status == 400
            await expect(page.get_by_role("alert")).to_contain_text("did not start here")
            only_4xx_documents(console_errors)
    finally:
        server.stop()
