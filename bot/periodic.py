"""Background jobs that run every so often on every replica (each job is safe to run twice)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs a job now and then every `every` seconds until stopped; a failure waits a round."""

    def __init__(self, what: str, every: float, job: Callable[[], Awaitable[object]]) -> None:
        self._what = what
        self._every = every
        self._job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop (a round in progress is cancelled; the next start, or another replica, resumes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        """Run the job, sleep, repeat; a failed round is logged by kind only."""
        while True:
            try:
                await self._job()
            except Exception as exc:
                log.error("%s failed: %s", self._what, type(exc).__name__)
            await asyncio.sleep(self._every)
