"""Message and note bodies encrypted at rest (bot/db/crypto.py): existing rows are sealed.

The keys come from the keyring the caller configured (the app, `python -m bot migrate`),
else from DATA_KEYS through load_settings(). Rows are walked in id batches; a value
that already carries the `f1:` prefix and opens is left alone, so a rerun is harmless.
The column types stay TEXT: only the values change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from bot.db import crypto

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 500


def _walk(table_name: str, column_name: str, change) -> None:  # type: ignore[no-untyped-def]
    """Apply `change` (stored value -> new value or None) to every non-null body, by id."""
    bind = op.get_bind()
    rows = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column_name, sa.Text))
    body = rows.c[column_name]
    last_id = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, body)
            .where(rows.c.id > last_id, body.is_not(None))
            .order_by(rows.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        for row_id, stored in batch:
            fresh = change(stored)
            if fresh is not None:
                bind.execute(
                    sa.update(rows).where(rows.c.id == row_id).values({column_name: fresh})
                )
        last_id = batch[-1][0]


def upgrade() -> None:
    ring = crypto.keyring()

    def seal(stored: str) -> str | None:
        if crypto.is_sealed(stored) and ring.open(stored) is not None:
            return None
        return ring.seal(stored)

    for table_name, column_name in crypto.SEALED_COLUMNS:
        _walk(table_name, column_name, seal)


def downgrade() -> None:
    ring = crypto.keyring()

    def unseal(stored: str) -> str | None:
        return ring.open(stored) if crypto.is_sealed(stored) else None

    for table_name, column_name in crypto.SEALED_COLUMNS:
        _walk(table_name, column_name, unseal)
