"""Housekeeping: delete rows that expired more than the retention period ago, in bounded batches.

Every row here has an end of life (``expires_at``; ``created_at`` for the dev mailbox), so tables
stay bounded under constant load: roughly rate * (lifetime + retention). Deletes are idempotent, so
every process may purge at the same time; on PostgreSQL each batch skips rows another purger has
locked, so purgers never wait on one another or on a flow. A batch is one short transaction, and a
run stops after ``max_batches`` per table, leaving the rest to the next run, so a purge never holds
the database (or SQLite's single writer) for long.

What is kept, and why:
- authorization codes: the retention is at least the access-token lifetime (settings enforce it),
  so a replayed code still finds its row and revokes what it issued while those tokens live;
- sessions: not while a live (unexpired, unrevoked) grant still refers to them, since refreshing
  needs the session;
- users are never purged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keyless.storage.database import Database, Stmt

log = logging.getLogger("keyless.purge")


@dataclass(frozen=True, slots=True)
class _Target:
    table: str
    key: str
    condition: str  # over the table's own columns, with :cutoff


# Children before parents, so nothing is left pointing at a row that is gone a moment earlier.
TARGETS = (
    _Target("authorization_codes", "code_hash", "expires_at < :cutoff"),
    _Target("refresh_tokens", "token_hash", "expires_at < :cutoff"),
    _Target("grants", "id", "expires_at < :cutoff"),
    _Target(
        "sessions",
        "id",
        "expires_at < :cutoff AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.session_id = sessions.id "
        "AND g.revoked_at IS NULL AND g.expires_at >= :cutoff)",
    ),
    _Target("logins", "id", "expires_at < :cutoff"),
    _Target("outbox", "id", "expires_at < :cutoff"),
    _Target("auth_requests", "id", "expires_at < :cutoff"),
    _Target("dev_mailbox", "id", "created_at < :cutoff"),
)


def _delete_sql(target: _Target) -> dict[str, str]:
    t, key, cond = target.table, target.key, target.condition
    pick = f"SELECT {key} FROM {t} WHERE {cond} LIMIT :batch"  # noqa: S608 - constant names only
    return {
        "sqlite": f"DELETE FROM {t} WHERE {key} IN ({pick}) RETURNING {key}",  # noqa: S608
        # Several processes purge at once: each takes rows the others have not locked.
        "postgresql": f"DELETE FROM {t} WHERE {key} IN ({pick} FOR UPDATE SKIP LOCKED) RETURNING {key}",  # noqa: S608
    }


class SqlPurger:
    def __init__(self, db: Database, *, batch_size: int = 500, max_batches: int = 20) -> None:
        self._db = db
        self._batch = batch_size
        self._max_batches = max_batches
        self._sql = {target.table: _delete_sql(target) for target in TARGETS}

    async def purge(self, cutoff: float) -> dict[str, int]:
        """Delete rows whose life ended before ``cutoff``; how many went, by table."""
        deleted: dict[str, int] = {}
        for target in TARGETS:
            total = 0
            for _ in range(self._max_batches):
                result = await self._db.transaction(
                    [Stmt(self._sql[target.table], {"cutoff": cutoff, "batch": self._batch})]
                )
                count = len(result[0]) if result else 0
                total += count
                if count < self._batch:
                    break
            if total:
                deleted[target.table] = total
        if deleted:
            log.info("purged %s", ", ".join(f"{table}={n}" for table, n in deleted.items()))
        return deleted
