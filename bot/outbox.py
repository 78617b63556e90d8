"""The outbox: stored replies waiting to go out through a push channel, drained by workers.

A reply is written to `outbox` in the same transaction as the reply itself, so a crash
between answering and sending loses nothing. Every replica runs a worker that takes due
items under a short lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, plus a conditional
UPDATE that is the real guard on every database), oldest first and only the oldest item
of each conversation, so one person's replies leave in order. Each part the channel
accepts is recorded together with the item's progress in one transaction; a retry after
a crash, a rate limit (`retry_after`) or an outage starts after the parts already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import AsyncIterator, Mapping, Sequence

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot import metrics
from bot.addresses import AddressBox
from bot.content.model import Button
from bot.db.models import Conversation, Delivery, Message, OutboxItem, Person, utcnow
from bot.messages import Reply
from bot.senders import OUTSIDE_WINDOW, TEMPLATE_SENT, ChannelSender, SentPart
from bot.workers import Workers

log = logging.getLogger(__name__)

# How long a worker holds an item; longer than one send may take (HTTP timeouts ≤ 15 s).
LEASE = dt.timedelta(seconds=30)
# How often an idle worker looks for due items enqueued by other replicas or retries.
POLL_SECONDS = 1.0
PARALLEL_SENDS = 8
MAX_BACKOFF_SECONDS = 300.0
# A reply that could not go out for this long is recorded as failed and given up.
GIVE_UP_AFTER = dt.timedelta(hours=24)


def reply_from_row(row: Message, language: str) -> Reply:
    """A stored outgoing message as a Reply."""
    return Reply(
        id=row.id,
        text=row.text or "",
        topic=row.topic,
        language=row.language or language,
        buttons=tuple(Button(b["title"], b["payload"]) for b in row.buttons or []),
        author=row.author,
        created_at=row.created_at,
    )


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 … seconds, at most five minutes."""
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(1, attempts))
    return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


