"""Find unanswered messages fast: the watcher looks for them every few seconds on every replica.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNHANDLED = sa.text("direction = 'in' AND handled_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_messages_unhandled",
        "messages",
        ["id"],
        postgresql_where=UNHANDLED,
        sqlite_where=UNHANDLED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unhandled", table_name="messages")
