"""The audit log: every sign-in, transcript view, claim, reply, export and resolve, append-only."""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEntry


class Action(enum.StrEnum):
    """What a staff member did."""

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    VIEW_QUEUE = "view_queue"
    VIEW_AUDIT = "view_audit"
    VIEW_TRANSCRIPT = "view_transcript"
    CLAIM = "claim"
    REPLY = "reply"
    EXPORT = "export"
    RESOLVE = "resolve"
    NOTE = "note"
    TAG = "tag"
    TRANSFER = "transfer"
    CLOSE = "close"
    SETTING = "setting"


class AuditLog:
    """Writes and lists audit entries; the database refuses updates and deletes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        staff_id: int | None,
        username: str,
        action: Action,
        conversation_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry (never message text: `detail` is for ids and short facts)."""
        async with self._sessions() as session:
            session.add(
                AuditEntry(
                    staff_id=staff_id,
                    username=username,
                    action=action.value,
                    conversation_id=conversation_id,
                    detail=detail[:200] if detail else None,
                )
            )
            await session.commit()

    async def latest(self, limit: int = 200) -> list[AuditEntry]:
        """The newest entries first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return list(rows)
