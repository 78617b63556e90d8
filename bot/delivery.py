"""Sending replies through a person's channel and keeping what became of each part.

Channel adapters register a `ChannelSender` (how to talk to Telegram, Twilio, ...);
stored replies go through the outbox (bot/outbox.py), which records every part in
`deliveries`; this module also keeps the provider's later status reports (sent →
delivered → read, or failed with a code) and sends the few replies never stored.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.addresses import AddressBox
from bot.db.models import Conversation, Delivery, Message, OutboxItem
from bot.messages import Reply
from bot.outbox import Outbox
from bot.senders import ChannelSender
from bot.workers import Workers

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


class DeliveryService:
    """Sends replies through registered channels in the background and records the results."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: AddressBox,
        workers: Workers | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._senders: dict[str, ChannelSender] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.outbox = Outbox(sessions, self._senders, box, workers)
        self._order: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self, sender: ChannelSender) -> None:
        """Make a channel's sender available."""
        self._senders[sender.channel] = sender

    def handles(self, channel: str) -> bool:
        """Whether replies on this channel are pushed (not fetched, as on the web)."""
        return channel in self._senders

    def dispatch(self, channel: str, address: str, replies: Sequence[Reply]) -> asyncio.Task[None]:
        """Send replies that are not stored (a group notice, an erasure's confirmation)."""
        return self.background(self.deliver(channel, address, replies))

    def background(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run other channel work (e.g. deleting messages) tracked like sends."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def start(self) -> None:
        """Start this replica's outbox worker."""
        self.outbox.start()

    async def drain(self, timeout: float = 20.0) -> None:
        """On shutdown: stop the worker and wait for work in flight (the outbox keeps the rest)."""
        await self.outbox.stop()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def settle(self, timeout: float = 20.0) -> bool:
        """Wait until nothing is left to send (the outbox empty, background work done)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=timeout)
            await self.outbox.run_due()
            if not self._tasks and await self.outbox.depth() == 0:
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def deliver(self, channel: str, address: str, replies: Sequence[Reply]) -> None:
        """Send unstored replies one after another, in order per address; only counted."""
        sender = self._senders.get(channel)
        if sender is None:
            raise LookupError(f"no sender registered for channel {channel!r}")
        key = f"{channel}:{address}"
        lock = self._order.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._order[key] = lock
        async with lock:
            for reply in replies:
                try:
                    async for part in sender.send(address, reply, False):
                        metrics.DELIVERIES.labels(channel, part.status).inc()
                except Exception as exc:  # a bug or outage must not stop the rest
                    log.error("sending on %s failed: %s", channel, type(exc).__name__)

    async def deliver_stored(self, conversation_id: str, replies: Sequence[Reply]) -> bool:
        """Queue stored replies for their person's channel and send them now (a caseworker's).

        False when the conversation is gone or its channel fetches replies (the web chat).
        """
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or not self.handles(conversation.channel):
                return False
            ids = [reply.id for reply in replies if reply.id is not None]
            queued = set(
                await session.scalars(
                    select(OutboxItem.message_id).where(OutboxItem.message_id.in_(ids))
                )
            )
            rows = list(
                await session.scalars(
                    select(Message).where(Message.id.in_(ids), Message.id.not_in(queued))
                )
            )
            # Most callers queued them with the message itself; older rows are queued here.
            self.outbox.enqueue(session, conversation.channel, sorted(rows, key=lambda r: r.id))
            await session.commit()
        await self.outbox.run_due(conversation_id)
        # Another replica's worker may hold one of them: the caller wants them gone.
        await self.outbox.wait_sent(ids)
        return True

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
