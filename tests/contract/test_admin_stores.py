"""Store methods the CLI's admin commands use, on every database backend: client secret rotation and
deletion, listing and deleting users (with their sessions and grants), retiring a signing key."""

from __future__ import annotations

from keyless.core.models import AuthorizationCode, Client, Grant, Session, SigningKey, User
from keyless.storage.database import Database
from keyless.storage.oidc_stores import SqlGrantStore, SqlSessionStore, SqlUserStore
from keyless.storage.stores import SqlClientStore, SqlSigningKeyStore

NOW = 1_700_000_000.0


def grant(grant_id: str, client_id: str = "skc_1", user_id: str = "usr_1", session_id: str = "ses_1") -> Grant:
    return Grant(grant_id, client_id, user_id, session_id, "openid email", NOW, NOW + 3600)


def code(grant_id: str, client_id: str = "skc_1") -> AuthorizationCode:
    return AuthorizationCode(
        f"hash-{grant_id}", grant_id, client_id, "https://app/cb", None, None, NOW, "otp", False, NOW, NOW + 60
    )


async def test_client_secret_update_and_delete_revokes_its_grants(db: Database) -> None:
    clients, grants = SqlClientStore(db), SqlGrantStore(db)
    await clients.create(Client("skc_1", "one", b"old-hash", redirect_uris=("https://app/cb",)))
    await clients.create(Client("skc_2", "two", b"hash-2"))
    assert await clients.update_secret("skc_1", b"new-hash")
    stored = await clients.get("skc_1")
    assert stored is not None and stored.secret_hash == b"new-hash" and stored.redirect_uris == ("https://app/cb",)
    assert not await clients.update_secret("skc_missing", b"x")

    await grants.create(grant("grt_1", "skc_1"), code("grt_1", "skc_1"))
    await grants.create(grant("grt_2", "skc_2"), code("grt_2", "skc_2"))
    assert await clients.delete("skc_1", NOW + 5)
    assert await clients.get("skc_1") is None and await clients.count() == 1
    revoked, kept = await grants.get("grt_1"), await grants.get("grt_2")
    assert revoked is not None and revoked.revoked_at == NOW + 5
    assert kept is not None and kept.revoked_at is None
    assert not await clients.delete("skc_1", NOW + 6)


async def test_users_list_count_and_delete(db: Database) -> None:
    users, sessions, grants = SqlUserStore(db), SqlSessionStore(db), SqlGrantStore(db)
    for index in range(3):
        email = f"user{index}@example.com"
        await users.record_login(User(f"usr_{index}", email, email, True, NOW + index), NOW + index)
    assert await users.count() == 3
    assert [u.id for u in await users.list(2)] == ["usr_0", "usr_1"]
    assert [u.id for u in await users.list(2, offset=2)] == ["usr_2"]

    await sessions.create(Session("ses_1", "secret-1", "usr_1", NOW, "otp", NOW, NOW + 3600))
    await sessions.create(Session("ses_2", "secret-2", "usr_2", NOW, "otp", NOW, NOW + 3600))
    await grants.create(grant("grt_1", user_id="usr_1", session_id="ses_1"), code("grt_1"))
    await grants.create(grant("grt_2", user_id="usr_2", session_id="ses_2"), code("grt_2"))
    assert await users.delete("usr_1", NOW + 10)
    assert await users.get("usr_1") is None and await users.count() == 2
    ended, other = await sessions.get("ses_1"), await sessions.get("ses_2")
    assert ended is not None and ended.ended_at == NOW + 10 and other is not None and other.ended_at is None
    revoked, kept = await grants.get("grt_1"), await grants.get("grt_2")
    assert revoked is not None and revoked.revoked_at == NOW + 10
    assert kept is not None and kept.revoked_at is None
    assert not await users.delete("usr_1", NOW + 11)
    # The address can sign up again: a new user, a new id.
    again = await users.record_login(User("usr_9", "user1@example.com", "user1@example.com", True, NOW), NOW)
    assert again.id == "usr_9"


async def test_retire_only_brings_the_date_forward(db: Database) -> None:
    keys = SqlSigningKeyStore(db)
    await keys.add(SigningKey("snk_1", "RS256", {"kty": "RSA", "kid": "snk_1"}, b"sealed", NOW, NOW))
    await keys.retire("snk_1", NOW + 100)
    await keys.retire("snk_1", NOW + 500)  # a later date does not extend the key's life
    [stored] = await keys.list()
    assert stored.retire_at == NOW + 100
    await keys.retire("snk_1", NOW + 50)
    [stored] = await keys.list()
    assert stored.retire_at == NOW + 50
