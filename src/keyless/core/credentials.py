"""Credential generation, keyed hashing and sealing.

Codes and link tokens are stored only as HMAC-SHA256 under server keys kept outside the database
(the first key hashes, every key verifies, so keys can rotate), plus an AES-GCM ciphertext under a
separate key so that a resend without new credentials can mail the same code again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyless.core.models import Credentials

OTP_DIGITS = 6


def generate_otp() -> str:
    """Six decimal digits from the OS CSPRNG, zero-padded."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def generate_link_token() -> str:
    """256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def generate_request_id() -> str:
    """Opaque auth request id: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def generate_prefixed_id(prefix: str, digits: int = 19) -> str:
    """Public ids such as ``skc_…`` and ``usr_…``: a prefix and random decimal digits."""
    low = 10 ** (digits - 1)
    return f"{prefix}_{low + secrets.randbelow(9 * low)}"


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_client_secret(secret: str) -> bytes:
    """Client secrets are 256-bit random strings, so a plain SHA-256 is a sound one-way store."""
    return hashlib.sha256(secret.encode()).digest()


def client_secret_matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(hash_client_secret(secret), stored)


class CredentialHasher:
    """Keyed HMAC-SHA256 for codes and link tokens. Keys: newest first."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one credential HMAC key is required")
        self._keys = tuple(keys)

    def hash_code(self, request_id: str, code: str) -> bytes:
        # The request id is bound into the MAC: a code verifies only the request it was made for.
        return self._mac(self._keys[0], b"otp", request_id, code)

    def hash_link(self, token: str) -> bytes:
        return self._mac(self._keys[0], b"link", "", token)

    def code_matches(self, request_id: str, code: str, stored: bytes | None) -> bool:
        return self._matches(stored, b"otp", request_id, code)

    def link_matches(self, token: str, stored: bytes | None) -> bool:
        return self._matches(stored, b"link", "", token)

    def link_lookup_hashes(self, token: str) -> list[bytes]:
        """The token's hash under every active key, for an indexed lookup."""
        return [self._mac(key, b"link", "", token) for key in self._keys]

    def _matches(self, stored: bytes | None, kind: bytes, request_id: str, value: str) -> bool:
        found = False
        for key in self._keys:
            # Compare against every key without returning early, so timing does not say which key.
            candidate = self._mac(key, kind, request_id, value)
            if stored is not None and hmac.compare_digest(candidate, stored):
                found = True
        return found

    @staticmethod
    def _mac(key: bytes, kind: bytes, request_id: str, value: str) -> bytes:
        message = kind + b"\x00" + request_id.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
        return hmac.new(key, message, hashlib.sha256).digest()


class Sealer:
    """AES-256-GCM with a key id prefix, so data sealed under an older key still opens."""

    _NONCE = 12

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._keys = [(hashlib.sha256(k).digest()[:4], AESGCM(k)) for k in keys]

    def seal(self, plaintext: bytes, purpose: bytes) -> bytes:
        key_id, aead = self._keys[0]
        nonce = secrets.token_bytes(self._NONCE)
        return key_id + nonce + aead.encrypt(nonce, plaintext, purpose)

    def is_current(self, sealed: bytes) -> bool:
        """Sealed under the newest key (else worth re-sealing after a key rotation)."""
        return hmac.compare_digest(sealed[:4], self._keys[0][0])

    def open(self, sealed: bytes, purpose: bytes) -> bytes:
        key_id, nonce, body = sealed[:4], sealed[4 : 4 + self._NONCE], sealed[4 + self._NONCE :]
        for candidate_id, aead in self._keys:
            if hmac.compare_digest(candidate_id, key_id):
                try:
                    return aead.decrypt(nonce, body, purpose)
                except InvalidTag:
                    break
        raise ValueError("sealed data cannot be opened with the configured keys")

    def seal_credentials(self, request_id: str, credentials: Credentials) -> bytes:
        payload = json.dumps({"c": credentials.code, "l": credentials.link_token}).encode()
        return self.seal(payload, b"credentials:" + request_id.encode())

    def open_credentials(self, request_id: str, sealed: bytes) -> Credentials:
        data = json.loads(self.open(sealed, b"credentials:" + request_id.encode()))
        return Credentials(code=data["c"], link_token=data["l"])
