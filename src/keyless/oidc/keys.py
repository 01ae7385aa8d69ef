"""Signing keys: created on first start, private halves sealed at rest, public halves in the JWKS.

A key is published from ``created_at`` and signs from ``not_before``, so a rotated key is in the
JWKS before any token carries its ``kid``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast

from joserfc import jwt
from joserfc.jwk import RSAKey

from keyless.core.credentials import Sealer
from keyless.core.models import SigningKey
from keyless.core.ports import SigningKeyStore
from keyless.errors import ConfigurationError

ALGORITHM = "RS256"


def new_kid() -> str:
    return "snk_" + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class _LoadedKey:
    record: SigningKey
    public: RSAKey
    private: RSAKey | None


class Keyring:
    """This process's copy of the signing keys. Other processes add keys to the same store: each
    process reloads periodically (``reload``), and at once when it meets a ``kid`` it does not know
    (``reload_for``, at most once per ``unknown_kid_interval`` so junk tokens cannot hammer the store)."""

    def __init__(self, store: SigningKeyStore, sealer: Sealer, *, unknown_kid_interval: float = 1.0) -> None:
        self._store = store
        self._sealer = sealer
        self._keys: dict[str, _LoadedKey] = {}
        self._jwks: dict[str, list[dict[str, Any]]] = {"keys": []}
        self._unknown_kid_interval = unknown_kid_interval
        self._unknown_reload_at = float("-inf")

    async def ensure_key(self, now: float) -> bool:
        """Create the first key if there is none. True when one was created."""
        if await self._store.list():
            await self.reseal_under_current_key()
            await self.reload()
            return False
        await self.create_key(now, not_before=now)
        return True

    async def create_key(self, now: float, not_before: float) -> SigningKey:
        kid = new_kid()
        key = RSAKey.generate_key(2048, private=True)
        public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": ALGORITHM}
        record = SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk={k: str(v) for k, v in public.items()},
            sealed_private_key=self._sealer.seal(key.as_pem(private=True), b"signing-key:" + kid.encode()),
            created_at=now,
            not_before=not_before,
        )
        await self._store.add(record)
        await self.reload()
        return record

    async def rotate(self, now: float, *, publish_ahead: float, retire_after: float) -> SigningKey:
        """Add a key that is published now and signs from ``now + publish_ahead`` (every process has
        reloaded it by then), and retire the current keys ``retire_after`` seconds after that (the
        longest lifetime of a token they signed)."""
        record = await self.create_key(now, not_before=now + publish_ahead)
        for key in await self._store.list():
            if key.kid != record.kid and key.retire_at is None:
                await self._store.retire(key.kid, record.not_before + retire_after)
        await self.reload()
        return record

    async def reload_for(self, kid: str, now: float) -> bool:
        """Reload when ``kid`` is unknown here (another process may have just added it); True when
        the key is known afterwards."""
        if kid in self._keys:
            return True
        if now - self._unknown_reload_at < self._unknown_kid_interval:
            return False
        self._unknown_reload_at = now
        await self.reload()
        return kid in self._keys

    async def reload(self) -> None:
        loaded: dict[str, _LoadedKey] = {}
        for record in await self._store.list():
            existing = self._keys.get(record.kid)
            if existing is not None and existing.record == record:
                loaded[record.kid] = existing
                continue
            pem = self._open(record)
            loaded[record.kid] = _LoadedKey(
                record,
                RSAKey.import_key(cast(dict[str, str | list[str]], record.public_jwk)),
                RSAKey.import_key(pem),
            )
        self._keys = loaded
        self._jwks = {"keys": [dict(k.record.public_jwk) for k in loaded.values()]}

    def _open(self, record: SigningKey) -> bytes:
        purpose = b"signing-key:" + record.kid.encode()
        try:
            return self._sealer.open(record.sealed_private_key, purpose)
        except ValueError:
            raise ConfigurationError(
                f"signing key {record.kid} cannot be opened: the encryption key that sealed it is not "
                "configured. Keep the old key in encryption_keys (after the new one) until keyless has "
                "re-sealed its signing keys under the new key on start."
            ) from None

    async def reseal_under_current_key(self) -> int:
        """After an encryption-key rotation: re-seal every signing key under the newest key."""
        count = 0
        for record in await self._store.list():
            if not self._sealer.is_current(record.sealed_private_key):
                purpose = b"signing-key:" + record.kid.encode()
                await self._store.reseal(record.kid, self._sealer.seal(self._open(record), purpose))
                count += 1
        return count

    def jwks(self, now: float) -> dict[str, list[dict[str, Any]]]:
        return {
            "keys": [
                dict(k.record.public_jwk)
                for k in self._keys.values()
                if k.record.retire_at is None or k.record.retire_at > now
            ]
        }

    def signing_key(self, now: float) -> _LoadedKey:
        usable = [
            k
            for k in self._keys.values()
            if k.record.not_before <= now and (k.record.retire_at is None or k.record.retire_at > now)
        ]
        if not usable:
            raise RuntimeError("no signing key is active")
        # Ties broken by kid, so processes that raced to create a first key all sign with the same one.
        return max(usable, key=lambda k: (k.record.not_before, k.record.kid))

    def sign(self, claims: dict[str, Any], now: float, typ: str = "JWT") -> str:
        key = self.signing_key(now)
        assert key.private is not None
        return jwt.encode({"alg": ALGORITHM, "kid": key.record.kid, "typ": typ}, claims, key.private)

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def public_key(self, kid: str, now: float) -> RSAKey | None:
        key = self._keys.get(kid)
        if key is None or (key.record.retire_at is not None and key.record.retire_at <= now):
            return None
        return key.public
