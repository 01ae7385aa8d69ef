"""Security events the core reports (verification outcomes, limit hits). Never carries secrets."""

from __future__ import annotations

import hashlib
from typing import Protocol


class EventSink(Protocol):
    def emit(self, event: str, **fields: object) -> None: ...


def email_fingerprint(email_key: str) -> str:
    """A stable, non-reversible handle for an address in logs."""
    return hashlib.sha256(email_key.encode()).hexdigest()[:16]


class NullEvents:
    def emit(self, event: str, **fields: object) -> None:
        return None
