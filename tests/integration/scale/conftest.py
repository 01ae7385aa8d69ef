"""Two real keyless processes on the shared PostgreSQL and Redis, mailing a real SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, StallingSmtpSink, running_cluster


@pytest.fixture
def smtp() -> Iterator[StallingSmtpSink]:
    sink = StallingSmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def cluster(tmp_path: Path, smtp: StallingSmtpSink) -> Iterator[Cluster]:
    with running_cluster(tmp_path, smtp) as started:
        yield started
