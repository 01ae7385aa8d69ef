"""Real databases for tests: a migrated SQLite file per test, and a PostgreSQL schema per session.

PostgreSQL is never skipped: when it cannot be reached, the tests that need it fail and say why.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import asyncpg

from keyless.storage.migrate import upgrade
from keyless.storage.url import parse_database_url

PG_DSN = os.environ.get("KEYLESS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = (
    "auth_requests",
    "outbox",
    "clients",
    "signing_keys",
    "dev_mailbox",
    "users",
    "sessions",
    "logins",
    "grants",
    "authorization_codes",
    "refresh_tokens",
)


def migrated_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    if not path.exists():
        upgrade(parse_database_url(f"sqlite:///{path}"))
    return path


def fresh_sqlite(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def new_pg_schema() -> str:
    schema = "kt_" + secrets.token_hex(6)
    upgrade(parse_database_url(PG_DSN), schema)
    return schema


async def truncate_pg(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in TABLES)}")
    finally:
        await conn.close()


async def drop_pg_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
