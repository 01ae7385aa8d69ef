"""The Database contract the stores are written against, implemented for SQLite and PostgreSQL.

SQL is written once with ``:name`` parameters (a statement may carry per-dialect variants). A write
transaction is a short list of statements sent in one piece: on SQLite that is one hop to the single
writer thread, on PostgreSQL one round of a pooled connection. A statement marked ``require_rows``
that touches no row rolls the whole transaction back, which is how conditional, atomic steps
(single use, attempt budgets) are expressed without reading first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]
Sql = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Stmt:
    sql: Sql
    params: Mapping[str, Any] = field(default_factory=dict)
    require_rows: bool = False

    def text(self, dialect: str) -> str:
        return self.sql if isinstance(self.sql, str) else self.sql[dialect]


def returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head == "SELECT" or " RETURNING " in sql.upper()


class Database(Protocol):
    dialect: str

    async def fetch_one(self, sql: Sql, params: Mapping[str, Any] | None = None) -> Row | None: ...

    async def fetch_all(self, sql: Sql, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    async def transaction(self, statements: Sequence[Stmt]) -> list[list[Row]] | None:
        """Run in one transaction; per statement, its rows (RETURNING/SELECT) or ``[]``.
        None when a ``require_rows`` statement touched nothing (everything rolled back)."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def pick(sql: Sql, dialect: str) -> str:
    return sql if isinstance(sql, str) else sql[dialect]
