"""Logging rules: our own events only, never a message text, name, phone number or token."""

from __future__ import annotations

import logging

# Libraries whose debug/info output can contain SQL parameters (message text) or
# URLs with tokens. They log warnings and errors only, whatever the root level.
# python-telegram-bot logs every Bot API call with its parameters (chat ids, texts) at
# DEBUG; twilio logs request bodies (phone numbers, texts) at INFO.
QUIET_LIBRARIES = (
    "aiosqlite",
    "sqlalchemy.engine",
    "httpx",
    "httpcore",
    "alembic",
    "asyncio",
    "telegram",
    "twilio",
    "aiohttp",
    "apscheduler",
)


def quiet_libraries() -> None:
    """Raise the level of libraries that could log personal data or secrets."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
