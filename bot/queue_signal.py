"""Wakes live console pages when the queue may have changed, on every replica.

On PostgreSQL, triggers on `conversations` and `messages` (migration 0009) send
`NOTIFY rota_queue` whoever wrote the row — any replica, a CLI, a purge — and every
replica LISTENs on one connection of its own. A page's stream re-reads the queue when
woken, and at least every FALLBACK_SECONDS anyway (the listener may be reconnecting).
On SQLite (one process) the pages simply re-read every POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "rota_queue"
POLL_SECONDS = 1.0
FALLBACK_SECONDS = 5.0
RECONNECT_SECONDS = 2.0


def listen_url(database_url: str) -> str | None:
    """The libpq URL to LISTEN on, or None for a database without notifications."""
    if database_url.startswith("postgresql+psycopg://"):
        return "postgresql://" + database_url.removeprefix("postgresql+psycopg://")
    return None


class QueueSignal:
    """One LISTEN connection per replica; streams wait on it instead of sleeping."""

    def __init__(self, database_url: str) -> None:
        self._url = listen_url(database_url)
        self._event = asyncio.Event()
        self._generation = 0
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def wait_seconds(self) -> float:
        """How long a stream waits at most before reading the queue again."""
        return FALLBACK_SECONDS if self._listening else POLL_SECONDS

    @property
    def generation(self) -> int:
        """A counter of changes heard; read it before reading the queue, pass it to wait."""
        return self._generation

    async def wait(self, since: int) -> bool:
        """Wait for a change after generation `since`, or the timeout; True when changed.

        A change heard while the caller was still reading or sending counts at once, so
        no notification can fall between a read and the wait that follows it.
        """
        if self._generation != since:
            return True
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout=self.wait_seconds)
        except TimeoutError:
            return False
        return True

    def _fire(self) -> None:
        """Wake every waiting stream (each waits on the event it found)."""
        self._generation += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    def start(self) -> None:
        """Listen in the background (nothing to do without PostgreSQL)."""
        if self._url is not None:
            self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._listening = False

    async def _listen_forever(self) -> None:
        """LISTEN, wake streams on each notification; reconnect after a failure."""
        assert self._url is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    self._fire()  # changes missed while away: read once now
                    async for _notification in connection.notifies():
                        self._fire()
            except psycopg.Error as exc:
                log.warning("queue listener reconnecting: %s", type(exc).__name__)
            self._listening = False
            await asyncio.sleep(RECONNECT_SECONDS)
