"""Nobody took the chat: tell the person a person will answer, and give help contacts.

After `UNCLAIMED_MINUTES` (at once when nobody is signed in), the person is told a person
will answer when available and gets the help contacts for their country.

The check runs in every replica; one conditional UPDATE decides which one sends, so the
notice goes out once per wait. Supervisors see those conversations marked in the queue.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.accounts import Role
from bot.core import ConversationService
from bot.db.models import Conversation, Staff, StaffSession, utcnow
from bot.delivery import DeliveryService
from bot.handoff import Status
from bot.periodic import Periodic
from bot.staff_sessions import IDLE_TIMEOUT

log = logging.getLogger(__name__)

NOTICE_TOPICS = ["unclaimed", "help_contacts"]
CHECK_EVERY_SECONDS = 20.0


class UnclaimedWatch:
    """Finds queued conversations nobody took in time and tells the person what happens."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        service: ConversationService,
        delivery: DeliveryService,
        wait: dt.timedelta,
    ) -> None:
        self._sessions = sessions
        self._service = service
        self._delivery = delivery
        self._wait = wait
        self._periodic = Periodic("unclaimed check", CHECK_EVERY_SECONDS, self.sweep)

    async def anyone_signed_in(self, now: dt.datetime) -> bool:
        """Whether a caseworker or supervisor has been active within the idle timeout."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(StaffSession)
                .join(Staff, Staff.id == StaffSession.staff_id)
                .where(
                    StaffSession.last_seen_at > now - IDLE_TIMEOUT,
                    # An editor on the content pages cannot take a chat.
                    Staff.role != Role.EDITOR.value,
                )
            )
            return bool(count)

    async def sweep(self, now: dt.datetime | None = None) -> list[str]:
        """Send the notice where it is due; the ids of the conversations it went to."""
        now = now or utcnow()
        cutoff = now if not await self.anyone_signed_in(now) else now - self._wait
        async with self._sessions() as session:
            due = list(
                await session.scalars(
                    select(Conversation.id).where(
                        Conversation.status == Status.QUEUED.value,
                        Conversation.unclaimed_notice_at.is_(None),
                        Conversation.escalated_at <= cutoff,
                    )
                )
            )
        sent: list[str] = []
        for conversation_id in due:
            async with self._sessions() as session:
                claimed = await session.execute(
                    update(Conversation)
                    .where(
                        Conversation.id == conversation_id,
                        Conversation.status == Status.QUEUED.value,
                        Conversation.unclaimed_notice_at.is_(None),
                    )
                    .values(unclaimed_notice_at=now)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            if getattr(claimed, "rowcount", 0) != 1:
                continue  # another replica sent it, or someone took the chat meanwhile
            replies = await self._service.store_topics(conversation_id, NOTICE_TOPICS)
            await self._delivery.deliver_stored(conversation_id, replies)
            sent.append(conversation_id)
            log.info("conversation %s: nobody free yet, help contacts sent", conversation_id)
        return sent

    def start(self) -> None:
        """Check in the background until stopped."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop checking."""
        await self._periodic.stop()
