"""The spool keeps WhatsApp messages in Redis while the database is down, encrypted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from bot.messages import InboundMessage
from bot.spool import DEAD_KEY, SPOOL_KEY, InboundSpool
from tests.conftest import redis_command

pytestmark = pytest.mark.anyio

SPOOL_REDIS = "redis://127.0.0.1:6379/7"


@pytest.fixture
def spool() -> Iterator[InboundSpool]:
    """A spool on a Redis db of these tests' own, emptied before and after."""
    redis_command(SPOOL_REDIS, "FLUSHDB")
    yield InboundSpool(SPOOL_REDIS)
    redis_command(SPOOL_REDIS, "FLUSHDB")


def message(number: int) -> InboundMessage:
    """A WhatsApp message with a canary in its words."""
    return InboundMessage(
        channel="whatsapp",
        channel_user_id="whatsapp:+258840000001",
        text=f"CANARY-{number} preciso de ajuda com o visto",
        provider_id=f"whatsapp:SM{number:032d}",
    )


async def test_spooled_messages_are_encrypted_and_replayed_in_order_once(
    spool: InboundSpool,
) -> None:
    """Kept encrypted (no words, no number in Redis), handed back oldest first, then gone."""
    for number in range(3):
        assert await spool.put(message(number))
    raw = str(redis_command(SPOOL_REDIS, "LRANGE", SPOOL_KEY, "0", "-1"))
    assert "CANARY" not in raw and "258840000001" not in raw
    handled: list[InboundMessage] = []

    async def handle(inbound: InboundMessage) -> None:
        handled.append(inbound)

    assert await spool.replay(handle) == 3
    assert handled == [message(0), message(1), message(2)]
    assert await spool.depth() == 0
    await spool.close()


async def test_a_database_still_down_keeps_the_message_and_a_broken_one_is_set_aside(
    spool: InboundSpool,
) -> None:
    """A database error keeps it for the next round; any other failure moves it aside."""
    assert await spool.put(message(1))

    async def database_down(_inbound: InboundMessage) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        await spool.replay(database_down)
    assert await spool.depth() == 1

    async def broken(_inbound: InboundMessage) -> None:
        raise ValueError("a bug")

    assert await spool.replay(broken) == 1
    assert await spool.depth() == 0
    assert redis_command(SPOOL_REDIS, "LLEN", DEAD_KEY) == 1
    await spool.close()


async def test_without_redis_nothing_is_kept_and_the_caller_says_try_again() -> None:
    """No REDIS_URL: put() says False, so the webhook answers 503 instead of pretending."""
    spool = InboundSpool(None)
    assert not await spool.put(message(1))
    assert await spool.depth() == 0
