"""The stores, written once in SQL over the Database contract; the same code serves both databases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
from keyless.storage.database import Database, Row, Stmt

# --- auth requests ---------------------------------------------------------------------------------

_AR_COLUMNS = (
    "id, client_id, email, email_key, passwordless_type, template, state, magiclink_auth_uri, "
    "template_variables, lifetime, created_at, expires_at, credential_version, code_hash, link_hash, "
    "sealed_credentials, attempts, consumed_at, closed_at"
)
_AR_INSERT = (
    f"INSERT INTO auth_requests ({_AR_COLUMNS}) VALUES (:id, :client_id, :email, :email_key, "
    ":passwordless_type, :template, :state, :magiclink_auth_uri, :template_variables, :lifetime, "
    ":created_at, :expires_at, :credential_version, :code_hash, :link_hash, :sealed_credentials, "
    ":attempts, :consumed_at, :closed_at)"
)
_OUTBOX_COLUMNS = (
    "id, auth_request_id, credential_version, recipient, status, attempts, next_attempt_at, "
    "lease_until, expires_at, created_at, sent_at, last_error"
)
_OUTBOX_INSERT = (
    f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (:id, :auth_request_id, :credential_version, "
    ":recipient, :status, :attempts, :next_attempt_at, :lease_until, :expires_at, :created_at, "
    ":sent_at, :last_error)"
)


def _request_params(r: AuthRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "client_id": r.client_id,
        "email": r.email,
        "email_key": r.email_key,
        "passwordless_type": r.passwordless_type.value,
        "template": r.template.value if r.template else None,
        "state": r.state,
        "magiclink_auth_uri": r.magiclink_auth_uri,
        "template_variables": json.dumps(r.template_variables),
        "lifetime": r.lifetime,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "credential_version": r.credential_version,
        "code_hash": r.code_hash,
        "link_hash": r.link_hash,
        "sealed_credentials": r.sealed_credentials,
        "attempts": r.attempts,
        "consumed_at": r.consumed_at,
        "closed_at": r.closed_at,
    }


def _request_from_row(row: Row) -> AuthRequest:
    return AuthRequest(
        id=row["id"],
        client_id=row["client_id"],
        email=row["email"],
        email_key=row["email_key"],
        passwordless_type=PasswordlessType(row["passwordless_type"]),
        template=TemplateType(row["template"]) if row["template"] else None,
        state=row["state"],
        magiclink_auth_uri=row["magiclink_auth_uri"],
        template_variables=json.loads(row["template_variables"]),
        lifetime=row["lifetime"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        credential_version=row["credential_version"],
        code_hash=_bytes(row["code_hash"]),
        link_hash=_bytes(row["link_hash"]),
        sealed_credentials=bytes(row["sealed_credentials"]),
        attempts=row["attempts"],
        consumed_at=row["consumed_at"],
        closed_at=row["closed_at"],
    )


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _message_params(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "auth_request_id": m.auth_request_id,
        "credential_version": m.credential_version,
        "recipient": m.recipient,
        "status": m.status.value,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "lease_until": m.lease_until,
        "expires_at": m.expires_at,
        "created_at": m.created_at,
        "sent_at": m.sent_at,
        "last_error": m.last_error,
    }


def _message_from_row(row: Row) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        auth_request_id=row["auth_request_id"],
        credential_version=row["credential_version"],
        recipient=row["recipient"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )


class SqlAuthRequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, request: AuthRequest, message: OutboxMessage) -> None:
        await self._db.transaction(
            [Stmt(_AR_INSERT, _request_params(request)), Stmt(_OUTBOX_INSERT, _message_params(message))]
        )

    async def get(self, request_id: str) -> AuthRequest | None:
        row = await self._db.fetch_one(f"SELECT {_AR_COLUMNS} FROM auth_requests WHERE id = :id", {"id": request_id})
        return _request_from_row(row) if row else None

    async def find_by_link_hash(self, link_hashes: Sequence[bytes]) -> AuthRequest | None:
        for link_hash in link_hashes:
            row = await self._db.fetch_one(
                f"SELECT {_AR_COLUMNS} FROM auth_requests WHERE link_hash = :h", {"h": link_hash}
            )
            if row:
                return _request_from_row(row)
        return None

    async def register_attempt(self, request_id: str, max_attempts: int) -> AuthRequest | None:
        result = await self._db.transaction(
            [
                Stmt(
                    f"UPDATE auth_requests SET attempts = attempts + 1 WHERE id = :id AND attempts < :max "
                    f"RETURNING {_AR_COLUMNS}",
                    {"id": request_id, "max": max_attempts},
                    require_rows=True,
                )
            ]
        )
        return _request_from_row(result[0][0]) if result else None

    async def consume(self, request_id: str, credential_version: int, now: float) -> AuthRequest | None:
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE auth_requests SET consumed_at = :now WHERE id = :id AND consumed_at IS NULL "
                    "AND closed_at IS NULL AND credential_version = :version AND expires_at > :now "
                    f"RETURNING {_AR_COLUMNS}",
                    {"id": request_id, "version": credential_version, "now": now},
                    require_rows=True,
                ),
                # Success closes the address's other open requests.
                Stmt(
                    "UPDATE auth_requests SET closed_at = :now WHERE email_key = "
                    "(SELECT email_key FROM auth_requests WHERE id = :id) AND id <> :id "
                    "AND consumed_at IS NULL AND closed_at IS NULL AND expires_at > :now",
                    {"id": request_id, "now": now},
                ),
            ]
        )
        return _request_from_row(result[0][0]) if result else None

    async def reissue(
        self,
        request_id: str,
        *,
        code_hash: bytes | None,
        link_hash: bytes | None,
        sealed_credentials: bytes,
        expires_at: float,
        message: OutboxMessage,
    ) -> AuthRequest | None:
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE auth_requests SET code_hash = :code_hash, link_hash = :link_hash, "
                    "sealed_credentials = :sealed, expires_at = :expires_at, "
                    "credential_version = credential_version + 1 "
                    "WHERE id = :id AND consumed_at IS NULL AND closed_at IS NULL "
                    "AND credential_version = :version - 1 "
                    f"RETURNING {_AR_COLUMNS}",
                    {
                        "id": request_id,
                        "code_hash": code_hash,
                        "link_hash": link_hash,
                        "sealed": sealed_credentials,
                        "expires_at": expires_at,
                        "version": message.credential_version,
                    },
                    require_rows=True,
                ),
                Stmt(
                    "UPDATE outbox SET status = 'superseded' WHERE auth_request_id = :id "
                    "AND status IN ('pending', 'sending') AND credential_version < :version",
                    {"id": request_id, "version": message.credential_version},
                ),
                Stmt(_OUTBOX_INSERT, _message_params(message)),
            ]
        )
        return _request_from_row(result[0][0]) if result else None


# --- outbox ----------------------------------------------------------------------------------------


_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = :now, lease_until = NULL, attempts = attempts + 1 WHERE id = :id"
)


class SqlOutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, message: OutboxMessage) -> None:
        await self._db.transaction([Stmt(_OUTBOX_INSERT, _message_params(message))])

    async def get(self, message_id: str) -> OutboxMessage | None:
        row = await self._db.fetch_one(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = :id", {"id": message_id})
        return _message_from_row(row) if row else None

    async def claim_due(self, now: float, lease_seconds: float, limit: int) -> list[OutboxMessage]:
        due = (
            "SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= :now) "
            "OR (status = 'sending' AND lease_until < :now) ORDER BY next_attempt_at LIMIT :limit"
        )
        sql = {
            "sqlite": f"UPDATE outbox SET status = 'sending', lease_until = :lease WHERE id IN ({due}) "
            f"RETURNING {_OUTBOX_COLUMNS}",
            # Several processes poll at once: each takes rows the others have not locked.
            "postgresql": f"UPDATE outbox SET status = 'sending', lease_until = :lease WHERE id IN "
            f"({due} FOR UPDATE SKIP LOCKED) RETURNING {_OUTBOX_COLUMNS}",
        }
        result = await self._db.transaction([Stmt(sql, {"now": now, "lease": now + lease_seconds, "limit": limit})])
        return [_message_from_row(row) for row in (result[0] if result else [])]

    async def mark_sent(self, message_id: str, now: float) -> None:
        await self._db.transaction([Stmt(_MARK_SENT, {"id": message_id, "now": now})])

    async def mark_retry(self, message_id: str, next_attempt_at: float, error: str) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE outbox SET status = 'pending', attempts = attempts + 1, next_attempt_at = :next, "
                    "lease_until = NULL, last_error = :error WHERE id = :id AND status = 'sending'",
                    {"id": message_id, "next": next_attempt_at, "error": error[:500]},
                )
            ]
        )

    async def mark_final(self, message_id: str, status: str, now: float, error: str | None) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE outbox SET status = :status, lease_until = NULL, last_error = :error "
                    "WHERE id = :id AND status IN ('pending', 'sending')",
                    {"id": message_id, "status": status, "error": (error or "")[:500] or None},
                )
            ]
        )


# --- clients ---------------------------------------------------------------------------------------

_CLIENT_COLUMNS = (
    "id, name, secret_hash, redirect_uris, magiclink_uris, post_logout_redirect_uris, scopes, created_at, is_public"
)


def _client_from_row(row: Row) -> Client:
    return Client(
        id=row["id"],
        name=row["name"],
        secret_hash=bytes(row["secret_hash"]),
        redirect_uris=tuple(json.loads(row["redirect_uris"])),
        magiclink_uris=tuple(json.loads(row["magiclink_uris"])),
        post_logout_redirect_uris=tuple(json.loads(row["post_logout_redirect_uris"])),
        scopes=tuple(json.loads(row["scopes"])),
        created_at=row["created_at"],
        is_public=bool(row["is_public"]),
    )


class SqlClientStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, client_id: str) -> Client | None:
        row = await self._db.fetch_one(f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE id = :id", {"id": client_id})
        return _client_from_row(row) if row else None

    async def create(self, client: Client) -> None:
        await self._db.transaction(
            [
                Stmt(
                    f"INSERT INTO clients ({_CLIENT_COLUMNS}) VALUES (:id, :name, :secret_hash, "
                    ":redirect_uris, :magiclink_uris, :post_logout_redirect_uris, :scopes, :created_at, :is_public)",
                    {
                        "id": client.id,
                        "name": client.name,
                        "secret_hash": client.secret_hash,
                        "redirect_uris": json.dumps(list(client.redirect_uris)),
                        "magiclink_uris": json.dumps(list(client.magiclink_uris)),
                        "post_logout_redirect_uris": json.dumps(list(client.post_logout_redirect_uris)),
                        "scopes": json.dumps(list(client.scopes)),
                        "created_at": client.created_at,
                        "is_public": int(client.is_public),
                    },
                )
            ]
        )

    async def list(self) -> list[Client]:
        rows = await self._db.fetch_all(f"SELECT {_CLIENT_COLUMNS} FROM clients ORDER BY created_at, id")
        return [_client_from_row(r) for r in rows]

    async def count(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM clients")
        return int(row["n"]) if row else 0

    async def update_secret(self, client_id: str, secret_hash: bytes) -> bool:
        """Replace the secret's hash; the old secret stops working at once. False if no such client."""
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE clients SET secret_hash = :h WHERE id = :id",
                    {"id": client_id, "h": secret_hash},
                    require_rows=True,
                )
            ]
        )
        return result is not None

    async def delete(self, client_id: str, now: float) -> bool:
        """Remove the client and revoke every grant made to it, in one transaction. Its API tokens die
        with it (the API checks the client still exists). False if no such client."""
        result = await self._db.transaction(
            [
                Stmt(
                    "UPDATE grants SET revoked_at = :now WHERE client_id = :id AND revoked_at IS NULL",
                    {"id": client_id, "now": now},
                ),
                Stmt("DELETE FROM clients WHERE id = :id", {"id": client_id}, require_rows=True),
            ]
        )
        return result is not None


