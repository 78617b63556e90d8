"""Channel benchmarks: webhook acknowledgement and reply latency on Telegram and WhatsApp.

The real engine and gateway run; the providers are the recording servers of the tests
(on loopback), so the figures are our processing plus local HTTP, not Telegram's or
Twilio's networks. Messages arrive at 10 per second: faster, PTB's rate limiter holds
Telegram sends to Telegram's 30 messages per second (two replies per first message),
which is the limit working, not a cost of ours.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from functools import partial

import httpx

from bench.stats import percentile
from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, form_body, sign, twilio_form
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import TEST_AUTH_TOKEN, FakeTwilio

PAUSE_SECONDS = 0.1


def wait(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("no reply reached the recording server")
        time.sleep(0.0005)


def measure(
    post: Callable[[], httpx.Response],
    arrived: Callable[[], bool],
    acks: list[float],
    replies: list[float],
) -> None:
    """Time one message: webhook answered, then first reply at the provider; keep the pace."""
    t0 = time.perf_counter()
    response = post()
    acks.append((time.perf_counter() - t0) * 1e3)
    response.raise_for_status()
    wait(arrived)
    replies.append((time.perf_counter() - t0) * 1e3)
    time.sleep(max(0.0, PAUSE_SECONDS - (time.perf_counter() - t0)))


def telegram_reached(fake: FakeTelegram, chat: int) -> bool:
    """Whether the recording Bot API got a call for this chat."""
    return any(c.params.get("chat_id") == chat for c in fake.calls)


def twilio_reached(fake: FakeTwilio, number: str) -> bool:
    """Whether the recording Twilio API got a message to this number."""
    return any(s.params.get("To") == number for s in fake.sent)


def telegram_latencies(
    client: httpx.Client, fake: FakeTelegram, corpus: list[str]
) -> tuple[list[float], list[float]]:
    """(ack ms, first reply at the Bot API ms) for each text, each from a new chat."""
    acks: list[float] = []
    replies: list[float] = []
    for text in corpus:
        chat = 90_000_000 + secrets.randbelow(10**7)
        update = {
            "update_id": secrets.randbelow(2**31),
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private", "first_name": "B"},
                "from": {"id": chat, "is_bot": False, "first_name": "B"},
                "text": text,
            },
        }
        measure(
            partial(
                client.post,
                "/webhooks/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            ),
            partial(telegram_reached, fake, chat),
            acks,
            replies,
        )
    return acks, replies


def whatsapp_latencies(
    client: httpx.Client, fake: FakeTwilio, corpus: list[str]
) -> tuple[list[float], list[float]]:
    """(ack ms, first reply at the Twilio API ms) for each text, each from a new number."""
    acks: list[float] = []
    replies: list[float] = []
    for text in corpus:
        number = f"whatsapp:+2588{secrets.randbelow(10**8):08d}"
        params = twilio_form(
            "text", From=number, Body=text, MessageSid="SM" + secrets.token_hex(16)
        )
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(TEST_AUTH_TOKEN, f"{PUBLIC_URL}/webhooks/whatsapp", params),
        }
        measure(
            partial(client.post, "/webhooks/whatsapp", content=form_body(params), headers=headers),
            partial(twilio_reached, fake, number),
            acks,
            replies,
        )
    return acks, replies


def summary(name: str, acks: list[float], replies: list[float]) -> list[tuple[str, str]]:
    """Table rows for one channel."""
    n = len(acks)
    return [
        (
            f"{name} webhook answered, p50 / p95 (n={n}, 10 messages/s)",
            f"{statistics.median(acks):.0f} / {percentile(acks, 0.95):.0f} ms",
        ),
        (
            f"{name} first reply at the provider's API, p50 / p95",
            f"{statistics.median(replies):.0f} / {percentile(replies, 0.95):.0f} ms",
        ),
    ]
