"""Sending replies through a person's channel and keeping what became of each part.

Channel adapters register a `ChannelSender` (how to talk to Telegram, Twilio, ...);
this module decides when, records every part in `deliveries`, and keeps the
provider's later status reports (sent → delivered → read, or failed with a code).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.addresses import AddressBox
from bot.db.models import Conversation, Delivery, Message, Person, utcnow
from bot.messages import Reply

log = logging.getLogger(__name__)

# How far a provider's status report may move a delivery: never backwards.
STATUS_RANK: dict[str, int] = {
    "not_sent": 0,
    "accepted": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "failed": 6,
    "undelivered": 6,
}
OUTSIDE_WINDOW = "outside_24h_window"


@dataclass(frozen=True)
class SentPart:
    """What a channel did with one part of a reply."""

    status: str
    provider_message_id: str | None = None
    error_code: str | None = None
    reason: str | None = None


class ChannelSender(Protocol):
    """How one channel sends a reply; adapters implement it."""

    channel: str
    # How long after the person's last message free-form replies are allowed (None: always).
    reply_window: dt.timedelta | None

    def send(self, address: str, reply: Reply, outside_window: bool) -> AsyncIterator[SentPart]:
        """Send one reply, yielding each part as it goes; never raise for a refusal."""
        ...


class DeliveryService:
    """Sends replies through registered channels in the background and records the results."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: AddressBox) -> None:
        self._sessions = sessions
        self._box = box
        self._senders: dict[str, ChannelSender] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._order: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self, sender: ChannelSender) -> None:
        """Make a channel's sender available."""
        self._senders[sender.channel] = sender

    def handles(self, channel: str) -> bool:
        """Whether replies on this channel are pushed (not fetched, as on the web)."""
        return channel in self._senders

    def dispatch(
        self,
        channel: str,
        address: str,
        replies: Sequence[Reply],
        last_inbound_at: dt.datetime | None,
        conversation_id: str | None,
    ) -> asyncio.Task[None]:
        """Send replies in the background, in order per address; the task is tracked."""
        return self.background(
            self.deliver(channel, address, replies, last_inbound_at, conversation_id)
        )

    def background(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run other channel work (e.g. deleting messages) tracked like sends."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 20.0) -> None:
        """Wait for sends in flight (on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def deliver(
        self,
        channel: str,
        address: str,
        replies: Sequence[Reply],
        last_inbound_at: dt.datetime | None,
        conversation_id: str | None,
    ) -> None:
        """Send replies one after another and record each part's result."""
        sender = self._senders.get(channel)
        if sender is None:
            raise LookupError(f"no sender registered for channel {channel!r}")
        key = f"{channel}:{address}"
        lock = self._order.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._order[key] = lock
        async with lock:
            outside = bool(
                sender.reply_window is not None
                and last_inbound_at is not None
                and utcnow() - last_inbound_at > sender.reply_window
            )
            template_sent = False
            for reply in replies:
                record = reply.id is not None and conversation_id is not None
                if outside and template_sent:
                    # One template reopens the conversation; the other replies wait for it.
                    parts = [SentPart("not_sent", reason=OUTSIDE_WINDOW)]
                    for index, part in enumerate(parts):
                        await self._note(channel, conversation_id, reply, index, part, record)
                    continue
                index = 0
                try:
                    async for part in sender.send(address, reply, outside):
                        await self._note(channel, conversation_id, reply, index, part, record)
                        template_sent = template_sent or (outside and part.status != "not_sent")
                        index += 1
                except Exception as exc:  # a bug or outage must not lose the record
                    log.error("sending on %s failed: %s", channel, type(exc).__name__)
                    part = SentPart(status="failed", reason=type(exc).__name__[:64])
                    await self._note(channel, conversation_id, reply, index, part, record)

    async def _note(
        self,
        channel: str,
        conversation_id: str | None,
        reply: Reply,
        index: int,
        part: SentPart,
        record: bool,
    ) -> None:
        """Count a sent part and store it at once (status callbacks may follow quickly)."""
        metrics.DELIVERIES.labels(channel, part.status).inc()
        if not record or reply.id is None or conversation_id is None:
            return
        try:
            await self._record(channel, conversation_id, reply.id, index, part)
        except Exception as exc:  # recording must never stop the remaining sends
            log.error("delivery not recorded: %s", type(exc).__name__)

    async def deliver_stored(self, conversation_id: str, replies: Sequence[Reply]) -> bool:
        """Send already stored replies to a conversation's person (e.g. a caseworker's)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Conversation, Person)
                    .join(Person, Person.id == Conversation.person_id)
                    .where(Conversation.id == conversation_id)
                )
            ).first()
        if row is None:
            return False
        conversation, person = row
        address = self._box.open(person.address) if person.address else None
        if address is None or conversation.channel not in self._senders:
            return False
        await self.deliver(
            conversation.channel, address, replies, conversation.last_inbound_at, conversation.id
        )
        return True

    async def _record(
        self, channel: str, conversation_id: str, message_id: int, index: int, part: SentPart
    ) -> None:
        """Store one delivery row (the message may have been erased meanwhile)."""
        async with self._sessions() as session:
            if await session.get(Message, message_id) is None:
                return
            session.add(
                Delivery(
                    message_id=message_id,
                    conversation_id=conversation_id,
                    channel=channel,
                    part=index,
                    provider_message_id=part.provider_message_id,
                    status=part.status,
                    error_code=part.error_code,
                    reason=part.reason,
                )
            )
            await session.commit()

    async def update_status(
        self,
        channel: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        wait_seconds: float = 2.0,
    ) -> bool:
        """Apply a provider's status report; False when the message is unknown (or erased).

        A report can overtake the recording of the send it is about: wait briefly for it.
        """
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while True:
            async with self._sessions() as session:
                delivery = await session.scalar(
                    select(Delivery).where(
                        Delivery.channel == channel,
                        Delivery.provider_message_id == provider_message_id,
                    )
                )
                if delivery is not None:
                    if STATUS_RANK.get(status, -1) >= STATUS_RANK.get(delivery.status, 0):
                        delivery.status = status
                        if error_code:
                            delivery.error_code = error_code[:16]
                    await session.commit()
                    return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.2)
