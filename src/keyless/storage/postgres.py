"""PostgreSQL through asyncpg: a pool, one connection per transaction, ``:name`` → ``$n`` once per SQL."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import asyncpg

from keyless.errors import ServiceUnavailable
from keyless.storage.database import Row, Sql, Stmt, pick, returns_rows

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

# Connection-level failures: the database is down or unreachable, not a bug in a query.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    TimeoutError,
)


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(repl, sql), tuple(names)


def _args(names: tuple[str, ...], params: Mapping[str, Any] | None) -> list[Any]:
    values = params or {}
    return [values[name] for name in names]


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, dsn: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10) -> None:
        self._dsn = dsn
        self._schema = schema
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            settings = {"search_path": self._schema} if self._schema else {}
            try:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=self._min,
                    max_size=self._max,
                    server_settings=settings,
                    command_timeout=30,
                    timeout=5,
                )
            except _UNAVAILABLE as exc:
                raise ServiceUnavailable(retry_after=2) from exc
        return self._pool

    async def fetch_one(self, sql: Sql, params: Mapping[str, Any] | None = None) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: Sql, params: Mapping[str, Any] | None = None) -> list[Row]:
        text, names = translate(pick(sql, self.dialect))
        pool = await self._get_pool()
        try:
            records = await pool.fetch(text, *_args(names, params))
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable(retry_after=2) from exc
        return [dict(r) for r in records]

    async def transaction(self, statements: Sequence[Stmt]) -> list[list[Row]] | None:
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    results: list[list[Row]] = []
                    for stmt in statements:
                        raw = stmt.text(self.dialect)
                        text, names = translate(raw)
                        args = _args(names, stmt.params)
                        if returns_rows(raw):
                            rows = [dict(r) for r in await conn.fetch(text, *args)]
                            touched = len(rows)
                        else:
                            status = await conn.execute(text, *args)
                            rows = []
                            touched = int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
                        if stmt.require_rows and touched <= 0:
                            await tx.rollback()
                            return None
                        results.append(rows)
                except BaseException:
                    await tx.rollback()
                    raise
                await tx.commit()
                return results
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable(retry_after=2) from exc

    async def ping(self) -> None:
        await self.fetch_one("SELECT 1 AS one")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
