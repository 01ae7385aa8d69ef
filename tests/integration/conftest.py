"""Fixtures for in-process integration tests: the app on a real database and a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from keyless.clock import ManualClock
from tests.support.api import Api, make_api
from tests.support.smtp import SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def api(
    tmp_path: Path, database_url: tuple[str, str | None], smtp: SmtpSink, clock: ManualClock
) -> AsyncIterator[Api]:
    async for instance in make_api(tmp_path, database_url, smtp, clock):
        yield instance
