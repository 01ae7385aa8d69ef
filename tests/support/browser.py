"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright's async API.

Why the async API: Playwright's sync API marks its own event loop as the thread's running loop between
calls, so while a sync browser is open every later ``asyncio.run()`` and every pytest-asyncio test in
the session fails ("cannot be called from a running event loop"). The async API keeps the browser on
pytest-asyncio's session loop instead, which runs only while a browser test runs. Browser tests are
therefore ``async def`` tests on the session loop (``tests/e2e/conftest.py`` marks them), and the
server they test runs in a subprocess (``tests.support.server.ServerProcess``).

Never ``playwright install``: it downloads a browser build, which this project's machines cannot
fetch. ``make browser-deps`` installs Debian's package instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")

LAUNCH_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces it may not get
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]

# Playwright waits 30 s by default; a page of a server on this machine that is not there in 10 s is a bug.
DEFAULT_TIMEOUT_MS = 10_000


def require_chromium() -> None:
    """Fail (never skip) when the browser is missing: a skipped browser test is a test nobody ran."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package. "
            "Run `make browser-deps` (as root: apt-get install chromium); never `playwright install`.",
            pytrace=False,
        )


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """Start Playwright's driver and a headless Chromium; close both on exit."""
    require_chromium()
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        except Error as exc:
            pytest.fail(f"Chromium ({CHROMIUM}) did not start:\n{exc}", pytrace=False)
        try:
            yield browser
        finally:
            await browser.close()


class ConsoleErrors(list[str]):
    """Console errors of every page of one context (Chromium logs CSP violations there) and uncaught errors.

    Except the 404 of ``/favicon.ico``, which Chromium asks for by itself: keyless serves no favicon.
    """

    def watch(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.append(f"uncaught: {error.error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type != "error" or (
            urlsplit(url).path == "/favicon.ico" and message.text.startswith("Failed to load resource")
        ):
            return
        self.append(f"{message.text} ({url}:{message.location.get('lineNumber', '?')})")


@asynccontextmanager
async def new_context(browser: Browser, errors: ConsoleErrors | None = None) -> AsyncIterator[BrowserContext]:
    """A fresh context (its own cookies and storage) with the suite's defaults; closed on exit."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    if errors is not None:
        errors.watch(context)
    try:
        yield context
    finally:
        await context.close()


def screenshots_root(rootdir: Path) -> Path:
    return rootdir / "test-artifacts" / "screenshots"


class Screenshots:
    """``await shot(page, "name")`` saves ``test-artifacts/screenshots/<test>/<NN>-<name>.png``.

    The test's folder is emptied at its first shot, so it holds the shots of the latest run only.
    """

    def __init__(self, rootdir: Path, test_name: str) -> None:
        self.directory = screenshots_root(rootdir) / _safe(test_name)
        self.count = 0

    async def __call__(self, page: Page, name: str) -> Path:
        if self.count == 0:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.directory / f"{self.count:02d}-{_safe(name)}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "unnamed"
