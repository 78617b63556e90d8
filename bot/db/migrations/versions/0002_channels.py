"""Channels: encrypted addresses, provider ids for dedup and deletion, deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("address", sa.Text(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("media", sa.String(16), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(128), nullable=True))
        batch.add_column(sa.Column("provider_message_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_messages_dedup_key", ["dedup_key"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deliveries_message", "deliveries", ["message_id"])
    op.create_index("ix_deliveries_provider", "deliveries", ["channel", "provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_provider", "deliveries")
    op.drop_index("ix_deliveries_message", "deliveries")
    op.drop_table("deliveries")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_dedup_key", type_="unique")
        batch.drop_column("claimed_at")
        batch.drop_column("handled_at")
        batch.drop_column("provider_message_id")
        batch.drop_column("dedup_key")
        batch.drop_column("media")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("address")
