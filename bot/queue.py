"""The caseworker queue: escalated conversations, distress first, then longest waiting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Conversation, Message, utcnow
from bot.handoff import Escalation, Status

FIRST_WORDS = 80


@dataclass(frozen=True)
class QueueItem:
    """One waiting conversation as the queue shows it."""

    conversation_id: str
    channel: str
    language: str
    reason: str
    waiting: dt.timedelta
    first_words: str
    # Nobody took it in time: the person got help contacts; supervisors should act.
    overdue: bool = False


async def waiting_conversations(
    sessions: async_sessionmaker[AsyncSession], limit: int = 200
) -> list[QueueItem]:
    """Queued conversations: distress before requests, then the longest waiting first."""
    now = utcnow()
    distress_first = case((Conversation.escalation == Escalation.DISTRESS.value, 0), else_=1)
    async with sessions() as session:
        conversations = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.status == Status.QUEUED.value)
                .order_by(distress_first, Conversation.escalated_at)
                .limit(limit)
            )
        )
        words = await _latest_words(session, [c.id for c in conversations])
        items = []
        for conversation in conversations:
            escalated = conversation.escalated_at or conversation.created_at
            items.append(
                QueueItem(
                    conversation_id=conversation.id,
                    channel=conversation.channel,
                    language=conversation.language,
                    reason=conversation.escalation or "request",
                    waiting=now - escalated,
                    first_words=words.get(conversation.id, ""),
                    overdue=conversation.unclaimed_notice_at is not None,
                )
            )
        return items


async def _latest_words(session: AsyncSession, conversation_ids: list[str]) -> dict[str, str]:
    """The start of each person's latest message (or its kind of media), in one query."""
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction == "in")
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(
        select(Message.conversation_id, Message.text, Message.media).where(Message.id.in_(latest))
    )
    words: dict[str, str] = {}
    for conversation_id, text, media in rows:
        if text:
            words[conversation_id] = (
                text if len(text) <= FIRST_WORDS else text[: FIRST_WORDS - 1] + "…"
            )
        else:
            words[conversation_id] = f"[{media or 'button'}]"
    return words
