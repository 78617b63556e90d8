"""Logging rules: our own events only, never a message text, name, phone number or token."""

from __future__ import annotations

import logging

# Libraries whose debug/info output can contain SQL parameters (message text) or
# URLs with tokens. They log warnings and errors only, whatever the root level.
QUIET_LIBRARIES = ("aiosqlite", "sqlalchemy.engine", "httpx", "httpcore", "alembic", "asyncio")


def quiet_libraries() -> None:
    """Raise the level of libraries that could log personal data or secrets."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
