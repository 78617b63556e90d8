"""Alembic environment: runs migrations synchronously against sqlalchemy.url."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations with a real connection."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from bot.db.session import sync_url
        from bot.settings import load_settings

        url = sync_url(load_settings().database_url)
    # hide_parameters: a failing data migration (0007 seals message bodies) must not
    # print the rows it was writing.
    connectable = engine_from_config(
        {"sqlalchemy.url": url},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
        hide_parameters=True,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
