"""Apply Alembic migrations (``keyless db upgrade``; ``keyless serve`` does it on start)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from keyless.storage.url import DatabaseUrl

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(url: DatabaseUrl, schema: str | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.set_main_option("sqlalchemy.url", url.sqlalchemy_url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(url: DatabaseUrl, schema: str | None = None, revision: str = "head") -> None:
    """Bring the database to ``revision``. Safe to call from inside a running event loop."""
    if url.dialect == "sqlite":
        Path(url.path).parent.mkdir(parents=True, exist_ok=True)
    if schema:
        _ensure_schema(url, schema)
    cfg = alembic_config(url, schema)
    _off_loop(lambda: command.upgrade(cfg, revision))


def _ensure_schema(url: DatabaseUrl, schema: str) -> None:
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(url.dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()

    _off_loop(lambda: asyncio.run(create()))


def _off_loop(fn: object) -> None:
    """Alembic's env runs its own event loop, so run it on a plain thread when one is already running."""
    assert callable(fn)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
