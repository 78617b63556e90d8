"""Console sessions: random cookie tokens (stored hashed), CSRF tokens, idle and absolute expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.accounts import Role
from bot.db.models import Staff, StaffSession, utcnow

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
# Refresh "last seen" at most this often, so reading pages does not write on every request.
TOUCH_EVERY = dt.timedelta(seconds=60)


def token_hash(token: str) -> str:
    """What is stored for a cookie token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in browser as a request sees it."""

    staff_id: int
    username: str
    role: Role
    csrf_token: str


class SessionStore:
    """Starts, finds and ends console sessions in the database (so replicas share them)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def start(self, staff_id: int, replacing: str | None = None) -> tuple[str, str]:
        """A new session (cookie token, CSRF token); the one it replaces is ended (rotation)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._sessions() as session:
            if replacing:
                await session.execute(
                    delete(StaffSession).where(StaffSession.token_hash == token_hash(replacing))
                )
            session.add(
                StaffSession(token_hash=token_hash(token), staff_id=staff_id, csrf_token=csrf)
            )
            await session.commit()
        return token, csrf

    async def find(self, token: str | None, touch: bool = True) -> Session | None:
        """The live session of a cookie token; expired ones are ended on sight.

        `touch=False` checks without counting as activity (the live queue's own checks must
        not keep an abandoned tab signed in).
        """
        if not token or len(token) > 128:
            return None
        now = utcnow()
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(StaffSession, Staff)
                    .join(Staff, Staff.id == StaffSession.staff_id)
                    .where(StaffSession.token_hash == token_hash(token))
                )
            ).first()
            if row is None:
                return None
            live, staff = row
            expired = (
                now - live.last_seen_at > IDLE_TIMEOUT
                or now - live.created_at > ABSOLUTE_TIMEOUT
                or staff.disabled
            )
            if expired:
                await session.delete(live)
                await session.commit()
                return None
            if touch and now - live.last_seen_at > TOUCH_EVERY:
                live.last_seen_at = now
                await session.commit()
            return Session(staff.id, staff.username, Role(staff.role), live.csrf_token)

    async def end(self, token: str) -> None:
        """Sign out: the session is deleted."""
        async with self._sessions() as session:
            await session.execute(
                delete(StaffSession).where(StaffSession.token_hash == token_hash(token))
            )
            await session.commit()
