"""What caseworkers do to a conversation: take it, read it, answer, give it back to the bot.

Each action is allowed by the handoff state machine (bot/handoff.py) and by who the
caseworker is: caseworkers see queued conversations and their own; supervisors see all.
Claiming is one conditional UPDATE, so of two caseworkers clicking at once one wins.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.accounts import Role
from bot.addresses import AddressBox
from bot.content.store import ContentStore
from bot.core import ConversationService
from bot.db.models import (
    ConsoleSetting,
    Conversation,
    Delivery,
    Message,
    Note,
    Person,
    Staff,
    Tag,
    utcnow,
)
from bot.delivery import DeliveryService
from bot.handoff import Status, Transition, next_status
from bot.messages import Reply
from bot.staff_sessions import Session

MAX_REPLY = 4000
SHOW_NUMBERS = "caseworkers_see_numbers"
_TAG = re.compile(r"^[\w -]{1,40}$")


class Refusal(enum.StrEnum):
    """Why an action was not done, in words for the console."""

    NOT_FOUND = "no such conversation (it may have been erased)"
    NOT_YOURS = "this conversation is with another caseworker"
    TAKEN = "another caseworker took this conversation a moment ago"
    NOT_QUEUED = "this conversation is not waiting for a person"
    EMPTY = "write something first"
    TOO_LONG = f"a reply is at most {MAX_REPLY} characters"
    NO_SUCH_STAFF = "there is no active account with that name"
    NO_SUCH_CANNED = "there is no such canned reply"
    BAD_TAG = "a tag is 1-40 letters, digits, spaces, '-' or '_'"
    CHANGED = "someone changed this conversation a moment ago; look again"


class CaseworkError(Exception):
    """An action was refused; `.refusal` says why."""

    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(refusal.value + (f" ({detail})" if detail else ""))
        self.refusal = refusal
        self.detail = detail


@dataclass(frozen=True)
class Line:
    """One message of a transcript as the console shows it."""

    id: int
    author: str
    text: str
    at: dt.datetime
    delivery: str | None


@dataclass(frozen=True)
class Transcript:
    """A conversation as a caseworker sees it."""

    conversation_id: str
    channel: str
    language: str
    status: str
    escalation: str | None
    assigned_to: str | None
    mine: bool
    lines: list[Line]
    notes: list[Line]
    tags: list[str]
    # The person's WhatsApp number, only for supervisors or when a supervisor allowed it.
    phone: str | None = None


DELIVERY_WORDS = {
    "outside_24h_window": "not sent: more than 24 hours since the person's last WhatsApp "
    "message; WhatsApp allows only an approved template now",
    "blocked_by_person": "not delivered: the person blocked the bot",
}


class Casework:
    """The console's actions on conversations."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        delivery: DeliveryService,
        content: ContentStore,
        box: AddressBox,
        service: ConversationService,
    ) -> None:
        self._service = service
        self._box = box
        self._sessions = sessions
        self._delivery = delivery
        self._content = content

    async def _load(self, session: AsyncSession, conversation_id: str) -> Conversation:
        """The conversation, or NOT_FOUND."""
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise CaseworkError(Refusal.NOT_FOUND)
        return conversation

    @staticmethod
    def _may_see(conversation: Conversation, who: Session) -> bool:
        """Supervisors see all; caseworkers the queue and their own; editors nothing."""
        if not who.role.sees_people:
            return False
        return (
            who.role is Role.SUPERVISOR
            or conversation.status == Status.QUEUED
            or conversation.assigned_to == who.staff_id
        )

    @staticmethod
    def _may_act(conversation: Conversation, who: Session) -> bool:
        """Supervisors, or the caseworker who holds the conversation, may change it."""
        if not who.role.sees_people:
            return False
        return who.role is Role.SUPERVISOR or (
            conversation.status == Status.HUMAN and conversation.assigned_to == who.staff_id
        )

    async def _move(
        self,
        session: AsyncSession,
        conversation: Conversation,
        transition: Transition,
        **values: object,
    ) -> None:
        """Apply a transition only if nobody changed the conversation meanwhile."""
        target = next_status(Status(conversation.status), transition)
        result = await session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation.id,
                Conversation.status == conversation.status,
                Conversation.assigned_to.is_(None)
                if conversation.assigned_to is None
                else Conversation.assigned_to == conversation.assigned_to,
            )
            .values(status=target.value, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            await session.rollback()
            raise CaseworkError(Refusal.CHANGED)

    async def claim(self, conversation_id: str, who: Session) -> None:
        """Take a queued conversation; exactly one of several simultaneous claims wins."""
        async with self._sessions() as session:
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.status == Status.QUEUED)
                .values(
                    status=next_status(Status.QUEUED, Transition.CLAIM).value,
                    assigned_to=who.staff_id,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if getattr(result, "rowcount", 0) == 1:
                escalated_at = await session.scalar(
                    select(Conversation.escalated_at).where(Conversation.id == conversation_id)
                )
                if escalated_at is not None:
                    wait = (utcnow() - escalated_at).total_seconds()
                    metrics.QUEUE_WAIT_SECONDS.observe(max(0.0, wait))
                return
            conversation = await self._load(session, conversation_id)
            if conversation.status == Status.HUMAN and conversation.assigned_to is not None:
                holder = await session.get(Staff, conversation.assigned_to)
                raise CaseworkError(Refusal.TAKEN, holder.username if holder else "")
            raise CaseworkError(Refusal.NOT_QUEUED)

    async def transcript(self, conversation_id: str, who: Session) -> Transcript:
        """Every message with its time and, for replies, what became of them."""
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            if not self._may_see(conversation, who):
                raise CaseworkError(Refusal.NOT_YOURS)
            holder = (
                await session.get(Staff, conversation.assigned_to)
                if conversation.assigned_to
                else None
            )
            messages = list(
                await session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id)
                )
            )
            deliveries: dict[int, str] = {}
            for message_id, status, reason, code in await session.execute(
                select(Delivery.message_id, Delivery.status, Delivery.reason, Delivery.error_code)
                .where(Delivery.conversation_id == conversation_id)
                .order_by(Delivery.id)
            ):
                words = DELIVERY_WORDS.get(reason or "", status)
                deliveries[message_id] = f"{words} (error {code})" if code else words
            lines = [
                Line(
                    id=m.id,
                    author=m.author,
                    text=m.text or (f"[{m.media}]" if m.media else f"[button: {m.payload}]"),
                    at=m.created_at,
                    delivery=deliveries.get(m.id),
                )
                for m in messages
            ]
            notes = [
                Line(id=n.id, author=n.username, text=n.text, at=n.created_at, delivery=None)
                for n in await session.scalars(
                    select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
                )
            ]
            tags = list(
                await session.scalars(
                    select(Tag.tag).where(Tag.conversation_id == conversation_id).order_by(Tag.tag)
                )
            )
            phone = None
            if conversation.channel == "whatsapp" and await self._may_see_numbers(session, who):
                person = await session.get(Person, conversation.person_id)
                address = self._box.open(person.address) if person and person.address else None
                phone = address.removeprefix("whatsapp:") if address else None
            return Transcript(
                phone=phone,
                conversation_id=conversation.id,
                channel=conversation.channel,
                language=conversation.language,
                status=conversation.status,
                escalation=conversation.escalation,
                assigned_to=holder.username if holder else None,
                mine=conversation.assigned_to == who.staff_id,
                lines=lines,
                notes=notes,
                tags=tags,
            )

    @staticmethod
    def _written(text: str) -> str:
        """What a caseworker typed, trimmed; EMPTY or TOO_LONG refused."""
        text = text.strip()
        if not text:
            raise CaseworkError(Refusal.EMPTY)
        if len(text) > MAX_REPLY:
            raise CaseworkError(Refusal.TOO_LONG)
        return text

    async def reply(self, conversation_id: str, who: Session, text: str) -> int:
        """Store a caseworker's reply and send it through the person's channel; its id."""
        text = self._written(text)
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            if conversation.status != Status.HUMAN or conversation.assigned_to != who.staff_id:
                raise CaseworkError(Refusal.NOT_YOURS)
            row = Message(
                conversation_id=conversation_id,
                direction="out",
                author="caseworker",
                text=text,
                language=conversation.language,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            # Queued with the reply itself: stored means it will be sent, crash or not.
            self._delivery.outbox.enqueue(session, conversation.channel, [row])
            await session.commit()
            reply = Reply(
                id=row.id,
                text=text,
                topic=None,
                language=conversation.language,
                author="caseworker",
            )
        # Pushed on Telegram/WhatsApp; the web chat fetches it itself.
        await self._delivery.deliver_stored(conversation_id, [reply])
        return row.id

    async def _may_see_numbers(self, session: AsyncSession, who: Session) -> bool:
        """Supervisors always; caseworkers only when a supervisor switched it on."""
        if who.role is Role.SUPERVISOR:
            return True
        setting = await session.get(ConsoleSetting, SHOW_NUMBERS)
        return setting is not None and setting.value == "yes"

    async def numbers_visible(self) -> bool:
        """Whether caseworkers may see phone numbers."""
        async with self._sessions() as session:
            setting = await session.get(ConsoleSetting, SHOW_NUMBERS)
            return setting is not None and setting.value == "yes"

    async def set_numbers_visible(self, who: Session, visible: bool) -> None:
        """A supervisor lets caseworkers see numbers, or stops it."""
        if who.role is not Role.SUPERVISOR:
            raise CaseworkError(Refusal.NOT_YOURS)
        async with self._sessions() as session:
            setting = await session.get(ConsoleSetting, SHOW_NUMBERS)
            if setting is None:
                setting = ConsoleSetting(key=SHOW_NUMBERS, value="", updated_by=who.username)
                session.add(setting)
            setting.value = "yes" if visible else "no"
            setting.updated_by = who.username
            setting.updated_at = utcnow()
            await session.commit()

    def export_text(self, transcript: Transcript) -> str:
        """A transcript as plain text for a case file (no phone number unless shown)."""
        lines = [
            f"Rota Segura conversation {transcript.conversation_id}",
            f"Channel: {transcript.channel}  Language: {transcript.language}  "
            f"Status: {transcript.status}",
        ]
        if transcript.phone:
            lines.append(f"Number: {transcript.phone}")
        lines.append("")
        for line in transcript.lines:
            lines.append(f"[{line.at:%Y-%m-%d %H:%M} UTC] {line.author}: {line.text}")
        if transcript.notes:
            lines += ["", "Team notes:"]
            lines += [f"[{n.at:%Y-%m-%d %H:%M} UTC] {n.author}: {n.text}" for n in transcript.notes]
        return "\n".join(lines) + "\n"

    def canned_choices(self, language: str) -> list[tuple[str, str, str]]:
        """(id, title, text in this language) of every canned reply, for the reply form."""
        try:
            canned = self._content.current().canned
        except Exception:  # content not loaded: no canned replies to offer
            return []
        return [
            (c.id, c.title, c.texts.get(language) or c.texts.get("en", "")) for c in canned.values()
        ]

    def canned_text(self, canned_id: str, language: str) -> str:
        """A canned reply in a language (falling back to English), or NO_SUCH_CANNED."""
        canned = self._content.current().canned.get(canned_id)
        if canned is None:
            raise CaseworkError(Refusal.NO_SUCH_CANNED)
        text = canned.texts.get(language) or canned.texts.get("en")
        if not text:
            raise CaseworkError(Refusal.NO_SUCH_CANNED)
        return text

    async def reply_canned(self, conversation_id: str, who: Session, canned_id: str) -> int:
        """Send a canned reply in the person's language."""
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            language = conversation.language
        return await self.reply(conversation_id, who, self.canned_text(canned_id, language))

    async def add_note(self, conversation_id: str, who: Session, text: str) -> None:
        """An internal note: stored with its author, never sent."""
        text = self._written(text)
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            if not self._may_see(conversation, who):
                raise CaseworkError(Refusal.NOT_YOURS)
            session.add(
                Note(
                    conversation_id=conversation_id,
                    staff_id=who.staff_id,
                    username=who.username,
                    text=text,
                )
            )
            await session.commit()

    async def add_tag(self, conversation_id: str, who: Session, tag: str) -> None:
        """Label a conversation (adding a tag it has is no change)."""
        tag = " ".join(tag.split()).lower()
        if not _TAG.match(tag):
            raise CaseworkError(Refusal.BAD_TAG)
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            if not self._may_see(conversation, who):
                raise CaseworkError(Refusal.NOT_YOURS)
            if await session.get(Tag, (conversation_id, tag)) is None:
                session.add(Tag(conversation_id=conversation_id, tag=tag))
                await session.commit()

    async def transfer(self, conversation_id: str, who: Session, to_username: str) -> str:
        """Hand a conversation to another caseworker; their username."""
        async with self._sessions() as session:
            conversation = await self._load(session, conversation_id)
            if not self._may_act(conversation, who):
                raise CaseworkError(Refusal.NOT_YOURS)
            target = await session.scalar(
                select(Staff).where(Staff.username == to_username.strip().lower())
            )
            if target is None or target.disabled or target.role == Role.EDITOR.value:
                raise CaseworkError(Refusal.NO_SUCH_STAFF)
            await self._move(session, conversation, Transition.TRANSFER, assigned_to=target.id)
            await session.commit()
            return target.username

    async def close(self, conversation_id: str, who: Session) -> None:
        """End the conversation; the person's next message starts again with the assistant."""
        async with self._sessions() as session:
            await self._end(session, conversation_id, who, Transition.CLOSE)
            await session.commit()

    async def _end(
        self, session: AsyncSession, conversation_id: str, who: Session, transition: Transition
    ) -> Conversation:
        """Close or resolve: only the holder or a supervisor; the wait and its marks cleared."""
        conversation = await self._load(session, conversation_id)
        if not self._may_act(conversation, who):
            raise CaseworkError(Refusal.NOT_YOURS)
        await self._move(
            session,
            conversation,
            transition,
            escalation=None,
            escalated_at=None,
            assigned_to=None,
            unclaimed_notice_at=None,
        )
        return conversation

    async def staff_names(self) -> list[str]:
        """Active caseworker and supervisor accounts a conversation can be transferred to."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Staff.username)
                    .where(Staff.disabled.is_(False), Staff.role != Role.EDITOR.value)
                    .order_by(Staff.username)
                )
            )

    async def resolve(self, conversation_id: str, who: Session) -> None:
        """Give the conversation back to the bot, telling the person so in their language."""
        async with self._sessions() as session:
            await self._end(session, conversation_id, who, Transition.RESOLVE)
            await session.commit()
        replies = await self._service.store_topics(conversation_id, ["handoff_resolved"])
        await self._delivery.deliver_stored(conversation_id, replies)
