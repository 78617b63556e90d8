"""Tables: people (pseudonymous), conversations, messages and their deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.crypto import SealedText


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC and always gives back timezone-aware datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use bot.db.models.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to values read back without a zone."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Base class of every table."""


class Person(Base):
    """Someone who wrote to us, known only by an HMAC of channel and channel user id."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The channel address (Telegram chat id, WhatsApp number), encrypted: the one
    # place it is kept, so replies can reach the person later. Never in clear.
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation | None] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class Conversation(Base):
    """One person's conversation: who answers it, in which language, and why it escalated."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_queue", "status", "escalated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="bot")
    escalation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    waiting_ack_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The caseworker who took the conversation (status human); None otherwise.
    assigned_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the person was told nobody is free yet (and given help contacts); once per wait.
    unclaimed_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A guided check in progress (bot/guided.py): which check, the answers so far, paused or not.
    guided_check: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    person: Mapped[Person] = relationship(back_populates="conversation")


class Message(Base):
    """A message to or from the person; `author` is person, bot, caseworker or system."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        # What the watcher looks for every few seconds (migration 0010).
        Index(
            "ix_messages_unhandled",
            "id",
            postgresql_where=sql_text("direction = 'in' AND handled_at IS NULL"),
            sqlite_where=sql_text("direction = 'in' AND handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    author: Mapped[str] = mapped_column(String(16))
    # Encrypted at rest (bot/db/crypto.py): never filter or search on it in SQL.
    text: Mapped[str | None] = mapped_column(SealedText, nullable=True)
    payload: Mapped[str | None] = mapped_column(String(64), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    # What kind of non-text message it was (voice, photo, location, ...); never its content.
    media: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The provider's delivery id (Telegram update, Twilio MessageSid): a redelivery is ignored.
    dedup_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    # The provider's id of the message itself (e.g. Telegram message_id, for deletion).
    provider_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # When the core finished with an inbound message (replies stored); None = not yet.
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When a worker took the message in hand; a redelivery may take it over once stale.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The replica (bot/workers.py) that took it in hand: if it died, others take over at once.
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Rasa could not be asked when it arrived: answer it once the engine is back.
    awaiting_engine: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One part of an outgoing message as sent through a channel, and what became of it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_message", "message_id"),
        # Telegram message ids repeat between chats: look them up with the channel.
        Index("ix_deliveries_provider", "channel", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    part: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sent, queued, delivered, read, failed, undelivered, not_sent
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Why a message was not sent or failed, in words for the console (never message text).
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Staff(Base):
    """A caseworker, supervisor or editor who signs in to the console."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # Argon2id hash (argon2-cffi); never the password.
    password_hash: Mapped[str] = mapped_column(Text)
    # The TOTP secret, encrypted like channel addresses; None = no second factor.
    totp_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffSession(Base):
    """A signed-in browser: only a hash of its cookie is kept, with its CSRF token."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInAttempt(Base):
    """A failed sign-in, by account and by address (both hashed), for throttling."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_key", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what, when: written by the app, never updated or deleted (triggers refuse)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Note(Base):
    """A caseworker's internal note on a conversation; the person never sees it."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    # Encrypted at rest like message bodies.
    text: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    """A label on a conversation (e.g. "passport held"), for caseworkers only."""

    __tablename__ = "conversation_tags"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class ConsoleSetting(Base):
    """A console-wide switch a supervisor sets (e.g. whether caseworkers see numbers)."""

    __tablename__ = "console_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxItem(Base):
    """A stored reply still to be sent through a push channel; deleted once every part went.

    Workers on any replica take items in id order, one conversation at a time, under a
    short lease; a crash leaves the item for the next worker, which resumes after the
    parts already sent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "due_at"),
        Index("ix_outbox_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # Parts of the reply the channel already accepted: a retry starts after them.
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not before this time (backoff, or the provider's retry_after).
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker holds the item until then; after it, another worker may take it over.
    leased_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The replica holding the lease: if it died, another takes the row before the lease ends.
    leased_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingForget(Base):
    """A conversation erased here that the engine (Rasa's tracker store) has still to forget.

    Keyed only by the conversation id: no person id, no text. Written in the erasure's
    transaction, deleted once Rasa said yes; bot/retention.py retries what is left.
    """

    __tablename__ = "pending_forget"

    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Worker(Base):
    """A running gateway replica and when it last said it was alive (bot/workers.py)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
