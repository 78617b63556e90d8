"""Which gateway replicas are alive: each writes a heartbeat every few seconds.

Work a replica holds (a message it is answering, outbox rows it is sending) names it.
When its heartbeat is older than DEAD_AFTER, it was killed or cut off, and any other
replica may take that work over at once instead of waiting for the claim or lease to
run out (20–30 s, long enough for the slowest legitimate answer or send).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, Select, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.db.models import Worker, utcnow
from bot.periodic import Periodic

BEAT_SECONDS = 2.0
DEAD_AFTER = dt.timedelta(seconds=6)


class Workers:
    """A replica's heartbeat, and the answer to "who is alive?" for claims and leases."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.id = uuid.uuid4().hex
        self._periodic = Periodic("heartbeat", BEAT_SECONDS, self.beat)

    async def beat(self) -> None:
        """Say this replica is alive now."""
        now = utcnow()
        async with self._sessions() as session:
            result = await session.execute(
                update(Worker).where(Worker.id == self.id).values(seen_at=now)
            )
            if getattr(result, "rowcount", 0) != 1:
                session.add(Worker(id=self.id, seen_at=now))
            try:
                await session.commit()
            except IntegrityError:  # written by a beat a moment ago
                await session.rollback()

    @staticmethod
    def alive(now: dt.datetime) -> Select[str]:
        """The ids of the replicas seen within DEAD_AFTER (for `holder.in_(...)`)."""
        return select(Worker.id).where(Worker.seen_at > now - DEAD_AFTER)

    def dead(
        self, holder: InstrumentedAttribute[str | None], now: dt.datetime
    ) -> ColumnElement[bool]:
        """Held by another replica that stopped beating (this one is alive, whatever its row)."""
        return and_(holder != self.id, holder.not_in(self.alive(now)))

    async def start(self) -> None:
        """Beat now, then every BEAT_SECONDS."""
        await self.beat()
        self._periodic.start()

    async def stop(self) -> None:
        """Stop beating (others take this replica's work over after DEAD_AFTER)."""
        await self._periodic.stop()
