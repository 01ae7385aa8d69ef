"""Indexes for the background purge: each table is scanned by the end of its rows' life.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_outbox_expires_at", "outbox", "expires_at"),
    ("ix_dev_mailbox_created_at", "dev_mailbox", "created_at"),
    ("ix_sessions_expires_at", "sessions", "expires_at"),
    ("ix_logins_expires_at", "logins", "expires_at"),
    ("ix_grants_expires_at", "grants", "expires_at"),
    ("ix_authorization_codes_expires_at", "authorization_codes", "expires_at"),
    ("ix_refresh_tokens_expires_at", "refresh_tokens", "expires_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
