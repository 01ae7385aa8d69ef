"""OpenID Connect: users, browser sessions, sign-in transactions, grants, codes, refresh tokens.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("is_public", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("email_verified", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_login_at", sa.Double),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Double, nullable=False),
        sa.Column("amr", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "logins",
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
    )
    op.create_index("ix_logins_auth_request", "logins", ["auth_request_id"])
    op.create_table(
        "grants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double),
    )
    op.create_index("ix_grants_session", "grants", ["session_id"])
    op.create_table(
        "authorization_codes",
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
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("used_at", sa.Double),
    )
    op.create_index("ix_refresh_tokens_grant", "refresh_tokens", ["grant_id"])


def downgrade() -> None:
    for table in ("refresh_tokens", "authorization_codes", "grants", "logins", "sessions", "users"):
        op.drop_table(table)
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("is_public")
