"""Retention: people whose conversation went quiet for RETENTION_DAYS are deleted.

Last activity is the newest of the conversation's `updated_at`, its newest message and
its newest caseworker note. `updated_at` alone would miss activity that never touches
the conversation row (a caseworker reply, a note); the newest message alone would miss
a status change (a claim, a transfer). Taking the newest of all three never deletes a
conversation anyone touched within the window.

Deleting the person cascades in the database (foreign keys ON DELETE CASCADE, which
SQLite enforces because bot/db/session.py turns them on): conversation, messages,
deliveries, notes, tags and outbox rows. The audit log has no foreign key to them and
holds no message text (actions, ids, tag names): it is kept.

Rasa keeps its own copy of a conversation (the tracker store), so each conversation is
forgotten there first and its rows are deleted only once Rasa said yes. When Rasa is
down nothing is deleted for the rest of that run; the conversations are still old at
the next run, so nothing is lost track of and no extra table is needed.

A person's own erasure (bot/core.py) deletes their rows at once and asks Rasa to forget
right after; if Rasa cannot be reached then, the conversation id waits in
`pending_forget` (no other data) and every purge run asks Rasa again first.

Several replicas may purge at once: the DELETE re-checks that the conversation is still
quiet and deleting a row twice deletes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.db.models import (
    Base,
    Conversation,
    Delivery,
    Message,
    Note,
    OutboxItem,
    PendingForget,
    Person,
    Tag,
    utcnow,
)
from bot.periodic import Periodic

log = logging.getLogger(__name__)

BATCH = 200
DEFAULT_INTERVAL_SECONDS = 3600.0
# Child tables counted per conversation, in the order the CLI prints them.
CHILDREN: tuple[tuple[str, type[Base]], ...] = (
    ("messages", Message),
    ("deliveries", Delivery),
    ("notes", Note),
    ("tags", Tag),
    ("outbox", OutboxItem),
)


class Forgetter(Protocol):
    """What purge needs of the engine (bot/engine.py RasaEngine)."""

    async def forget(self, conversation_id: str) -> bool:
        """Erase the engine's copy of a conversation; False when it could not."""
        ...


@dataclass
class PurgeResult:
    """Rows deleted per table, and conversations left for the next run (engine down)."""

    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ["people", "conversations", *(name for name, _ in CHILDREN)], 0
        )
    )
    engine_pending: int = 0
    # Erased conversations Rasa still holds (it was down at erasure and is still down).
    erasures_pending: int = 0


