"""Stores for the OpenID Connect side: users, sessions, hosted sign-ins, grants, codes, refresh tokens."""

from __future__ import annotations

from dataclasses import astuple, fields
from typing import Any, TypeVar

from keyless.core.models import AuthorizationCode, Grant, Login, RefreshToken, Session, User
from keyless.core.ports import CodeContext
from keyless.storage.database import Database, Row, Stmt

T = TypeVar("T")

_BOOLEAN_FIELDS = {"email_verified", "include_auth_time"}


def _columns(cls: type[Any]) -> list[str]:
    return [f.name for f in fields(cls)]


def _insert(table: str, cls: type[Any]) -> str:
    names = _columns(cls)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"


def _params(record: Any) -> dict[str, Any]:
    values = dict(zip(_columns(type(record)), astuple(record), strict=True))
    return {k: int(v) if k in _BOOLEAN_FIELDS else v for k, v in values.items()}


def _load(cls: type[T], row: Row | None) -> T | None:
    if row is None:
        return None
    values = {name: row[name] for name in _columns(cls)}
    for name in _BOOLEAN_FIELDS & values.keys():
        values[name] = bool(values[name])
    return cls(**values)


def _select(table: str, cls: type[Any]) -> str:
    return f"SELECT {', '.join(_columns(cls))} FROM {table}"


class SqlUserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: str) -> User | None:
        return _load(User, await self._db.fetch_one(_select("users", User) + " WHERE id = :id", {"id": user_id}))

    async def get_by_email_key(self, email_key: str) -> User | None:
        row = await self._db.fetch_one(_select("users", User) + " WHERE email_key = :k", {"k": email_key})
        return _load(User, row)

    async def record_login(self, candidate: User, now: float) -> User:
        # Insert-if-absent then touch, in one transaction; two first sign-ins at once make one user.
        insert = {
            "sqlite": _insert("users", User).replace("INSERT INTO", "INSERT OR IGNORE INTO"),
            "postgresql": _insert("users", User) + " ON CONFLICT (email_key) DO NOTHING",
        }
        result = await self._db.transaction(
            [
                Stmt(insert, _params(candidate)),
                Stmt(
                    "UPDATE users SET last_login_at = :now, email_verified = 1 WHERE email_key = :k "
                    "RETURNING " + ", ".join(_columns(User)),
                    {"now": now, "k": candidate.email_key},
                    require_rows=True,
                ),
            ]
        )
        assert result is not None
        user = _load(User, result[1][0])
        assert user is not None
        return user

    async def list(self, limit: int, offset: int = 0) -> list[User]:
        rows = await self._db.fetch_all(
            _select("users", User) + " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
            {"limit": limit, "offset": offset},
        )
        return [u for u in (_load(User, r) for r in rows) if u is not None]

    async def count(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM users")
        return int(row["n"]) if row else 0

    async def delete(self, user_id: str, now: float) -> bool:
        """Remove the user: their keyless sessions end and every grant made in them is revoked, in one
        transaction, so no refresh token outlives the account. False if no such user."""
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE sessions SET ended_at = :now WHERE user_id = :id AND ended_at IS NULL",
                    {"id": user_id, "now": now},
                ),
                Stmt(
                    "UPDATE grants SET revoked_at = :now WHERE user_id = :id AND revoked_at IS NULL",
                    {"id": user_id, "now": now},
                ),
                Stmt("DELETE FROM users WHERE id = :id", {"id": user_id}, require_rows=True),
            ]
        )
        return result is not None


class SqlSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, session: Session) -> None:
        await self._db.transaction([Stmt(_insert("sessions", Session), _params(session))])

    async def get_by_secret_hash(self, secret_hash: str) -> Session | None:
        row = await self._db.fetch_one(_select("sessions", Session) + " WHERE secret_hash = :h", {"h": secret_hash})
        return _load(Session, row)

    async def get(self, session_id: str) -> Session | None:
        row = await self._db.fetch_one(_select("sessions", Session) + " WHERE id = :id", {"id": session_id})
        return _load(Session, row)

    async def end(self, session_id: str, now: float) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE sessions SET ended_at = :now WHERE id = :id AND ended_at IS NULL",
                    {"id": session_id, "now": now},
                ),
                Stmt(
                    "UPDATE grants SET revoked_at = :now WHERE session_id = :id AND revoked_at IS NULL",
                    {"id": session_id, "now": now},
                ),
            ]
        )


class SqlLoginStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, login: Login) -> None:
        await self._db.transaction([Stmt(_insert("logins", Login), _params(login))])

    async def get(self, login_id: str) -> Login | None:
        return _load(Login, await self._db.fetch_one(_select("logins", Login) + " WHERE id = :id", {"id": login_id}))

    async def get_by_auth_request(self, auth_request_id: str) -> Login | None:
        row = await self._db.fetch_one(_select("logins", Login) + " WHERE auth_request_id = :a", {"a": auth_request_id})
        return _load(Login, row)

    async def attach(self, login_id: str, auth_request_id: str, email: str, now: float) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE logins SET auth_request_id = :a, email = :e, last_sent_at = :now "
                    "WHERE id = :id AND completed_at IS NULL",
                    {"id": login_id, "a": auth_request_id, "e": email, "now": now},
                )
            ]
        )

    async def complete(self, login_id: str, now: float) -> bool:
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE logins SET completed_at = :now WHERE id = :id AND completed_at IS NULL",
                    {"id": login_id, "now": now},
                    require_rows=True,
                )
            ]
        )
        return result is not None


def _aliased(alias: str, cls: type[Any]) -> str:
    return ", ".join(f"{alias}.{name} AS {alias}__{name}" for name in _columns(cls))


def _unalias(row: Row, alias: str) -> Row:
    prefix = alias + "__"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


_CODE_CONTEXT = (
    f"SELECT {_aliased('c', AuthorizationCode)}, {_aliased('g', Grant)}, {_aliased('u', User)}, "
    f"{_aliased('s', Session)} FROM authorization_codes c JOIN grants g ON g.id = c.grant_id "
    "JOIN users u ON u.id = g.user_id JOIN sessions s ON s.id = g.session_id WHERE c.code_hash = :h"
)


class SqlGrantStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def code_context(self, code_hash: str) -> CodeContext | None:
        row = await self._db.fetch_one(_CODE_CONTEXT, {"h": code_hash})
        if row is None:
            return None
        code = _load(AuthorizationCode, _unalias(row, "c"))
        grant = _load(Grant, _unalias(row, "g"))
        user = _load(User, _unalias(row, "u"))
        session = _load(Session, _unalias(row, "s"))
        assert code and grant and user and session
        return CodeContext(code, grant, user, session)

    async def redeem_code(self, code_hash: str, now: float, refresh: RefreshToken) -> AuthorizationCode | None:
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE authorization_codes SET consumed_at = :now WHERE code_hash = :h "
                    "AND consumed_at IS NULL AND expires_at > :now AND EXISTS (SELECT 1 FROM grants g "
                    "WHERE g.id = authorization_codes.grant_id AND g.revoked_at IS NULL) RETURNING "
                    + ", ".join(_columns(AuthorizationCode)),
                    {"h": code_hash, "now": now},
                    require_rows=True,
                ),
                Stmt(_insert("refresh_tokens", RefreshToken), _params(refresh)),
            ]
        )
        return _load(AuthorizationCode, result[0][0]) if result else None

    async def create(self, grant: Grant, code: AuthorizationCode) -> None:
        await self._db.transaction(
            [
                Stmt(_insert("grants", Grant), _params(grant)),
                Stmt(_insert("authorization_codes", AuthorizationCode), _params(code)),
            ]
        )

    async def get(self, grant_id: str) -> Grant | None:
        return _load(Grant, await self._db.fetch_one(_select("grants", Grant) + " WHERE id = :id", {"id": grant_id}))

    async def get_code(self, code_hash: str) -> AuthorizationCode | None:
        row = await self._db.fetch_one(
            _select("authorization_codes", AuthorizationCode) + " WHERE code_hash = :h", {"h": code_hash}
        )
        return _load(AuthorizationCode, row)

    async def revoke(self, grant_id: str, now: float) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE grants SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
                    {"id": grant_id, "now": now},
                )
            ]
        )

    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._db.transaction([Stmt(_insert("refresh_tokens", RefreshToken), _params(token))])

    async def rotate_refresh_token(self, token_hash: str, now: float, successor: RefreshToken) -> RefreshToken | None:
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE refresh_tokens SET used_at = :now WHERE token_hash = :h AND used_at IS NULL "
                    # Correlated on the grant's primary key: an IN (SELECT ...) over all grants
                    # made each refresh cost grow with the table.
                    "AND expires_at > :now AND EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id "
                    "AND g.revoked_at IS NULL AND g.expires_at > :now) "
                    "RETURNING " + ", ".join(_columns(RefreshToken)),
                    {"h": token_hash, "now": now},
                    require_rows=True,
                ),
                Stmt(_insert("refresh_tokens", RefreshToken), _params(successor)),
            ]
        )
        return _load(RefreshToken, result[0][0]) if result else None

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = await self._db.fetch_one(
            _select("refresh_tokens", RefreshToken) + " WHERE token_hash = :h", {"h": token_hash}
        )
        return _load(RefreshToken, row)
