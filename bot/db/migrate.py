"""Run Alembic migrations from code (used by `make run`, the app's start-up and tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.db.session import sync_url
from bot.settings import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "db" / "migrations"))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database schema to the newest revision."""
    command.upgrade(alembic_config(url), "head")
