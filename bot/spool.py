"""A message that could not be stored (database down) is kept in Redis until it can be.

Telegram delivers an update again until it gets a 2xx, so its webhook answers 503 when
the database is down. Twilio does not retry a WhatsApp webhook that failed (only, with
URL connection overrides, one that could not connect), so a verified WhatsApp message
is put here instead — encrypted with the message-body keys — and acknowledged. Every
replica's watcher (bot/backlog.py) hands spooled messages to the core once the
database answers; the provider id makes a message spooled twice count once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.db import crypto
from bot.messages import InboundError, InboundMessage

log = logging.getLogger(__name__)

SPOOL_KEY = "rota:spool:inbound"
# Spooled messages that failed when handled: kept (encrypted) for a person to look at.
DEAD_KEY = "rota:spool:dead"
REPLAY_BATCH = 200


class InboundSpool:
    """Keeps verified inbound messages in a Redis list while the database is down."""

    def __init__(self, redis_url: str | None) -> None:
        # redis-py types list commands as sync-or-async: the casts say which they are here.
        self._redis: Redis | None = (
            Redis.from_url(
                redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
            )
            if redis_url
            else None
        )

    @property
    def available(self) -> bool:
        """Whether there is a Redis to keep messages in."""
        return self._redis is not None

    async def put(self, inbound: InboundMessage) -> bool:
        """Keep a message (encrypted); False when it could not be kept (the caller says 503)."""
        if self._redis is None:
            return False
        sealed = crypto.keyring().seal(json.dumps(dataclasses.asdict(inbound)))
        try:
            await cast(Awaitable[int], self._redis.rpush(SPOOL_KEY, sealed))
        except RedisError as exc:
            log.error("message could not be spooled either: %s", type(exc).__name__)
            return False
        metrics.SPOOLED.labels(inbound.channel).inc()
        return True

    async def replay(self, handle: Any) -> int:
        """Hand spooled messages to `handle` (the core) oldest first; how many went.

        A message leaves the list only after `handle` returned, so a crash or a database
        still down keeps it for the next round (the provider id prevents a double).
        """
        if self._redis is None:
            return 0
        replayed = 0
        try:
            for _ in range(REPLAY_BATCH):
                sealed = await cast(Awaitable[str | None], self._redis.lindex(SPOOL_KEY, 0))
                if sealed is None:
                    break
                inbound = self._open(sealed)
                if inbound is not None:
                    try:
                        await handle(inbound)
                    except SQLAlchemyError:
                        raise  # the database is still away: keep it for the next round
                    except Exception as exc:
                        # Fails whenever handled (a bug): set aside, not retried in a loop.
                        log.error("spooled message set aside: %s", type(exc).__name__)
                        await cast(Awaitable[int], self._redis.rpush(DEAD_KEY, sealed))
                await cast(Awaitable[int], self._redis.lrem(SPOOL_KEY, 1, sealed))
                replayed += 1
        except RedisError as exc:
            log.warning("spool not replayed: %s", type(exc).__name__)
        return replayed

    async def depth(self) -> int:
        """How many messages wait in the spool (0 without Redis)."""
        if self._redis is None:
            return 0
        try:
            return int(await cast(Awaitable[int], self._redis.llen(SPOOL_KEY)))
        except RedisError:
            return 0

    @staticmethod
    def _open(sealed: str) -> InboundMessage | None:
        """The message back from its sealed form; None (and a log line) if unreadable."""
        try:
            return InboundMessage(**json.loads(crypto.reveal(sealed)))
        except (ValueError, TypeError, InboundError) as exc:
            log.error("spooled message unreadable, dropped: %s", type(exc).__name__)
            return None

    async def close(self) -> None:
        """Close the Redis connection."""
        if self._redis is not None:
            await self._redis.aclose()
