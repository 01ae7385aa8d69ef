"""Hosted sign-in in real Chromium against a real keyless process, with mail from a real SMTP server.
Screenshots of every page land in test-artifacts/screenshots/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import ConsoleErrors, Screenshots, new_context
from tests.support.callback import CallbackServer
from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink


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


def start_server(tmp_path: Path, smtp: SmtpSink, **settings: str) -> ServerProcess:
    return ServerProcess(
        tmp_path,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
        app_name="Acme Notes",
        **settings,
    ).start()


def register(server: ServerProcess, callback: str) -> tuple[str, str]:
    result = run_cli(server.workdir, "clients", "create", "--name", "notes", "--redirect-uri", callback, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return data["client_id"], data["client_secret"]


def authorize_url(server: ServerProcess, client_id: str, email: str, callback: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": callback,
        "scope": "openid profile email",
        "state": "browser-state",
        "login_hint": email,
    }
    return f"{server.url}/oauth/authorize?{urlencode(params)}"


def exchange(server: ServerProcess, client: tuple[str, str], callback_url: str) -> dict[str, str]:
    redirect_uri = callback_url.split("?", 1)[0]
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
    assert query["state"] == "browser-state" and query["iss"] == server.settings["public_url"]
    response = httpx.post(
        f"{server.url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": redirect_uri,
            "client_id": client[0],
            "client_secret": client[1],
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def id_claims(token: str) -> dict[str, object]:
    import base64

    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def test_sign_in_with_the_code(
    tmp_path: Path, smtp: SmtpSink, app: CallbackServer, page: Page, shot: Screenshots, console_errors: ConsoleErrors
) -> None:
    server = start_server(tmp_path, smtp)
    try:
        client = register(server, app.url)
        seen = app.seen
        await page.goto(authorize_url(server, client[0], "otp.user@example.com", app.url))
        await expect(page.get_by_label("Email address")).to_have_value("otp.user@example.com")
        await expect(page.locator(".brand")).to_have_text("Acme Notes")
        await shot(page, "email")
        assert smtp.messages == []  # looking at the page sends nothing
        await page.get_by_role("button", name="Email me a code").click()
        await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        await shot(page, "check-your-email")
        mail = (await smtp.wait_for("otp.user@example.com"))[0]
        wrong = f"{(int(mail.code) + 1) % 1_000_000:06d}"
        await page.get_by_label("Code").fill(wrong)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_contain_text("not right")
        await shot(page, "wrong-code")
        # The wrong-code page is served with status 400 on purpose; Chromium logs any 4xx document.
        assert all("400 (Bad Request)" in e for e in console_errors), console_errors
        console_errors.clear()
        await page.get_by_label("Code").fill(mail.code)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("body")).to_contain_text("Back at the app")
        await shot(page, "back-at-the-app")
        tokens = exchange(server, client, seen[-1])
        claims = id_claims(tokens["id_token"])
        assert claims["email"] == "otp.user@example.com" and claims["amr"] == ["otp"]
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["keyless_session"]["httpOnly"] and cookies["keyless_session"]["sameSite"] == "Lax"
        # A second authorization from the same browser needs no page at all.
        await page.goto(authorize_url(server, client[0], "otp.user@example.com", app.url))
        await expect(page.locator("body")).to_contain_text("Back at the app")
        assert console_errors == [], console_errors
    finally:
        server.stop()


async def test_sign_in_with_the_magic_link(
    tmp_path: Path,
    smtp: SmtpSink,
    app: CallbackServer,
    browser: Browser,
    page: Page,
    shot: Screenshots,
    console_errors: ConsoleErrors,
) -> None:
    server = start_server(tmp_path, smtp, passwordless_type="LINK_OTP")
    try:
        client = register(server, app.url)
        seen = app.seen
        await page.goto(authorize_url(server, client[0], "link.user@example.com", app.url))
        await page.get_by_role("button", name="Email me a code").click()
        await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        mail = (await smtp.wait_for("link.user@example.com"))[0]
        link = mail.link.replace(server.settings["public_url"], server.url)

        # A mail scanner (no scripts, another browser) only sees the page; nothing is used.
        async with new_context(browser, ConsoleErrors()) as scanner:
            await scanner.set_extra_http_headers({})
            scanner_page = await scanner.new_page()
            await scanner.route("**/static/autosubmit.js", lambda route: route.abort())
            await scanner_page.goto(link)
            await expect(scanner_page.get_by_role("button", name="Continue")).to_be_visible()
            await shot(scanner_page, "link-landing-without-script")

        # The person opens the link in their browser: the page posts itself and signs them in.
        await page.goto(link)
        await expect(page.locator("body")).to_contain_text("Back at the app")
        await shot(page, "back-at-the-app")
        claims = id_claims(exchange(server, client, seen[-1])["id_token"])
        assert claims["email"] == "link.user@example.com" and claims["amr"] == ["link"]
        assert console_errors == [], console_errors
    finally:
        server.stop()


async def test_same_browser_enforcement_in_real_browsers(
    tmp_path: Path, smtp: SmtpSink, app: CallbackServer, browser: Browser, page: Page, shot: Screenshots
) -> None:
    server = start_server(tmp_path, smtp, passwordless_type="LINK_OTP", enforce_same_browser_origin="true")
    try:
        client = register(server, app.url)
        seen = app.seen
        await page.goto(authorize_url(server, client[0], "same.user@example.com", app.url))
        await page.get_by_role("button", name="Email me a code").click()
        mail = (await smtp.wait_for("same.user@example.com"))[0]
        link = mail.link.replace(server.settings["public_url"], server.url)
        async with new_context(browser, ConsoleErrors()) as elsewhere:
            other = await elsewhere.new_page()
            response = await other.goto(link)
            assert response is not None and response.status == 403
            await expect(other.get_by_role("heading")).to_contain_text("where you started")
            await shot(other, "other-browser-explains")
        # Nothing was used: the code from the same email still works where the sign-in started.
        await page.get_by_label("Code").fill(mail.code)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("body")).to_contain_text("Back at the app")
        assert exchange(server, client, seen[-1])["access_token"]
    finally:
        server.stop()
