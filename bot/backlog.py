"""Answers what is left: spooled messages, work a stopped worker left, words kept for Rasa.

A message is stored before its webhook is acknowledged; if the process dies before the
answer is stored, the message keeps its claim time and no `handled_at`. Once the claim
is stale (CLAIM_TIMEOUT), this watcher answers it, on whichever replica looks first.

While the engine is down a person gets one "we are having trouble, here is how to get
help now" reply (with the help contacts) and their words are kept with
`awaiting_engine`. Every replica runs this watcher: when the engine answers again, each
waiting conversation is answered in the order its messages came (the core holds the
person's lock and takes each message with a conditional claim, so two replicas never
answer the same one).
"""

from __future__ import annotations

import asyncio
import logging

from bot import metrics
from bot.core import ConversationService
from bot.engine import RasaEngine
from bot.periodic import Periodic
from bot.spool import InboundSpool

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 2.0
PARALLEL_CONVERSATIONS = 4


class EngineBacklog:
    """Resumes unfinished answers, and answers messages kept while the engine was down."""

    def __init__(
        self,
        service: ConversationService,
        engine: RasaEngine,
        spool: InboundSpool | None = None,
        every: float = CHECK_EVERY_SECONDS,
    ) -> None:
        self._service = service
        self._spool = spool
        self._engine = engine
        self._every = every
        self._periodic = Periodic("engine backlog round", every, self.run_once)
        self._limit = asyncio.Semaphore(PARALLEL_CONVERSATIONS)

    async def run_once(self) -> int:
        """Replay the spool, resume what a stopped worker left, answer what waited for Rasa.

        Each step runs on its own: one failing (say, the database still away) does not
        keep the others from their work. The number of messages handled.
        """
        done = 0
        for what, step in (
            ("spool replay", self._replay),
            ("resuming", self._service.resume_stalled),
            ("engine backlog", self._engine_backlog),
        ):
            try:
                done += await step()
            except Exception as exc:
                log.error("%s failed: %s", what, type(exc).__name__)
        return done

    async def _replay(self) -> int:
        """Hand spooled messages to the core."""
        return await self._spool.replay(self._service.handle) if self._spool else 0

    async def _engine_backlog(self) -> int:
        """Answer messages kept while the engine was down, if it is up."""
        waiting = await self._service.engine_backlog()
        metrics.ENGINE_BACKLOG.set(len(waiting))
        if not waiting:
            return 0
        ready, _reason = await self._engine.ready()
        if not ready:
            return 0
        counts = await asyncio.gather(*(self._answer(c) for c in waiting))
        answered = sum(counts)
        if answered:
            log.info("answered %d messages kept while the engine was down", answered)
        return answered

    async def _answer(self, conversation_id: str) -> int:
        """One conversation's waiting messages, with bounded parallelism."""
        async with self._limit:
            return await self._service.answer_backlog(conversation_id)

    def start(self) -> None:
        """Check in the background until stopped."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop checking (what still waits is answered by the next start or another replica)."""
        await self._periodic.stop()