async def forget_pending(
    sessions: async_sessionmaker[AsyncSession],
    engine: Forgetter,
    conversation_ids: list[str] | None = None,
) -> int:
    """Ask the engine to forget erased conversations (all pending, or these); how many remain.

    A row is deleted once the engine said yes; the first refusal stops the round (the
    engine is down: the next run retries).
    """
    async with sessions() as session:
        query = select(PendingForget.conversation_id).order_by(PendingForget.created_at)
        if conversation_ids is not None:
            query = query.where(PendingForget.conversation_id.in_(conversation_ids))
        pending = list(await session.scalars(query))
    for done, conversation_id in enumerate(pending):
        if not await engine.forget(conversation_id):
            return len(pending) - done
        async with sessions() as session:
            await session.execute(
                delete(PendingForget)
                .where(PendingForget.conversation_id == conversation_id)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
    return 0


def _stale_people(cutoff: dt.datetime) -> ColumnElement[bool]:
    """A person (correlated) whose conversation was quiet since the cutoff, or who has none."""
    conversation = aliased(Conversation)
    recent_message = exists().where(
        Message.conversation_id == conversation.id, Message.created_at >= cutoff
    )
    recent_note = exists().where(Note.conversation_id == conversation.id, Note.created_at >= cutoff)
    quiet_conversation = exists().where(
        conversation.person_id == Person.id,
        conversation.updated_at < cutoff,
        not_(recent_message),
        not_(recent_note),
    )
    any_conversation = aliased(Conversation)
    has_conversation = exists().where(any_conversation.person_id == Person.id)
    return or_(quiet_conversation, and_(not_(has_conversation), Person.created_at < cutoff))


async def _batch(
    sessions: async_sessionmaker[AsyncSession], cutoff: dt.datetime, after: str
) -> list[tuple[str, str | None]]:
    """The next stale people after a person id, with their conversation id (if any)."""
    async with sessions() as session:
        rows = await session.execute(
            select(Person.id, Conversation.id)
            .outerjoin(Conversation, Conversation.person_id == Person.id)
            .where(Person.id > after, _stale_people(cutoff))
            .order_by(Person.id)
            .limit(BATCH)
        )
        return [(str(person), None if conv is None else str(conv)) for person, conv in rows]


async def _count(session: AsyncSession, conversation_id: str | None) -> dict[str, int]:
    """Rows under a conversation, per child table (none without a conversation)."""
    counts: dict[str, int] = {}
    if conversation_id is None:
        return counts
    for name, model in CHILDREN:
        rows = model.__table__
        found = await session.scalar(
            select(func.count()).select_from(rows).where(rows.c.conversation_id == conversation_id)
        )
        counts[name] = int(found or 0)
    return counts


async def _delete(
    sessions: async_sessionmaker[AsyncSession],
    person_id: str,
    conversation_id: str | None,
    cutoff: dt.datetime,
) -> dict[str, int] | None:
    """Delete one person if still stale; the rows deleted, or None if someone else did."""
    async with sessions() as session:
        counts = await _count(session, conversation_id)
        result = await session.execute(
            delete(Person)
            .where(Person.id == person_id, _stale_people(cutoff))
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    if getattr(result, "rowcount", 0) != 1:
        return None  # another replica deleted it, or it became active again
    return {"people": 1, "conversations": 0 if conversation_id is None else 1, **counts}


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    engine: Forgetter,
    older_than: dt.datetime,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete everyone whose last activity is before `older_than`; forget them in Rasa first.

    With `dry_run`, count what would go and change nothing (Rasa is not asked).
    """
    result = PurgeResult()
    if not dry_run:
        result.erasures_pending = await forget_pending(sessions, engine)
        if result.erasures_pending:
            log.warning(
                "retention: %d erased conversations still held by the engine; next run retries",
                result.erasures_pending,
                extra={"count": result.erasures_pending},
            )
    engine_up = True
    after = ""
    while batch := await _batch(sessions, older_than, after):
        after = batch[-1][0]
        for person_id, conversation_id in batch:
            if dry_run:
                async with sessions() as session:
                    counts = (
                        {} if conversation_id is None else await _count(session, conversation_id)
                    )
                deleted: dict[str, int] | None = {
                    "people": 1,
                    "conversations": int(conversation_id is not None),
                    **counts,
                }
            else:
                if conversation_id is not None:
                    engine_up = engine_up and await engine.forget(conversation_id)
                    if not engine_up:
                        result.engine_pending += 1
                        continue
                deleted = await _delete(sessions, person_id, conversation_id, older_than)
            for name, count in (deleted or {}).items():
                result.counts[name] += count
    if result.engine_pending:
        log.warning(
            "retention: %d conversations kept until the engine can forget them; next run retries",
            result.engine_pending,
            extra={"count": result.engine_pending},
        )
    if not dry_run and result.counts["people"]:
        log.info(
            "retention: %d people and %d messages older than the retention period deleted",
            result.counts["people"],
            result.counts["messages"],
            extra={"count": result.counts["people"]},
        )
    return result


class RetentionJob:
    """Runs purge in the background every `interval_seconds` (every replica may run one)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: Forgetter,
        retention_days: int,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._retention = dt.timedelta(days=retention_days)
        self._periodic = Periodic("retention purge", interval_seconds, self.run_once)

    async def run_once(self) -> PurgeResult:
        """Purge everything older than the retention period, now."""
        return await purge(self._sessions, self._engine, utcnow() - self._retention)

    def start(self) -> None:
        """Purge at once, then every interval, until stopped."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop purging (a purge in progress is cancelled; it resumes at the next start)."""
        await self._periodic.stop()
