"""The conversation router: every channel's messages pass through here and only here.

Order of decisions for one message (safety first, so it works with Rasa down):

0. a message the provider delivered before is acknowledged and not answered again;
1. store what the person sent (nothing a person sent is ever lost; media only by kind);
2. choose the reply language (sticky; explicit switches win);
3. distress / ask-for-a-person phrases → escalate, whatever the status;
4. with a caseworker (queued/human) → keep for them, do not ask Rasa;
5. button payloads (or, on WhatsApp, the number of an option) and whole-message
   commands → their topic; media without text → a kind "only text" reply;
6. otherwise Rasa picks the topic; an `emergency` or `human_handoff` topic escalates.

Steps 2 to 6 are decided by bot/decisions.py; this module stores, locks, claims, resumes
and hands the replies to the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.addresses import AddressBox
from bot.content.store import ContentStore
from bot.db.models import Conversation, Delivery, Message, PendingForget, Person, utcnow
from bot.decisions import Decider, Plan, engine_text
from bot.engine import EngineUnavailable, RasaEngine
from bot.handoff import (
    WITH_CASEWORKER,
    Escalation,
    Status,
    Transition,
    merge_escalation,
    next_status,
)
from bot.language import LanguageDetector
from bot.messages import InboundMessage, Outcome, Reply
from bot.outbox import Outbox, reply_from_row
from bot.ratelimit import RateLimiter, person_key
from bot.retention import forget_pending
from bot.settings import Settings
from bot.workers import Workers

log = logging.getLogger(__name__)

# Channels that push replies to an address we must keep (encrypted) for later replies.
PUSH_CHANNELS = frozenset({"telegram", "whatsapp"})
# Channels without buttons: options are numbered, and a reply "2" means the second one.
NUMBERED_CHANNELS = frozenset({"whatsapp"})
# A message taken in hand by a worker that has not answered it after this long (it
# crashed, or failed) may be taken over: by the provider's next delivery, or by the
# watcher that resumes unfinished work (bot/backlog.py). Longer than an answer may take
# (the engine's timeout, RASA_TIMEOUT_SECONDS, is 10 s by default).
CLAIM_TIMEOUT = dt.timedelta(seconds=20)
RESUME_BATCH = 100
# A message the engine refuses this long while it answers others is answered as unclear.
WAITING_GIVE_UP = dt.timedelta(minutes=10)
# People handled at once on PostgreSQL (each holds a lock connection and a work connection).
HANDLE_CONCURRENCY = 8
_OPTION_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def pseudonymous_id(secret_key: str, channel: str, channel_user_id: str) -> str:
    """HMAC-SHA256 of channel and channel user id: the only id we keep for a person."""
    message = f"{channel}:{channel_user_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


class ConversationService:
    """Handles inbound messages for every channel and reads back what was sent."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        engine: RasaEngine,
        detector: LanguageDetector,
        outbox: Outbox,
        limiter: RateLimiter | None = None,
        workers: Workers | None = None,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._sessions = sessions
        self._content = content
        self._engine = engine
        self._detector = detector
        self._box = AddressBox(settings.secret_key)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._handling = asyncio.Semaphore(HANDLE_CONCURRENCY)
        # The gateway's rate limiter: an erasure forgets the person's counts in it.
        self._limiter = limiter
        self._workers = workers
        self._decider = Decider(settings, content, engine, detector)

    def person_id(self, channel: str, channel_user_id: str) -> str:
        """The pseudonymous id of a channel user."""
        return pseudonymous_id(self._settings.secret_key, channel, channel_user_id)

    @contextlib.asynccontextmanager
    async def _lock(self, person_id: str) -> AsyncIterator[None]:
        """One person's messages are handled one at a time, in order, on every replica.

        In this process an asyncio lock; across replicas on PostgreSQL, a transaction-level
        advisory lock keyed by the person's pseudonymous id, on a connection of its own
        (released by the database if this process dies). At most HANDLE_CONCURRENCY
        people are handled at once, so lock and work connections never exhaust the pool.
        """
        lock = self._locks.get(person_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[person_id] = lock
        async with lock:
            bind = self._sessions.kw.get("bind")
            if bind is None or bind.dialect.name != "postgresql":
                yield
                return
            key = int.from_bytes(bytes.fromhex(person_id[:16]), "big", signed=True)
            async with self._handling, bind.connect() as connection, connection.begin():
                await connection.execute(select(func.pg_advisory_xact_lock(key)))
                yield

    async def handle(self, inbound: InboundMessage) -> Outcome:
        """Store, decide and answer one inbound message."""
        started = time.perf_counter()
        if inbound.group:
            return self._group_notice(inbound)
        person_id = self.person_id(inbound.channel, inbound.channel_user_id)
        async with self._lock(person_id):
            outcome = await self._handle_locked(person_id, inbound)
        metrics.HANDLE_SECONDS.labels(inbound.channel).observe(time.perf_counter() - started)
        return outcome

    def _group_notice(self, inbound: InboundMessage) -> Outcome:
        """A group chat gets a notice that we talk only in private; nothing is stored."""
        language = inbound.language_hint or self._settings.default_language
        if inbound.text is not None:
            # Short texts (a /command) keep the app's language; clear sentences decide.
            language = self._detector.choose(
                inbound.text, inbound.language_hint, self._settings.default_language
            )
        reply = self.render("group_chat", language, None, inbound.channel)
        return Outcome(
            conversation_id="",
            status=Status.BOT,
            escalation=None,
            language=language,
            replies=[reply],
            unsaved=True,
        )

    async def _handle_locked(self, person_id: str, inbound: InboundMessage) -> Outcome:
        """The body of `handle`, run while holding the person's lock."""
        async with self._sessions() as session:
            earlier = await self._earlier_delivery(session, inbound)
            if earlier is not None and (
                earlier.handled_at is not None or not await self._claim(session, earlier.id)
            ):
                # Answered already, or another worker is answering it right now.
                metrics.DUPLICATES.labels(inbound.channel).inc()
                return await self._duplicate(session, earlier)
            conversation, is_new = await self._conversation(session, person_id, inbound)
            now = utcnow()
            conversation.last_inbound_at = now
            if conversation.status == Status.CLOSED:
                conversation.status = next_status(Status.CLOSED, Transition.REOPEN)
            if earlier is not None:
                # Stored before but never answered (the app stopped midway): answer it now,
                # as a first message if nothing was ever sent to this person.
                inbound_row = earlier
                is_new = (
                    await session.scalar(
                        select(Message.id)
                        .where(
                            Message.conversation_id == conversation.id,
                            Message.direction == "out",
                        )
                        .limit(1)
                    )
                    is None
                )
            else:
                inbound_row = Message(
                    conversation_id=conversation.id,
                    direction="in",
                    author="person",
                    text=inbound.text,
                    payload=inbound.payload,
                    media=inbound.media,
                    dedup_key=inbound.provider_id,
                    provider_message_id=inbound.provider_message_id,
                    language=conversation.language,
                    created_at=now,
                    claimed_at=now,
                    claimed_by=self._workers.id if self._workers else None,
                )
                session.add(inbound_row)
            # Committed before anything that could fail: nothing a person sent is lost.
            try:
                await session.commit()
            except IntegrityError:
                # Another worker stored this same delivery a moment ago: it answers it.
                await session.rollback()
                metrics.DUPLICATES.labels(inbound.channel).inc()
                return await self._duplicate(
                    session, await self._earlier_delivery(session, inbound)
                )
            if earlier is None:
                metrics.MESSAGES.labels(inbound.channel, "in").inc()
            try:
                return await self._answer(
                    session, conversation, inbound, inbound_row, is_new, person_id
                )
            except BaseException:
                # Let the provider's next delivery answer it at once, not after the timeout.
                await self._release(inbound_row.id)
                raise

    async def _answer(
        self,
        session: AsyncSession,
        conversation: Conversation,
        inbound: InboundMessage,
        inbound_row: Message,
        is_new: bool,
        person_id: str,
        resumed: bool = False,
    ) -> Outcome:
        """Decide, render and store the replies to a stored inbound message."""
        snapshot = self._content.current()
        inbound = await self._numbered_choice(session, conversation, inbound, inbound_row.id)
        switched = self._decider.apply_language(conversation, inbound, snapshot, is_new)
        self._decider.apply_country(conversation, inbound, snapshot)
        inbound_row.language = conversation.language
        backlog = await self._engine_backlog(session, conversation.id, inbound_row.id)
        # A message answered again after a crash was counted when it first came.
        flooding = False if resumed else await self._flooding(inbound)
        plan = await self._decider.plan(
            conversation, inbound, snapshot, switched, backlog, flooding
        )
        if plan.erase:
            return await self._erase(session, conversation, person_id, inbound.channel_user_id)
        if plan.escalation is not None:
            self._escalate(conversation, plan.escalation, plan.escalation_source)
        if is_new and plan.topics[:1] != ["emergency"] and plan.escalation is None:
            plan.topics.append("privacy_notice")
        replies = self._decider.replies(plan, conversation)
        rows = await self._store_replies(session, conversation, replies)
        # Queued in the same transaction: a crash after this commit still sends them.
        queued = self._outbox.enqueue(session, conversation.channel, rows)
        inbound_row.handled_at = utcnow()
        if plan.awaiting_engine:
            inbound_row.awaiting_engine = True
            inbound_row.claimed_at = None  # free for whichever replica answers the backlog
        await session.commit()
        if queued:  # the web chat's replies go back in the response: nothing to send
            self._outbox.wake()
        return Outcome(
            conversation_id=conversation.id,
            status=conversation.status,
            escalation=conversation.escalation,
            language=conversation.language,
            replies=[reply_from_row(row, conversation.language) for row in rows],
        )

    async def _flooding(self, inbound: InboundMessage) -> bool:
        """Whether a Telegram or WhatsApp person is over their messages per minute.

        (The web API refuses such messages with 429 before they are stored; a webhook
        cannot, since the provider would only send them again.)
        """
        if self._limiter is None or inbound.channel not in PUSH_CHANNELS:
            return False
        key = person_key(inbound.channel, inbound.channel_user_id)
        return await self._limiter.hit(key) is not None

    async def _engine_backlog(
        self, session: AsyncSession, conversation_id: str, before_id: int
    ) -> bool:
        """Whether earlier messages of this conversation still wait for the engine."""
        waiting = await session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.awaiting_engine.is_(True),
                Message.id < before_id,
            )
            .limit(1)
        )
        return waiting is not None

    async def answer_backlog(self, conversation_id: str) -> int:
        """Answer, in order, the messages that waited for the engine; how many were answered.

        Stops at the first one the engine still cannot take (no second "trouble" reply).
        """
        async with self._sessions() as session:
            person_id = await session.scalar(
                select(Conversation.person_id).where(Conversation.id == conversation_id)
            )
        if person_id is None:
            return 0
        answered = 0
        async with self._lock(person_id):
            while True:
                async with self._sessions() as session:
                    row = await session.scalar(
                        select(Message)
                        .where(
                            Message.conversation_id == conversation_id,
                            Message.awaiting_engine.is_(True),
                        )
                        .order_by(Message.id)
                        .limit(1)
                    )
                    if row is None or not await self._claim_waiting(session, row.id):
                        return answered
                    try:
                        if not await self._answer_waiting(session, row):
                            await self._release(row.id)
                            return answered
                    except BaseException:
                        await self._release(row.id)
                        raise
                    answered += 1

    async def _claim_waiting(self, session: AsyncSession, message_id: int) -> bool:
        """Take a message waiting for the engine in hand unless another replica holds it."""
        return await self._claim(session, message_id, Message.awaiting_engine.is_(True))

    async def _answer_waiting(self, session: AsyncSession, row: Message) -> bool:
        """Ask the engine about one waiting message and store its replies; False if still down."""
        conversation = await session.get(Conversation, row.conversation_id)
        if conversation is None:
            return True
        if conversation.status in WITH_CASEWORKER or row.text is None:
            # A person took over meanwhile: the caseworker reads it in the transcript.
            plan = Plan()
        else:
            try:
                plan = await self._decider.ask_engine(conversation, engine_text(row.text))
            except EngineUnavailable:
                if utcnow() - row.created_at < WAITING_GIVE_UP:
                    return False
                # The engine answers again but never this message: do not hold the rest.
                log.warning("message %s: engine kept refusing it, answered as unclear", row.id)
                plan = Plan(topics=["fallback"])
            except Exception as exc:  # a bug on this message: answer, never loop on it
                log.error("message %s: engine reply unusable: %s", row.id, type(exc).__name__)
                plan = Plan(topics=["fallback"])
            plan = self._decider.complete(plan, conversation, row.text, self._content.current())
        if plan.escalation is not None:
            self._escalate(conversation, plan.escalation, plan.escalation_source)
        replies = self._decider.replies(plan, conversation)
        rows = await self._store_replies(session, conversation, replies)
        queued = self._outbox.enqueue(session, conversation.channel, rows)
        row.awaiting_engine = False
        await session.commit()
        if queued:
            self._outbox.wake()
        return True

    async def resume_stalled(self) -> int:
        """Answer stored messages whose handling stopped midway (a crash); how many."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(Message.id, Conversation.person_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.direction == "in",
                        Message.handled_at.is_(None),
                        self._stale_claim(utcnow()),
                    )
                    .order_by(Message.id)
                    .limit(RESUME_BATCH)
                )
            ).all()
        resumed = 0
        for message_id, person_id in found:
            async with self._lock(person_id), self._sessions() as session:
                if not await self._claim(session, message_id):
                    continue  # answered meanwhile, or another replica has it
                row = await session.get(Message, message_id)
                conversation = await session.get(Conversation, row.conversation_id) if row else None
                if row is None or conversation is None:
                    continue
                try:
                    await self._resume(session, conversation, row, person_id)
                except SQLAlchemyError:
                    await self._release(message_id)
                    raise  # the database is away: the next round tries again
                except Exception as exc:
                    # It fails every time (a bug): kept, marked, never retried in a loop.
                    log.error("message %s could not be resumed: %s", message_id, type(exc).__name__)
                    await self._give_up_resuming(message_id)
                    continue
                resumed += 1
        if resumed:
            log.info("resumed %d messages left unanswered by a stopped worker", resumed)
        return resumed

    async def _give_up_resuming(self, message_id: int) -> None:
        """Mark a message that fails whenever it is answered as handled (it stays stored)."""
        async with self._sessions() as session:
            await session.execute(
                update(Message).where(Message.id == message_id).values(handled_at=utcnow())
            )
            await session.commit()

    async def _resume(
        self, session: AsyncSession, conversation: Conversation, row: Message, person_id: str
    ) -> None:
        """Answer one stored, claimed message as if it had just arrived."""
        person = await session.get(Person, person_id)
        address = self._box.open(person.address) if person and person.address else None
        inbound = InboundMessage(
            channel=conversation.channel,
            channel_user_id=address or person_id,
            text=row.text if row.payload is None else None,
            payload=row.payload,
            media=row.media if row.text is None and row.payload is None else None,
            provider_id=row.dedup_key,
            provider_message_id=row.provider_message_id,
        )
        answered_before = await session.scalar(
            select(Message.id)
            .where(Message.conversation_id == conversation.id, Message.direction == "out")
            .limit(1)
        )
        await self._answer(
            session, conversation, inbound, row, answered_before is None, person_id, resumed=True
        )

    async def engine_backlog(self) -> list[str]:
        """Conversations with messages waiting for the engine, the longest waiting first."""
        async with self._sessions() as session:
            result = await session.execute(
                select(Message.conversation_id, func.min(Message.id).label("first"))
                .where(Message.awaiting_engine.is_(True))
                .group_by(Message.conversation_id)
                .order_by("first")
            )
            return [str(conversation_id) for conversation_id, _first in result.all()]

    def _stale_claim(self, now: dt.datetime) -> ColumnElement[bool]:
        """A message nobody holds: never claimed, claimed too long ago, or by a dead replica."""
        return or_(
            Message.claimed_at.is_(None),
            Message.claimed_at < now - CLAIM_TIMEOUT,
            *([self._workers.dead(Message.claimed_by, now)] if self._workers else []),
        )

    async def _claim(
        self,
        session: AsyncSession,
        message_id: int,
        state: ColumnElement[bool] | None = None,
    ) -> bool:
        """Take a stored message in `state` (default: unanswered) unless another worker has it."""
        now = utcnow()
        if state is None:
            state = Message.handled_at.is_(None)
        holder = self._workers.id if self._workers else None
        result = await session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                state,
                self._stale_claim(now),
            )
            .values(claimed_at=now, claimed_by=holder)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _release(self, message_id: int) -> None:
        """Give up the claim on a message we failed to answer (best effort)."""
        try:
            async with self._sessions() as session:
                await session.execute(
                    update(Message)
                    .where(
                        Message.id == message_id,
                        or_(Message.handled_at.is_(None), Message.awaiting_engine.is_(True)),
                    )
                    .values(claimed_at=None)
                )
                await session.commit()
        except Exception as exc:  # the database may be what failed
            log.warning("claim not released: %s", type(exc).__name__)

    async def _earlier_delivery(
        self, session: AsyncSession, inbound: InboundMessage
    ) -> Message | None:
        """The stored message with this delivery's provider id, if the provider sent it before."""
        if inbound.provider_id is None:
            return None
        return await session.scalar(select(Message).where(Message.dedup_key == inbound.provider_id))

    async def _duplicate(self, session: AsyncSession, earlier: Message | None) -> Outcome:
        """The answer to a redelivery: acknowledged, nothing new to send."""
        conversation = await session.get(Conversation, earlier.conversation_id) if earlier else None
        return Outcome(
            conversation_id=conversation.id if conversation else "",
            status=conversation.status if conversation else Status.BOT,
            escalation=conversation.escalation if conversation else None,
            language=conversation.language if conversation else self._settings.default_language,
            duplicate=True,
        )

    async def _numbered_choice(
        self,
        session: AsyncSession,
        conversation: Conversation,
        inbound: InboundMessage,
        inbound_id: int,
    ) -> InboundMessage:
        """On channels without buttons, a reply "2" stands for the second option just offered.

        Only options offered since the person's previous message count: an old menu (say,
        "yes, delete") is never picked by a number typed later.
        """
        if inbound.channel not in NUMBERED_CHANNELS or inbound.text is None:
            return inbound
        match = _OPTION_NUMBER.match(inbound.text)
        if match is None:
            return inbound
        previous = await session.scalar(
            select(func.max(Message.id)).where(
                Message.conversation_id == conversation.id,
                Message.direction == "in",
                Message.id < inbound_id,
            )
        )
        recent = await session.scalars(
            select(Message.buttons)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "out",
                Message.id > (previous or 0),
                Message.id < inbound_id,
            )
            .order_by(Message.id.desc())
            .limit(5)
        )
        # JSON null counts as no options.
        last_offer = next((buttons for buttons in recent if buttons), None)
        number = int(match.group(1))
        if not last_offer or not 1 <= number <= len(last_offer):
            return inbound
        return dataclasses.replace(inbound, text=None, payload=last_offer[number - 1]["payload"])

    async def _conversation(
        self, session: AsyncSession, person_id: str, inbound: InboundMessage
    ) -> tuple[Conversation, bool]:
        """Load the person's conversation, creating person and conversation if new."""
        conversation = await session.scalar(
            select(Conversation).where(Conversation.person_id == person_id)
        )
        if conversation is not None:
            return conversation, False
        language = inbound.language_hint or self._settings.default_language
        if inbound.text is not None:
            language = self._detector.choose(inbound.text, None, language)
        address = (
            self._box.seal(inbound.channel_user_id) if inbound.channel in PUSH_CHANNELS else None
        )
        person = Person(id=person_id, channel=inbound.channel, address=address)
        conversation = Conversation(
            person_id=person_id, channel=inbound.channel, status=Status.BOT, language=language
        )
        session.add_all([person, conversation])
        try:
            await session.flush()
        except IntegrityError:
            # Another worker created this person a moment ago: use theirs.
            await session.rollback()
            existing = await session.scalar(
                select(Conversation).where(Conversation.person_id == person_id)
            )
            if existing is None:
                raise
            return existing, False
        return conversation, True

    def _escalate(self, conversation: Conversation, reason: Escalation, source: str) -> None:
        """Move the conversation to the caseworker queue with its reason."""
        current = Escalation(conversation.escalation) if conversation.escalation else None
        if conversation.status not in WITH_CASEWORKER:
            conversation.unclaimed_notice_at = None  # a new wait: the notice may go again
        if conversation.guided_check is not None:
            # A check open when danger arrives waits; the person may continue it later.
            conversation.guided_check = {**conversation.guided_check, "paused": True}
        conversation.status = next_status(Status(conversation.status), Transition.ESCALATE)
        conversation.escalation = merge_escalation(current, reason)
        conversation.escalated_at = conversation.escalated_at or utcnow()
        metrics.ESCALATIONS.labels(reason.value, source).inc()
        log.info("conversation %s escalated (%s, by %s)", conversation.id, reason.value, source)

    async def _store_replies(
        self, session: AsyncSession, conversation: Conversation, replies: list[Reply]
    ) -> list[Message]:
        """Store outgoing replies (flushed, so they have ids)."""
        rows = [
            Message(
                conversation_id=conversation.id,
                direction="out",
                author="bot",
                text=reply.text,
                topic=reply.topic,
                language=reply.language,
                buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons] or None,
                created_at=utcnow(),
            )
            for reply in replies
        ]
        session.add_all(rows)
        await session.flush()
        metrics.MESSAGES.labels(conversation.channel, "out").inc(len(rows))
        return rows

    async def _erase(
        self,
        session: AsyncSession,
        conversation: Conversation,
        person_id: str,
        channel_user_id: str,
    ) -> Outcome:
        """Delete the person and all under them, here, in Rasa and in the rate limiter."""
        language = conversation.language
        reply = self._decider.reply("delete_done", conversation)
        erased = await self._provider_messages(session, conversation.id)
        person = await session.get(Person, person_id)
        if person is not None:
            await session.delete(person)
        # Rasa keeps the conversation's events too: noted in the same transaction, so a
        # failure or crash before Rasa forgot them leaves the retention job to retry.
        await session.merge(PendingForget(conversation_id=conversation.id))
        await session.commit()
        if self._limiter is not None:
            await self._limiter.forget(person_key(conversation.channel, channel_user_id))
        try:
            await forget_pending(self._sessions, self._engine, [conversation.id])
        except Exception as exc:  # erased here all the same; the retention job retries Rasa
            log.warning("erased conversation not yet forgotten by Rasa: %s", type(exc).__name__)
        log.info("conversation %s erased at the person's request", conversation.id)
        return Outcome(
            conversation_id=conversation.id,
            status=Status.CLOSED,
            escalation=None,
            language=language,
            replies=[reply],
            erased_messages=erased,
            unsaved=True,
        )

    async def _provider_messages(
        self, session: AsyncSession, conversation_id: str
    ) -> tuple[tuple[str, dt.datetime], ...]:
        """Provider ids (and times) of every message of a conversation, both directions."""
        inbound = await session.execute(
            select(Message.provider_message_id, Message.created_at).where(
                Message.conversation_id == conversation_id,
                Message.provider_message_id.is_not(None),
            )
        )
        outbound = await session.execute(
            select(Delivery.provider_message_id, Delivery.created_at).where(
                Delivery.conversation_id == conversation_id,
                Delivery.provider_message_id.is_not(None),
            )
        )
        return tuple(
            (str(pid), created) for pid, created in [*inbound.all(), *outbound.all()] if pid
        )

    async def store_topics(self, conversation_id: str, topics: list[str]) -> list[Reply]:
        """Render topics for a conversation, store them and queue them for its channel."""
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return []
            replies = [self._decider.reply(topic, conversation) for topic in topics]
            rows = await self._store_replies(session, conversation, replies)
            self._outbox.enqueue(session, conversation.channel, rows)
            await session.commit()
            return [reply_from_row(row, conversation.language) for row in rows]

    async def messages_after(
        self, channel: str, channel_user_id: str, after_id: int
    ) -> tuple[Conversation | None, list[Reply]]:
        """Messages sent to a person after a given message id (caseworker replies arrive so)."""
        person_id = self.person_id(channel, channel_user_id)
        async with self._sessions() as session:
            conversation = await session.scalar(
                select(Conversation).where(Conversation.person_id == person_id)
            )
            if conversation is None:
                return None, []
            rows = await session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.direction == "out",
                    Message.id > after_id,
                )
                .order_by(Message.id)
                .limit(200)
            )
            return conversation, [reply_from_row(row, conversation.language) for row in rows]

    @property
    def content(self) -> ContentStore:
        """The live content this service answers from."""
        return self._content

    def render(
        self, topic: str, language: str, country: str | None, channel: str | None = None
    ) -> Reply:
        """Render a topic's answer file as an unsent reply (also for the NLG endpoint)."""
        return self._decider.render_topic(topic, language, country, channel)
