"""The background purge on every database backend: what goes, what stays, in bounded batches."""

from __future__ import annotations

import asyncio

from keyless.core.models import AuthorizationCode, DevMailboxMessage, Grant, Login, RefreshToken, Session
from keyless.storage.database import Database
from keyless.storage.oidc_stores import SqlGrantStore, SqlLoginStore, SqlSessionStore
from keyless.storage.purge import SqlPurger
from keyless.storage.stores import SqlAuthRequestStore, SqlDevMailboxStore, SqlOutboxStore
from tests.contract.test_stores import NOW, make_message, make_request

CUTOFF = NOW + 1000  # rows whose life ended before this go


async def count(db: Database, table: str) -> int:
    row = await db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - a constant table name
    assert row is not None
    return int(row["n"])


async def add_request(db: Database, name: str, expires_at: float) -> None:
    request = make_request(name, f"{name}@example.com", expires_at=expires_at)
    await SqlAuthRequestStore(db).create(request, make_message(request, f"msg-{name}", expires_at=expires_at))


def session(name: str, expires_at: float) -> Session:
    return Session(name, f"hash-{name}", "usr_1", NOW, "otp", NOW, expires_at)


def grant(name: str, session_id: str, expires_at: float, revoked_at: float | None = None) -> Grant:
    return Grant(name, "skc_1", "usr_1", session_id, "openid", NOW, expires_at, revoked_at)


def code(name: str, grant_id: str, expires_at: float) -> AuthorizationCode:
    return AuthorizationCode(
        f"code-{name}", grant_id, "skc_1", "https://a/cb", None, None, NOW, "otp", False, NOW, expires_at
    )


async def test_purges_what_ended_before_the_cutoff_and_keeps_the_rest(db: Database) -> None:
    await add_request(db, "old", CUTOFF - 1)
    await add_request(db, "young", CUTOFF + 1)
    mailbox = SqlDevMailboxStore(db)
    await mailbox.add(DevMailboxMessage("dm-old", "a@example.com", "s", "t", "h", CUTOFF - 5))
    await mailbox.add(DevMailboxMessage("dm-new", "a@example.com", "s", "t", "h", CUTOFF + 5))
    logins = SqlLoginStore(db)
    for name, end in (("login-old", CUTOFF - 1), ("login-new", CUTOFF + 1)):
        await logins.create(Login(name, "skc_1", "https://a/cb", "openid", None, None, None, None, None, "b", NOW, end))
    sessions, grants = SqlSessionStore(db), SqlGrantStore(db)
    await sessions.create(session("ses-old", CUTOFF - 1))
    await sessions.create(session("ses-held", CUTOFF - 1))  # expired, but a live grant still refers to it
    await sessions.create(session("ses-new", CUTOFF + 1))
    await grants.create(grant("gr-old", "ses-old", CUTOFF - 1), code("old", "gr-old", CUTOFF - 1))
    await grants.create(grant("gr-live", "ses-held", CUTOFF + 100), code("live", "gr-live", CUTOFF + 1))
    await grants.add_refresh_token(RefreshToken("rt-old", "gr-old", "skc_1", NOW, CUTOFF - 1))
    await grants.add_refresh_token(RefreshToken("rt-live", "gr-live", "skc_1", NOW, CUTOFF + 100))

    deleted = await SqlPurger(db).purge(CUTOFF)

    assert deleted == {
        "authorization_codes": 1,
        "refresh_tokens": 1,
        "grants": 1,
        "sessions": 1,
        "logins": 1,
        "outbox": 1,
        "auth_requests": 1,
        "dev_mailbox": 1,
    }
    requests = SqlAuthRequestStore(db)
    assert await requests.get("old") is None and await requests.get("young") is not None
    assert await SqlOutboxStore(db).get("msg-old") is None and await SqlOutboxStore(db).get("msg-young") is not None
    assert [m.id for m in await mailbox.list(None, 10)] == ["dm-new"]
    assert await logins.get("login-old") is None and await logins.get("login-new") is not None
    assert await sessions.get("ses-old") is None
    assert await sessions.get("ses-held") is not None and await sessions.get("ses-new") is not None
    assert await grants.get("gr-old") is None and await grants.get("gr-live") is not None
    assert await grants.get_code("code-old") is None and await grants.get_code("code-live") is not None
    assert await grants.get_refresh_token("rt-old") is None and await grants.get_refresh_token("rt-live") is not None
    assert await SqlPurger(db).purge(CUTOFF) == {}  # idempotent


async def test_batches_are_bounded_and_the_rest_waits_for_the_next_run(db: Database) -> None:
    for i in range(7):
        await add_request(db, f"r{i}", CUTOFF - 1)
    purger = SqlPurger(db, batch_size=2, max_batches=2)
    assert (await purger.purge(CUTOFF)).get("auth_requests") == 4
    assert await count(db, "auth_requests") == 3
    assert (await purger.purge(CUTOFF)).get("auth_requests") == 3
    assert await count(db, "auth_requests") == 0 and await count(db, "outbox") == 0


async def test_purgers_running_at_once_delete_each_row_once(db: Database) -> None:
    for i in range(30):
        await add_request(db, f"c{i}", CUTOFF - 1)
    runs = await asyncio.gather(*(SqlPurger(db, batch_size=4).purge(CUTOFF) for _ in range(4)))
    assert sum(run.get("auth_requests", 0) for run in runs) == 30
    assert sum(run.get("outbox", 0) for run in runs) == 30
    assert await count(db, "auth_requests") == 0
