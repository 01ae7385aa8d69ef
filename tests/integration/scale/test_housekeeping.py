"""The purge runs by itself in a started server and keeps the tables bounded under constant load."""

from __future__ import annotations

import asyncio
from pathlib import Path

from keyless.clock import ManualClock
from keyless.container import build_container
from keyless.core.flows.passwordless import Caller, SendCommand
from keyless.storage.database import Database
from tests.support.settings import make_settings


async def rows(db: Database, table: str) -> int:
    row = await db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - a constant table name
    assert row is not None
    return int(row["n"])


async def test_expired_rows_are_purged_in_the_background_and_tables_stay_bounded(
    tmp_path: Path, database_url: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = database_url
    settings = make_settings(
        tmp_path,
        url,
        database_schema=schema,
        purge_interval_seconds=0.05,
        purge_retention_seconds=900,
        send_per_ip_per_minute=10**6,
        send_per_client_per_minute=10**6,
    )
    container = build_container(settings, clock=clock)
    await container.start()
    try:
        client, _ = await container.registry.register("app", redirect_uris=[], magiclink_uris=[])
        caller = Caller(client=client, ip="127.0.0.1")
        sizes = []
        # Constant load: 10 sends a minute for 35 minutes of the clock's time; requests live 300 s.
        for minute in range(35):
            for i in range(10):
                await container.flows.send(caller, SendCommand(email=f"u{minute}-{i}@example.com"))
            await container.worker.join()
            clock.advance(60)
            await asyncio.sleep(0.12)  # a few purge ticks
            sizes.append(await rows(container.db, "auth_requests"))
        # Kept: what was sent in the last (lifetime + retention) = 20 minutes, and a tick's slack.
        assert max(sizes[25:]) <= 10 * 22, sizes
        assert await rows(container.db, "outbox") <= 10 * 22
        assert await rows(container.db, "dev_mailbox") <= 10 * 22
        assert sizes[-1] < 35 * 10  # without the purge all 350 would still be there
    finally:
        await container.stop()
