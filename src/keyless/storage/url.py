"""Database URLs: ``sqlite:///relative/or/absolute.db`` or ``postgresql://user@host:port/db``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from keyless.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    dialect: str  # "sqlite" | "postgresql"
    path: str  # sqlite file path
    dsn: str  # postgresql DSN for asyncpg

    @property
    def sqlalchemy_url(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite+aiosqlite:///{self.path}"
        return "postgresql+asyncpg://" + self.dsn.split("://", 1)[1]


def parse_database_url(url: str) -> DatabaseUrl:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise ConfigurationError("database_url: give SQLite a file path, e.g. sqlite:///keyless-data/keyless.db")
        return DatabaseUrl("sqlite", path, "")
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        rest = url.split("://", 1)[1]
        if not urlsplit("postgresql://" + rest).hostname and "host=" not in rest:
            raise ConfigurationError("database_url: a PostgreSQL URL needs a host")
        return DatabaseUrl("postgresql", "", "postgresql://" + rest)
    raise ConfigurationError("database_url must start with sqlite:/// or postgresql://")
