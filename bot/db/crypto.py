"""Message and note bodies encrypted at rest with the Fernet keys in DATA_KEYS.

A stored body is `f1:` followed by a Fernet token (AES-128-CBC + HMAC-SHA256). The
first key of DATA_KEYS encrypts; every key decrypts, so a key can be rotated: put the
new key first, deploy, run `python -m bot rotate-keys`, then drop the old key.

What a read gives back:

- `f1:` + a token one of the keys opens: the clear text.
- no `f1:` prefix: legacy plaintext written before migration 0007 (or by a replica
  still running older code); returned as it is. `rotate-keys` encrypts such rows.
- `f1:` + a token no key opens (its key was removed, or the value was tampered
  with): the fixed text `UNREADABLE`, never an exception, so the console still
  shows the rest of the conversation. A warning names the kind, never the value.

Call `configure(settings.data_keys)` once at start-up (app, CLI, migrations). If it
was not called, the first use reads DATA_KEYS through `load_settings()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, TypeDecorator, column, select, table, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

PREFIX = "f1:"
UNREADABLE = "[unreadable: key missing]"
# Tables and columns whose bodies are sealed (rotate-keys and migration 0007 walk them).
SEALED_COLUMNS: tuple[tuple[str, str], ...] = (("messages", "text"), ("notes", "text"))


class Keyring:
    """The keys of DATA_KEYS: the first seals, all open."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("DATA_KEYS holds no key")
        fernets = [Fernet(key.encode("ascii")) for key in keys]
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)

    def seal(self, text: str) -> str:
        """The text encrypted under the newest key, with the version prefix."""
        return PREFIX + self._all.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str | None:
        """The clear text of a sealed value, or None when no key opens it."""
        try:
            return self._all.decrypt(stored.removeprefix(PREFIX).encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            return None

    def under_newest(self, stored: str) -> bool:
        """Whether a sealed value is already encrypted under the newest key."""
        try:
            self._newest.decrypt(stored.removeprefix(PREFIX).encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True


_lock = threading.Lock()
_keyring: Keyring | None = None
_seen: dict[str, int] = {"legacy": 0, "unreadable": 0}


def configure(keys: Sequence[str]) -> Keyring:
    """Use these keys (newest first) for every sealed column from now on."""
    global _keyring
    keyring = Keyring(keys)
    with _lock:
        _keyring = keyring
    return keyring


def keyring() -> Keyring:
    """The configured keyring; configured from load_settings() when nobody did."""
    current = _keyring
    if current is not None:
        return current
    from bot.settings import load_settings

    return configure(load_settings().data_keys)


def is_sealed(stored: str) -> bool:
    """Whether a stored value carries the ciphertext prefix."""
    return stored.startswith(PREFIX)


def _note(kind: str) -> None:
    """Log the first, then every 1000th, legacy or unreadable body read (kind only)."""
    with _lock:
        _seen[kind] += 1
        count = _seen[kind]
    if count == 1 or count % 1000 == 0:
        if kind == "unreadable":
            log.warning(
                "message body unreadable: no key in DATA_KEYS opens it (%d so far)",
                count,
                extra={"kind": kind},
            )
        else:
            log.info(
                "legacy plaintext body read (%d so far); run python -m bot rotate-keys",
                count,
                extra={"kind": kind},
            )


def reveal(stored: str) -> str:
    """The clear text of a stored body: decrypted, legacy as is, or UNREADABLE."""
    if not is_sealed(stored):
        _note("legacy")
        return stored
    opened = keyring().open(stored)
    if opened is None:
        _note("unreadable")
        return UNREADABLE
    return opened


class SealedText(TypeDecorator[str]):
    """A text column stored encrypted (see the module docstring for what reads return)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt before storing (always, even a text that happens to start with f1:)."""
        if value is None:
            return None
        return keyring().seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt on read."""
        if value is None:
            return None
        return reveal(str(value))


@dataclass
class RotateResult:
    """What rotate-keys did, per table: re-encrypted, already current, unreadable."""

    resealed: dict[str, int]
    current: dict[str, int]
    unreadable: dict[str, int]


def reseal(ring: Keyring, stored: str) -> tuple[str, str | None]:
    """("resealed", new value), ("current", None) or ("unreadable", None) for a stored body."""
    if not is_sealed(stored):
        return "resealed", ring.seal(stored)
    if ring.under_newest(stored):
        return "current", None
    opened = ring.open(stored)
    return ("unreadable", None) if opened is None else ("resealed", ring.seal(opened))


async def rotate(engine: AsyncEngine, batch_size: int = 500) -> RotateResult:
    """Re-encrypt every sealed body (and legacy plaintext) under the newest key.

    Batched by id with a commit per batch, so an interrupted run resumes where it
    stopped when started again; rows already under the newest key are skipped
    (idempotent). A row changed meanwhile (compare-and-set on the old value) is
    left for the next run. Rows no key opens are counted and left untouched.
    """
    ring = keyring()
    result = RotateResult({}, {}, {})
    for table_name, column_name in SEALED_COLUMNS:
        rows_table = table(table_name, column("id"), column(column_name))
        body = rows_table.c[column_name]
        counts = {"resealed": 0, "current": 0, "unreadable": 0}
        last_id = 0
        while True:
            async with engine.connect() as conn:
                batch = (
                    await conn.execute(
                        select(rows_table.c.id, body)
                        .where(rows_table.c.id > last_id, body.is_not(None))
                        .order_by(rows_table.c.id)
                        .limit(batch_size)
                    )
                ).all()
                if not batch:
                    break
                for row_id, stored in batch:
                    kind, fresh = reseal(ring, str(stored))
                    if fresh is not None:
                        await conn.execute(
                            update(rows_table)
                            .where(rows_table.c.id == row_id, body == stored)
                            .values({column_name: fresh})
                        )
                    counts[kind] += 1
                await conn.commit()
                last_id = int(batch[-1][0])
        result.resealed[table_name] = counts["resealed"]
        result.current[table_name] = counts["current"]
        result.unreadable[table_name] = counts["unreadable"]
    return result
