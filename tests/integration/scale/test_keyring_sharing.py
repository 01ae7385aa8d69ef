"""Signing keys shared through the database: two keyrings (as two processes would hold) on one store."""

from __future__ import annotations

import os

import pytest

from keyless.core.credentials import Sealer
from keyless.oidc.keys import Keyring
from keyless.oidc.tokens import InvalidToken, TokenService
from keyless.storage.database import Database
from keyless.storage.stores import SqlSigningKeyStore

NOW = 1_700_000_000.0
ISSUER = "https://auth.example.com"


def pair(db: Database) -> tuple[Keyring, Keyring]:
    sealer = Sealer([os.urandom(32)])
    store = SqlSigningKeyStore(db)
    return Keyring(store, sealer), Keyring(store, sealer)


def service(keyring: Keyring) -> TokenService:
    return TokenService(keyring, issuer=ISSUER, access_token_ttl=900)


def token(keyring: Keyring, now: float) -> str:
    return (
        service(keyring).issue_access_token(subject="c", client_id="c", scopes=("passwordless",), now=now).access_token
    )


async def test_a_token_signed_with_a_key_made_elsewhere_is_accepted_after_one_reload(db: Database) -> None:
    a, b = pair(db)
    await a.ensure_key(NOW)
    await b.ensure_key(NOW)
    assert a.jwks(NOW) == b.jwks(NOW)
    new = await a.create_key(NOW + 1, not_before=NOW + 1)  # a careless rotation: signs at once
    signed = token(a, NOW + 2)
    verifier = service(b)
    with pytest.raises(InvalidToken):
        verifier.verify_access_token(signed, NOW + 2)  # b has not seen the key yet
    claims = await verifier.verify(signed, NOW + 2)  # ...and reloads on the unknown kid
    assert claims.client_id == "c" and b.knows(new.kid)


async def test_unknown_kids_reload_at_most_once_a_second(db: Database) -> None:
    a, b = pair(db)
    await a.ensure_key(NOW)
    await b.ensure_key(NOW)
    assert not await b.reload_for("snk_nope", NOW)  # a reload, and still unknown
    new = await a.create_key(NOW, not_before=NOW)
    assert not await b.reload_for(new.kid, NOW + 0.5)  # within the interval: no reload
    assert await b.reload_for(new.kid, NOW + 1.0)


async def test_rotation_publishes_before_signing_and_retires_after_the_longest_token(db: Database) -> None:
    a, b = pair(db)
    await a.ensure_key(NOW)
    await b.ensure_key(NOW)
    old_kid = a.signing_key(NOW).record.kid
    old_token = token(b, NOW)
    new = await a.rotate(NOW, publish_ahead=60, retire_after=3600)
    await b.reload()  # the periodic reload every process runs
    for ring in (a, b):
        kids = {k["kid"] for k in ring.jwks(NOW + 1)["keys"]}
        assert kids == {old_kid, new.kid}  # published to relying parties before any token uses it
        assert ring.signing_key(NOW + 59).record.kid == old_kid
        assert ring.signing_key(NOW + 60).record.kid == new.kid
    # Tokens from the old key stay valid until the old key retires, one longest lifetime later.
    assert (await service(b).verify(old_token, NOW + 800)).client_id == "c"
    assert {k["kid"] for k in b.jwks(NOW + 60 + 3600)["keys"]} == {new.kid}
    assert b.public_key(old_kid, NOW + 60 + 3600) is None and b.public_key(new.kid, NOW + 60 + 3600) is not None


async def test_keyrings_that_raced_to_create_a_first_key_sign_with_the_same_one(db: Database) -> None:
    a, b = pair(db)
    await a.create_key(NOW, not_before=NOW)
    await b.create_key(NOW, not_before=NOW)
    await a.reload()
    assert a.signing_key(NOW + 1).record.kid == b.signing_key(NOW + 1).record.kid