# --- signing keys ----------------------------------------------------------------------------------

_KEY_COLUMNS = "kid, algorithm, public_jwk, sealed_private_key, created_at, not_before, retire_at"


class SqlSigningKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, key: SigningKey) -> None:
        await self._db.transaction(
            [
                Stmt(
                    f"INSERT INTO signing_keys ({_KEY_COLUMNS}) VALUES (:kid, :algorithm, :public_jwk, "
                    ":sealed_private_key, :created_at, :not_before, :retire_at)",
                    {
                        "kid": key.kid,
                        "algorithm": key.algorithm,
                        "public_jwk": json.dumps(key.public_jwk),
                        "sealed_private_key": key.sealed_private_key,
                        "created_at": key.created_at,
                        "not_before": key.not_before,
                        "retire_at": key.retire_at,
                    },
                )
            ]
        )

    async def reseal(self, kid: str, sealed_private_key: bytes) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE signing_keys SET sealed_private_key = :sealed WHERE kid = :kid",
                    {"kid": kid, "sealed": sealed_private_key},
                )
            ]
        )

    async def retire(self, kid: str, retire_at: float) -> None:
        await self._db.transaction(
            [
                Stmt(
                    "UPDATE signing_keys SET retire_at = :at WHERE kid = :kid "
                    "AND (retire_at IS NULL OR retire_at > :at)",
                    {"kid": kid, "at": retire_at},
                )
            ]
        )

    async def list(self) -> list[SigningKey]:
        rows = await self._db.fetch_all(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid")
        return [
            SigningKey(
                kid=r["kid"],
                algorithm=r["algorithm"],
                public_jwk=json.loads(r["public_jwk"]),
                sealed_private_key=bytes(r["sealed_private_key"]),
                created_at=r["created_at"],
                not_before=r["not_before"],
                retire_at=r["retire_at"],
            )
            for r in rows
        ]


# --- dev mailbox -----------------------------------------------------------------------------------


class SqlDevMailboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, message: DevMailboxMessage, *, delivers: str | None = None, now: float = 0.0) -> None:
        statements = [
            Stmt(
                "INSERT INTO dev_mailbox (id, recipient, subject, text_body, html_body, created_at, "
                "auth_request_id) VALUES (:id, :recipient, :subject, :text, :html, :created_at, :arid)",
                {
                    "id": message.id,
                    "recipient": message.recipient,
                    "subject": message.subject,
                    "text": message.text,
                    "html": message.html,
                    "created_at": message.created_at,
                    "arid": message.auth_request_id,
                },
            )
        ]
        if delivers is not None:
            # Filing the mail and settling its outbox row together: one write per delivery.
            statements.append(Stmt(_MARK_SENT, {"id": delivers, "now": now}))
        await self._db.transaction(statements)

    async def list(self, recipient: str | None, limit: int) -> list[DevMailboxMessage]:
        base = "SELECT id, recipient, subject, text_body, html_body, created_at, auth_request_id FROM dev_mailbox"
        if recipient is not None:
            rows = await self._db.fetch_all(
                base + " WHERE recipient = :r ORDER BY created_at DESC, id DESC LIMIT :n",
                {"r": recipient, "n": limit},
            )
        else:
            rows = await self._db.fetch_all(base + " ORDER BY created_at DESC, id DESC LIMIT :n", {"n": limit})
        return [
            DevMailboxMessage(
                id=r["id"],
                recipient=r["recipient"],
                subject=r["subject"],
                text=r["text_body"],
                html=r["html_body"],
                created_at=r["created_at"],
                auth_request_id=r["auth_request_id"],
            )
            for r in rows
        ]
