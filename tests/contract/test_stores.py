"""One contract suite for the stores, run against every database backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from keyless.core.models import (
    AuthRequest,
    Client,
    DevMailboxMessage,
    OutboxMessage,
    OutboxStatus,
    PasswordlessType,
    SigningKey,
    TemplateType,
)
from keyless.storage.database import Database
from keyless.storage.stores import (
    SqlAuthRequestStore,
    SqlClientStore,
    SqlDevMailboxStore,
    SqlOutboxStore,
    SqlSigningKeyStore,
)

NOW = 1_700_000_000.0


def make_request(request_id: str = "req-1", email_key: str = "alice@example.com", **changes: object) -> AuthRequest:
    base = AuthRequest(
        id=request_id,
        client_id="skc_1",
        email=email_key,
        email_key=email_key,
        passwordless_type=PasswordlessType.LINK_OTP,
        template=TemplateType.SIGNUP,
        state="st-é<>",
        magiclink_auth_uri="https://app.example.com/verify?x=1",
        template_variables={"teamName": "Alpha"},
        lifetime=300,
        created_at=NOW,
        expires_at=NOW + 300,
        credential_version=1,
        code_hash=b"\x01" * 32,
        link_hash=request_id.encode().ljust(32, b"\x00"),
        sealed_credentials=b"sealed\x00\xff",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def make_message(request: AuthRequest, message_id: str = "msg-1", **changes: object) -> OutboxMessage:
    base = OutboxMessage(
        id=message_id,
        auth_request_id=request.id,
        credential_version=request.credential_version,
        recipient=request.email,
        status=OutboxStatus.SENDING,
        attempts=0,
        next_attempt_at=NOW,
        lease_until=NOW + 30,
        expires_at=request.expires_at,
        created_at=NOW,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_auth_request_round_trip(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    assert await store.get(request.id) == request
    assert await store.get("missing") is None
    outbox = await SqlOutboxStore(db).get("msg-1")
    assert outbox is not None and outbox.status is OutboxStatus.SENDING


async def test_optional_fields_round_trip(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request(template=None, state=None, magiclink_auth_uri=None, link_hash=None, template_variables={})
    await store.create(request, make_message(request))
    assert await store.get(request.id) == request


async def test_find_by_link_hash_tries_every_hash(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    assert request.link_hash is not None
    found = await store.find_by_link_hash([b"other-key-hash".ljust(32, b"\x00"), request.link_hash])
    assert found is not None and found.id == request.id
    assert await store.find_by_link_hash([b"nothing".ljust(32, b"\x00")]) is None


async def test_register_attempt_counts_up_to_the_budget(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    seen = [await store.register_attempt(request.id, 3) for _ in range(5)]
    assert [r.attempts if r else None for r in seen] == [1, 2, 3, None, None]
    assert await store.register_attempt("missing", 3) is None


async def test_register_attempt_is_atomic_under_concurrency(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    results = await asyncio.gather(*(store.register_attempt(request.id, 5) for _ in range(50)))
    assert sum(r is not None for r in results) == 5
    stored = await store.get(request.id)
    assert stored is not None and stored.attempts == 5


async def test_consume_succeeds_exactly_once_under_concurrency(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    results = await asyncio.gather(*(store.consume(request.id, 1, NOW + 1) for _ in range(20)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].consumed_at == NOW + 1


async def test_consume_refuses_stale_version_and_expired(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    assert await store.consume(request.id, 2, NOW + 1) is None
    assert await store.consume(request.id, 1, NOW + 300) is None  # expires_at is exclusive
    assert await store.consume(request.id, 1, NOW + 299) is not None


async def test_consume_closes_the_addresses_other_open_requests(db: Database) -> None:
    store = SqlAuthRequestStore(db)
    a, b = make_request("req-a"), make_request("req-b")
    other = make_request("req-c", email_key="bob@example.com")
    for i, r in enumerate((a, b, other)):
        await store.create(r, make_message(r, f"msg-{i}"))
    assert await store.consume(a.id, 1, NOW + 5) is not None
    closed_b, open_c = await store.get(b.id), await store.get(other.id)
    assert closed_b is not None and closed_b.closed_at == NOW + 5 and closed_b.consumed_at is None
    assert open_c is not None and open_c.closed_at is None
    assert await store.consume(b.id, 1, NOW + 6) is None


async def test_reissue_replaces_credentials_and_supersedes_mail(db: Database) -> None:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    new_message = make_message(request, "msg-2", credential_version=2)
    updated = await store.reissue(
        request.id,
        code_hash=b"\x02" * 32,
        link_hash=b"\x03" * 32,
        sealed_credentials=b"new",
        expires_at=NOW + 600,
        message=new_message,
    )
    assert updated is not None
    assert (updated.credential_version, updated.code_hash, updated.expires_at) == (2, b"\x02" * 32, NOW + 600)
    old = await outbox.get("msg-1")
    assert old is not None and old.status is OutboxStatus.SUPERSEDED
    assert await outbox.get("msg-2") == new_message


async def test_reissue_refuses_a_consumed_request(db: Database) -> None:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    await store.consume(request.id, 1, NOW + 1)
    refused = await store.reissue(
        request.id,
        code_hash=None,
        link_hash=None,
        sealed_credentials=b"x",
        expires_at=NOW + 600,
        message=make_message(request, "msg-2", credential_version=2),
    )
    assert refused is None
    assert await outbox.get("msg-2") is None  # rolled back with the failed update


async def test_claim_due_takes_pending_and_lapsed_leases_only(db: Database) -> None:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    request = make_request()
    await store.create(request, make_message(request, "leased"))  # lease until NOW+30
    await outbox.enqueue(make_message(request, "due", status=OutboxStatus.PENDING, lease_until=None))
    await outbox.enqueue(
        make_message(request, "later", status=OutboxStatus.PENDING, lease_until=None, next_attempt_at=NOW + 100)
    )
    claimed = await outbox.claim_due(NOW + 1, 30, 10)
    assert [m.id for m in claimed] == ["due"]
    assert claimed[0].status is OutboxStatus.SENDING and claimed[0].lease_until == NOW + 31
    assert await outbox.claim_due(NOW + 2, 30, 10) == []
    lapsed = await outbox.claim_due(NOW + 40, 30, 10)
    assert {m.id for m in lapsed} == {"leased", "due"}


async def test_claims_never_overlap_under_concurrency(db: Database) -> None:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    request = make_request()
    await store.create(request, make_message(request, "m-0", status=OutboxStatus.PENDING, lease_until=None))
    for i in range(1, 30):
        await outbox.enqueue(make_message(request, f"m-{i}", status=OutboxStatus.PENDING, lease_until=None))
    batches = await asyncio.gather(*(outbox.claim_due(NOW + 1, 30, 4) for _ in range(12)))
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 30


async def test_outbox_transitions(db: Database) -> None:
    store, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    request = make_request()
    await store.create(request, make_message(request))
    await outbox.mark_retry("msg-1", NOW + 2, "451 try later")
    retried = await outbox.get("msg-1")
    assert retried is not None
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (OutboxStatus.PENDING, 1, NOW + 2)
    assert retried.last_error == "451 try later"
    await outbox.claim_due(NOW + 3, 30, 10)
    await outbox.mark_sent("msg-1", NOW + 4)
    sent = await outbox.get("msg-1")
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.sent_at == NOW + 4
    await outbox.mark_final("msg-1", "abandoned", NOW + 5, "late")
    still_sent = await outbox.get("msg-1")
    assert still_sent is not None and still_sent.status is OutboxStatus.SENT  # final states are final


async def test_clients(db: Database) -> None:
    store = SqlClientStore(db)
    assert await store.count() == 0
    client = Client(
        id="skc_1",
        name="App",
        secret_hash=b"\x09" * 32,
        redirect_uris=("https://app.example.com/cb",),
        magiclink_uris=("https://app.example.com/verify",),
        created_at=NOW,
    )
    await store.create(client)
    assert await store.get("skc_1") == client
    assert await store.list() == [client]
    assert await store.count() == 1
    assert await store.get("skc_2") is None


async def test_signing_keys(db: Database) -> None:
    store = SqlSigningKeyStore(db)
    key = SigningKey("snk_1", "RS256", {"kty": "RSA", "kid": "snk_1"}, b"sealed", NOW, NOW)
    await store.add(key)
    assert await store.list() == [key]


async def test_dev_mailbox_lists_newest_first_and_filters(db: Database) -> None:
    store = SqlDevMailboxStore(db)
    for i, to in enumerate(["a@example.com", "b@example.com", "a@example.com"]):
        await store.add(DevMailboxMessage(f"d{i}", to, f"s{i}", "text", "<p>html</p>", NOW + i, None))
    assert [m.id for m in await store.list("a@example.com", 10)] == ["d2", "d0"]
    assert [m.id for m in await store.list(None, 2)] == ["d2", "d1"]


# NUL characters never reach a store: the core refuses them in every text field (PostgreSQL text
# cannot hold them).
@pytest.mark.parametrize("bad", ["a'); DROP TABLE auth_requests; --", "é" * 50, "../../etc"])
async def test_hostile_ids_are_just_data(db: Database, bad: str) -> None:
    store = SqlAuthRequestStore(db)
    assert await store.get(bad) is None
    assert await store.register_attempt(bad, 5) is None


async def test_dev_mailbox_filing_settles_the_outbox_row_in_the_same_write(db: Database) -> None:
    requests, outbox, mailbox = SqlAuthRequestStore(db), SqlOutboxStore(db), SqlDevMailboxStore(db)
    request = make_request()
    await requests.create(request, make_message(request))
    await mailbox.add(
        DevMailboxMessage("d1", request.email, "s", "t", "h", NOW, request.id), delivers="msg-1", now=NOW + 1
    )
    sent = await outbox.get("msg-1")
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.sent_at == NOW + 1
    assert [m.id for m in await mailbox.list(request.email, 5)] == ["d1"]
