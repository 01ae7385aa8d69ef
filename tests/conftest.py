"""Fixtures every test package shares: databases (SQLite and PostgreSQL) and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from keyless.clock import ManualClock
from keyless.storage.database import Database
from keyless.storage.postgres import PostgresDatabase
from keyless.storage.sqlite import SqliteDatabase
from keyless.storage.url import parse_database_url
from tests.support.databases import (
    PG_DSN,
    drop_pg_schema,
    fresh_sqlite,
    migrated_sqlite_template,
    new_pg_schema,
    truncate_pg,
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = new_pg_schema()
    yield schema
    asyncio.run(drop_pg_schema(schema))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[str, str | None]]:
    """(database_url, postgres schema) for each backend, empty at the start of the test."""
    if request.param == "sqlite":
        yield fresh_sqlite(sqlite_template, tmp_path / "keyless.db"), None
    else:
        schema = request.getfixturevalue("pg_schema")
        asyncio.run(truncate_pg(schema))
        yield PG_DSN, schema


@pytest.fixture
async def db(database_url: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database_url
    parsed = parse_database_url(url)
    database: Database = (
        SqliteDatabase(parsed.path) if parsed.dialect == "sqlite" else PostgresDatabase(parsed.dsn, schema=schema)
    )
    yield database
    await database.close()
