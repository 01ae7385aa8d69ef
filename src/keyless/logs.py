"""Logging set-up and the logging adapter for security events."""

from __future__ import annotations

import logging

_audit = logging.getLogger("keyless.audit")


class LoggingEvents:
    """Security events as ``event key=value …`` lines. Callers pass no secrets; values are ids,
    fingerprints, IPs and outcomes."""

    def emit(self, event: str, **fields: object) -> None:
        if _audit.isEnabledFor(logging.INFO):
            _audit.info("%s %s", event, " ".join(f"{k}={v}" for k, v in fields.items() if v is not None))


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces every plugin it loads; keep only the migrations it runs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
