"""SQLite: one writer thread that runs each whole transaction in one hop; reads on the event loop.

WAL mode lets the loop read from its own connection while the writer commits, and sending every
write through one thread means writers never fight over the file lock inside this process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from keyless.errors import ServiceUnavailable
from keyless.storage.database import Row, Sql, Stmt, pick, returns_rows


def _dict_factory(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.row_factory = _dict_factory
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyless-sqlite-writer")
        self._writer: sqlite3.Connection | None = None
        self._reader = connect(path)
        self._closed = False
        self._lock = threading.Lock()

    # reads: on the calling thread, from the read connection (never blocked by the writer in WAL)
    async def fetch_one(self, sql: Sql, params: Mapping[str, Any] | None = None) -> Row | None:
        rows = self._read(pick(sql, self.dialect), params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: Sql, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._read(pick(sql, self.dialect), params)

    def _read(self, sql: str, params: Mapping[str, Any] | None) -> list[Row]:
        try:
            with self._lock:
                return self._reader.execute(sql, dict(params or {})).fetchall()
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable(retry_after=1) from exc

    async def transaction(self, statements: Sequence[Stmt]) -> list[list[Row]] | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_pool, self._run_transaction, list(statements))

    def _run_transaction(self, statements: list[Stmt]) -> list[list[Row]] | None:
        if self._writer is None:
            self._writer = connect(self.path)
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable(retry_after=1) from exc
        try:
            results: list[list[Row]] = []
            for stmt in statements:
                sql = stmt.text(self.dialect)
                cursor = conn.execute(sql, dict(stmt.params))
                if returns_rows(sql):
                    rows = cursor.fetchall()
                    touched = len(rows)
                else:
                    rows = []
                    touched = cursor.rowcount
                if stmt.require_rows and touched <= 0:
                    conn.execute("ROLLBACK")
                    return None
                results.append(rows)
            conn.execute("COMMIT")
            return results
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            raise ServiceUnavailable(retry_after=1) from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def ping(self) -> None:
        await self.fetch_one("SELECT 1 AS one")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def _close_writer() -> None:
            if self._writer is not None:
                self._writer.close()

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer_pool, _close_writer)
        self._writer_pool.shutdown(wait=True)
        self._reader.close()
