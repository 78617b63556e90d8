"""Live queue across replicas: a change to any conversation sends NOTIFY rota_queue (PostgreSQL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite runs one process: its console pages re-read the queue every second
    op.execute(
        "CREATE OR REPLACE FUNCTION rota_queue_changed() RETURNS trigger AS $$ "
        "BEGIN PERFORM pg_notify('rota_queue', ''); RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER conversations_queue_changed "
        "AFTER INSERT OR UPDATE OR DELETE ON conversations "
        "FOR EACH STATEMENT EXECUTE FUNCTION rota_queue_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS conversations_queue_changed ON conversations")
    op.execute("DROP FUNCTION IF EXISTS rota_queue_changed()")
