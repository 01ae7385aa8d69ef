"""The schema, declared once with SQLAlchemy Core; Alembic migrations create it on both databases.

Timestamps are UTC seconds since the epoch (double precision); lists and maps are JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.LargeBinary, nullable=False),
    sa.Column("redirect_uris", sa.Text, nullable=False),
    sa.Column("magiclink_uris", sa.Text, nullable=False),
    sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("is_public", sa.Integer, nullable=False, server_default="0"),
)

auth_requests = sa.Table(
    "auth_requests",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False),
    sa.Column("passwordless_type", sa.String(10), nullable=False),
    sa.Column("template", sa.String(12)),
    sa.Column("state", sa.Text),
    sa.Column("magiclink_auth_uri", sa.Text),
    sa.Column("template_variables", sa.Text, nullable=False),
    sa.Column("lifetime", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("credential_version", sa.Integer, nullable=False),
    sa.Column("code_hash", sa.LargeBinary),
    sa.Column("link_hash", sa.LargeBinary),
    sa.Column("sealed_credentials", sa.LargeBinary, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("consumed_at", sa.Double),
    sa.Column("closed_at", sa.Double),
    sa.Index("ix_auth_requests_email_key", "email_key"),
    sa.Index("ix_auth_requests_link_hash", "link_hash"),
    sa.Index("ix_auth_requests_expires_at", "expires_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("auth_request_id", sa.String(100), nullable=False),
    sa.Column("credential_version", sa.Integer, nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Double, nullable=False),
    sa.Column("lease_until", sa.Double),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("sent_at", sa.Double),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_outbox_status_due", "status", "next_attempt_at"),
    sa.Index("ix_outbox_auth_request", "auth_request_id"),
    sa.Index("ix_outbox_expires_at", "expires_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(10), nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=False),
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("not_before", sa.Double, nullable=False),
    sa.Column("retire_at", sa.Double),
)

dev_mailbox = sa.Table(
    "dev_mailbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("auth_request_id", sa.String(100)),
    sa.Index("ix_dev_mailbox_recipient", "recipient", "created_at"),
    sa.Index("ix_dev_mailbox_created_at", "created_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    sa.Column("email_verified", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_login_at", sa.Double),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("auth_time", sa.Double, nullable=False),
    sa.Column("amr", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Index("ix_sessions_user", "user_id"),
    sa.Index("ix_sessions_expires_at", "expires_at"),
)

logins = sa.Table(
    "logins",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("state", sa.Text),
    sa.Column("nonce", sa.Text),
    sa.Column("code_challenge", sa.String(128)),
    sa.Column("max_age", sa.Integer),
    sa.Column("login_hint", sa.String(320)),
    sa.Column("browser_hash", sa.String(64), nullable=False),
    sa.Column("auth_request_id", sa.String(100)),
    sa.Column("email", sa.String(320)),
    sa.Column("last_sent_at", sa.Double),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("completed_at", sa.Double),
    sa.Index("ix_logins_auth_request", "auth_request_id"),
    sa.Index("ix_logins_expires_at", "expires_at"),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double),
    sa.Index("ix_grants_session", "session_id"),
    sa.Index("ix_grants_expires_at", "expires_at"),
)

authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("grant_id", sa.String(64), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("nonce", sa.Text),
    sa.Column("code_challenge", sa.String(128)),
    sa.Column("auth_time", sa.Double, nullable=False),
    sa.Column("amr", sa.String(32), nullable=False),
    sa.Column("include_auth_time", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("consumed_at", sa.Double),
    sa.Index("ix_authorization_codes_expires_at", "expires_at"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("grant_id", sa.String(64), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("used_at", sa.Double),
    sa.Index("ix_refresh_tokens_grant", "grant_id"),
    sa.Index("ix_refresh_tokens_expires_at", "expires_at"),
)
