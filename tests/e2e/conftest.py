"""Browser fixtures: ``browser`` (one Chromium per session), ``context``/``page`` (fresh per test),
``console_errors`` and ``shot``. See ``tests/support/browser.py`` for why they are async.

A browser test is ``async def`` and needs no marker: the tests that use these fixtures run on the
session event loop, where the browser lives.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page

from tests.support.browser import ConsoleErrors, Screenshots, launch_chromium, new_context

BROWSER_FIXTURES = {"browser", "context", "page", "shot"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        if not inspect.iscoroutinefunction(getattr(item, "obj", None)):
            raise pytest.UsageError(
                f"{item.nodeid}: a browser test must be `async def` (Playwright's async API; "
                "the sync API breaks every asyncio test that runs after it)"
            )
        # Prepended, so that it wins over the bare marker that auto mode gave the test at collection.
        item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def console_errors() -> ConsoleErrors:
    """Console errors, uncaught errors and CSP violations of the test's pages (``[]`` when clean)."""
    return ConsoleErrors()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, console_errors: ConsoleErrors) -> AsyncIterator[BrowserContext]:
    async with new_context(browser, console_errors) as fresh:
        yield fresh


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Screenshots:
    """``await shot(page, "name")``: a full-page PNG in test-artifacts/screenshots/<test>/."""
    return Screenshots(request.config.rootpath, request.node.name)
