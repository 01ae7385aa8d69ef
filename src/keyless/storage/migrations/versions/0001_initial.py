"""Initial schema: clients, auth requests, outbox, signing keys, dev mailbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("magiclink_uris", sa.Text, nullable=False),
        sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "auth_requests",
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
    )
    op.create_index("ix_auth_requests_email_key", "auth_requests", ["email_key"])
    op.create_index("ix_auth_requests_link_hash", "auth_requests", ["link_hash"])
    op.create_index("ix_auth_requests_expires_at", "auth_requests", ["expires_at"])
    op.create_table(
        "outbox",
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
    )
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_auth_request", "outbox", ["auth_request_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(10), nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("not_before", sa.Double, nullable=False),
        sa.Column("retire_at", sa.Double),
    )
    op.create_table(
        "dev_mailbox",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("auth_request_id", sa.String(100)),
    )
    op.create_index("ix_dev_mailbox_recipient", "dev_mailbox", ["recipient", "created_at"])


def downgrade() -> None:
    for table in ("dev_mailbox", "signing_keys", "outbox", "auth_requests", "clients"):
        op.drop_table(table)