class Outbox:
    """Queues stored replies for sending and drains them, on any number of replicas."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, ChannelSender],
        box: AddressBox,
        workers: Workers | None = None,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._box = box
        self._workers = workers
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._limit = asyncio.Semaphore(PARALLEL_SENDS)

    # --- queueing -----------------------------------------------------------

    def enqueue(self, session: AsyncSession, channel: str, rows: Sequence[Message]) -> int:
        """Add flushed outgoing messages to the outbox in the caller's transaction."""
        if channel not in self._senders:
            return 0  # the web chat fetches its replies
        now = utcnow()
        for row in rows:
            session.add(
                OutboxItem(
                    message_id=row.id,
                    conversation_id=row.conversation_id,
                    channel=channel,
                    due_at=now,
                    created_at=now,
                )
            )
        return len(rows)

    def wake(self) -> None:
        """Tell this replica's worker that something is due now."""
        self._wake.set()

    async def depth(self) -> int:
        """How many replies wait in the outbox."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count(OutboxItem.id))) or 0)

    # --- draining -----------------------------------------------------------

    async def take(
        self, conversation_id: str | None = None, limit: int = PARALLEL_SENDS
    ) -> list[tuple[int, dt.datetime]]:
        """Lease due items: the oldest of each conversation, none another worker holds."""
        now = utcnow()
        older = aliased(OutboxItem)
        free = or_(
            OutboxItem.leased_until.is_(None),
            OutboxItem.leased_until < now,
            # Held by a replica that stopped beating (killed): take it over at once.
            *([self._workers.dead(OutboxItem.leased_by, now)] if self._workers else []),
        )
        holder = self._workers.id if self._workers else None
        query = (
            select(OutboxItem.id)
            .where(
                OutboxItem.due_at <= now,
                free,
                ~exists().where(
                    and_(
                        older.conversation_id == OutboxItem.conversation_id,
                        older.id < OutboxItem.id,
                    )
                ),
            )
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if conversation_id is not None:
            query = query.where(OutboxItem.conversation_id == conversation_id)
        taken: list[tuple[int, dt.datetime]] = []
        until = now + LEASE
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=OutboxItem)
            candidates = list(await session.scalars(query))
            for item_id in candidates:
                # The conditional update is the guard on every database (SQLite has no
                # SKIP LOCKED): of two workers, only one moves the lease.
                result = await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item_id, free)
                    .values(leased_until=until, leased_by=holder)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    taken.append((item_id, until))
            await session.commit()
        return taken

    async def run_due(self, conversation_id: str | None = None) -> int:
        """Send what is due now (for one conversation, or all); the number of items taken."""
        total = 0
        while True:
            taken = await self.take(conversation_id)
            if not taken:
                return total
            total += len(taken)
            await asyncio.gather(*(self._guarded_send(item, until) for item, until in taken))
            if self._stopping:
                return total  # shutting down: what is left stays queued for the others

    async def _guarded_send(self, item_id: int, until: dt.datetime) -> None:
        """Send one item with bounded parallelism; a failure leaves it for a retry."""
        async with self._limit:
            try:
                await self.send_item(item_id, until)
            except Exception as exc:  # the lease expires and another attempt follows
                log.error("outbox item %s not sent: %s", item_id, type(exc).__name__)

    async def _renew(self, item_id: int, until: dt.datetime) -> dt.datetime | None:
        """Extend our lease on an item; None if it ran out and another worker holds it now."""
        renewed = utcnow() + LEASE
        async with self._sessions() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.leased_until == until)
                .values(leased_until=renewed)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return renewed if getattr(result, "rowcount", 0) == 1 else None

    async def send_item(self, item_id: int, until: dt.datetime) -> None:
        """Send one leased item from where it stopped, recording each part as it goes.

        Every step checks the lease is still ours (`until`): a worker that waited too
        long never sends what another worker has taken over meanwhile.
        """
        lease = await self._renew(item_id, until)
        if lease is None:
            return
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(OutboxItem, Message, Conversation, Person)
                    .join(Message, Message.id == OutboxItem.message_id)
                    .join(Conversation, Conversation.id == OutboxItem.conversation_id)
                    .join(Person, Person.id == Conversation.person_id)
                    .where(OutboxItem.id == item_id)
                )
            ).first()
            if row is None:
                return  # erased meanwhile: the cascade took the item too
            item, message, conversation, person = row
            sender = self._senders.get(item.channel)
            address = self._box.open(person.address) if person.address else None
            if sender is None or address is None:
                await self._give_up(session, item, "no_channel_address")
                return
            if utcnow() - item.created_at > GIVE_UP_AFTER:
                await self._give_up(session, item, "gave_up_after_24h")
                return
            outside = await self._outside_window(session, sender, conversation)
            reply = reply_from_row(message, conversation.language)
            skip = item.parts_done
        index = skip
        parts = (
            _single(SentPart("not_sent", reason=OUTSIDE_WINDOW))
            if outside == "template_already_sent"
            else sender.send(address, reply, bool(outside), skip)
        )
        async for part in parts:
            if part.status == "retry":
                await self._reschedule(item_id, part, lease)
                return
            metrics.DELIVERIES.labels(item.channel, part.status).inc()
            lease = await self._record_part(item, index, part, lease)
            if lease is None:
                return  # taken over: the part is recorded, the rest is the other's
            index += 1
            if part.status in ("failed", "undelivered", "not_sent"):
                break
        await self._finish(item_id, lease)

    async def _outside_window(
        self, session: AsyncSession, sender: ChannelSender, conversation: Conversation
    ) -> str:
        """Empty inside the window; "outside", or "template_already_sent" if one reopened it."""
        window = sender.reply_window
        last = conversation.last_inbound_at
        if window is None or last is None or utcnow() - last <= window:
            return ""
        template_sent = await session.scalar(
            select(Delivery.id)
            .where(
                Delivery.conversation_id == conversation.id,
                Delivery.created_at > last,
                Delivery.reason == TEMPLATE_SENT,
                Delivery.status != "failed",
            )
            .limit(1)
        )
        return "template_already_sent" if template_sent is not None else "outside"

    async def _record_part(
        self, item: OutboxItem, index: int, part: SentPart, lease: dt.datetime
    ) -> dt.datetime | None:
        """Keep one sent part and the item's progress together; the renewed lease, if ours."""
        renewed = utcnow() + LEASE
        async with self._sessions() as session:
            session.add(
                Delivery(
                    message_id=item.message_id,
                    conversation_id=item.conversation_id,
                    channel=item.channel,
                    part=index,
                    provider_message_id=part.provider_message_id,
                    status=part.status,
                    error_code=part.error_code,
                    reason=part.reason,
                )
            )
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.leased_until == lease)
                .values(parts_done=index + 1, leased_until=renewed)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return renewed if getattr(result, "rowcount", 0) == 1 else None

    async def _reschedule(self, item_id: int, part: SentPart, lease: dt.datetime) -> None:
        """Try again later: after the provider's retry_after, else with backoff."""
        async with self._sessions() as session:
            item = await session.get(OutboxItem, item_id)
            if item is None or item.leased_until != lease:
                return  # erased, or taken over by another worker
            item.attempts += 1
            wait = part.retry_after if part.retry_after is not None else None
            delay = wait if wait is not None else backoff_seconds(item.attempts)
            item.due_at = utcnow() + dt.timedelta(seconds=delay)
            item.leased_until = None
            item.last_error = (part.reason or "retry")[:64]
            await session.commit()
        metrics.OUTBOX_RETRIES.labels(item.channel, item.last_error or "retry").inc()

    async def _finish(self, item_id: int, lease: dt.datetime) -> None:
        """Every part went (or was refused for good): the item leaves the outbox."""
        async with self._sessions() as session:
            await session.execute(
                delete(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.leased_until == lease)
            )
            await session.commit()

    async def _give_up(self, session: AsyncSession, item: OutboxItem, reason: str) -> None:
        """Record a reply that cannot be sent, with why, and drop it from the outbox."""
        session.add(
            Delivery(
                message_id=item.message_id,
                conversation_id=item.conversation_id,
                channel=item.channel,
                part=item.parts_done,
                status="failed",
                reason=reason,
            )
        )
        await session.delete(item)
        await session.commit()
        metrics.DELIVERIES.labels(item.channel, "failed").inc()
        log.warning("outbox item %s given up: %s", item.id, reason)

    # --- the worker ---------------------------------------------------------

    def start(self) -> None:
        """Drain in the background until stopped (every replica runs one)."""
        self._stopping = False
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the sends in hand (up to `grace` seconds), then stop; the rest stays queued."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except (TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    async def wait_sent(self, message_ids: Sequence[int], timeout: float = 20.0) -> bool:
        """Wait until these messages have left the outbox (sent, refused or given up)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self._sessions() as session:
                left = await session.scalar(
                    select(func.count(OutboxItem.id)).where(OutboxItem.message_id.in_(message_ids))
                )
            if not left:
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def _run(self) -> None:
        """Drain what is due, then wait for a wake-up or the next poll."""
        while not self._stopping:
            try:
                await self.run_due()
            except Exception as exc:  # e.g. the database restarting: try again shortly
                log.error("outbox drain failed: %s", type(exc).__name__)
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            self._wake.clear()


async def _single(part: SentPart) -> AsyncIterator[SentPart]:
    """An async iterator over one part."""
    yield part
