"""Settings for tests: random keys, a private data directory, everything explicit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keyless.keymaterial import new_key
from keyless.settings import Settings


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "credential_hmac_keys": [new_key()],
        "encryption_keys": [new_key()],
        "access_log": False,
    }
    values.update(overrides)
    return Settings(**values)
