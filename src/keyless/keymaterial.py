"""Server secrets: decoding configured keys, and generating them for dev mode.

In dev mode, missing HMAC and encryption keys are generated once and kept in
``<data_dir>/dev-secrets.json`` (mode 0600) so a restart keeps working. Production refuses to start
without configured keys (see settings).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from keyless.errors import ConfigurationError
from keyless.settings import Settings


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    hmac_keys: list[bytes]
    encryption_keys: list[bytes]
    generated: bool


def decode_key(value: str, *, name: str, exact: int | None = None, minimum: int = 32) -> bytes:
    text = value.strip()
    raw: bytes | None = None
    if len(text) in (64, 128) and all(c in "0123456789abcdefABCDEF" for c in text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or (exact is not None and len(raw) != exact) or len(raw) < minimum:
        need = f"exactly {exact}" if exact else f"at least {minimum}"
        raise ConfigurationError(f"{name}: each key must be {need} bytes, base64url or hex encoded")
    return raw


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def load_key_material(settings: Settings) -> KeyMaterial:
    hmac_values = [k.get_secret_value() for k in settings.credential_hmac_keys]
    enc_values = [k.get_secret_value() for k in settings.encryption_keys]
    generated = False
    if (not hmac_values or not enc_values) and settings.is_dev:
        stored = _dev_secrets(settings.data_dir)
        hmac_values = hmac_values or stored["credential_hmac_keys"]
        enc_values = enc_values or stored["encryption_keys"]
        generated = True
    if not hmac_values or not enc_values:
        raise ConfigurationError("credential_hmac_keys and encryption_keys must be configured")
    return KeyMaterial(
        hmac_keys=[decode_key(v, name="credential_hmac_keys") for v in hmac_values],
        encryption_keys=[decode_key(v, name="encryption_keys", exact=32) for v in enc_values],
        generated=generated,
    )


def _dev_secrets(data_dir: Path) -> dict[str, list[str]]:
    path = data_dir / "dev-secrets.json"
    if path.is_file():
        data: dict[str, list[str]] = json.loads(path.read_text())
        return data
    data_dir.mkdir(parents=True, exist_ok=True)
    data = {"credential_hmac_keys": [new_key()], "encryption_keys": [new_key()]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    return data
