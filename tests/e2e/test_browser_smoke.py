"""The dev mailbox in a real browser: a real ``keyless serve``, a code sent over the API, the page read in
headless Chromium."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.support.browser import ConsoleErrors, Screenshots
from tests.support.server import ServerProcess


def wait_for_mail(base: str, email: str) -> dict[str, str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(f"{base}/dev/mailbox/messages", params={"to": email, "limit": 1})
        messages: list[dict[str, str]] = response.json()["messages"]
        if messages:
            return messages[0]
        time.sleep(0.05)
    raise AssertionError(f"no mail for {email} in the dev mailbox")


async def test_dev_mailbox_page_shows_the_code(
    tmp_path: Path, page: Page, shot: Screenshots, console_errors: ConsoleErrors
) -> None:
    email = "browser.smoke@example.com"
    with ServerProcess(tmp_path) as server:
        first = json.loads((tmp_path / "keyless-data" / "first-client.json").read_text())
        token = httpx.post(
            f"{server.url}/oauth/token",
            auth=(first["client_id"], first["client_secret"]),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        sent = httpx.post(
            f"{server.url}/api/v1/passwordless/email/send",
            json={"email": email, "template": "SIGNIN"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert sent.status_code == 200, sent.text
        mail = wait_for_mail(server.url, email)
        code = re.search(r"\b\d{6}\b", mail["text"])
        assert code, mail["text"]

        response = await page.goto(f"{server.url}/dev/mailbox?to={email}")
        assert response is not None and response.status == 200
        await page.wait_for_load_state("networkidle")
        await shot(page, "mailbox")

        message = page.locator("article.mail").filter(has_text=email)
        await expect(message).to_have_count(1)
        await expect(message.locator("header strong")).to_have_text(mail["subject"])
        await expect(message.locator("pre")).to_contain_text(code.group())
        await expect(page.locator("#to")).to_have_value(email)

        headers = await response.all_headers()
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert console_errors == [], console_errors
