"""Engine and session factory for the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (for Alembic)."""
    return url.replace("sqlite+aiosqlite://", "sqlite://")


def _enable_sqlite_foreign_keys(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    """SQLite enforces foreign keys (and so cascading deletes) only when asked."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    """Create the async engine; SQL parameters (message text) never appear in its errors."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, hide_parameters=True)
        sync_engine: Engine = engine.sync_engine
        event.listen(sync_engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory whose objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
