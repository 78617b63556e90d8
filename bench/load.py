"""The load generator: simulated people on an asyncio httpx client, against the app or a Rasa.

Each simulated person is a new sender id that sends `per_person` messages one after
another (a short conversation, not only first messages); `concurrency` people talk at
once. One AsyncClient per run holds a keep-alive pool at least as large as the
concurrency, so neither side pays a TCP connect per message.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

APP_PATH = "/api/web/messages"
RASA_REST_PATH = "/webhooks/rest/webhook"
TOKEN_CHANNEL_PATH = "/webhooks/rota/webhook"  # the app's engine, as the gateway calls it


@dataclass(frozen=True)
class Target:
    """Where messages go: the gateway's web API, Rasa's own REST channel, or the app's engine.

    `engine` is the app's own Rasa called directly on its token channel, as the gateway
    calls it (its replies still come from our NLG endpoint): a diagnostic that splits
    the app's time between the gateway and its engine. `floor` is the architecture floor,
    Rasa's own REST channel on a Rasa whose NLG endpoint is a minimal server (bench/floor.py).
    """

    kind: Literal["app", "rasa", "engine", "floor"]
    base_url: str
    token: str | None = None

    @property
    def path(self) -> str:
        """The endpoint a message is posted to."""
        return {
            "app": APP_PATH,
            "rasa": RASA_REST_PATH,
            "engine": TOKEN_CHANNEL_PATH,
            "floor": RASA_REST_PATH,
        }[self.kind]

    @property
    def headers(self) -> dict[str, str]:
        """The token channel's bearer header, when there is a token."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def body(self, sender: str, text: str) -> dict[str, Any]:
        """The JSON body of one message."""
        if self.kind == "app":
            return {"user_id": sender, "text": text}
        if self.kind == "engine":
            return {"sender": sender, "message": text, "metadata": {"channel": "web"}}
        return {"sender": sender, "message": text}


@dataclass
class RunResult:
    """One run: latencies of the answered messages, failures, and the wall time."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    escalated: int = 0
    elapsed_s: float = 0.0

    @property
    def completed(self) -> int:
        """Messages answered with a usable reply."""
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        """Messages answered per second of wall time."""
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def new_sender() -> str:
    """A fresh sender id for one simulated person (never logged)."""
    return f"bench-{secrets.token_hex(8)}"


def judge(target: Target, response: httpx.Response, result: RunResult, ms: float) -> None:
    """Count one response: a usable reply adds its latency; anything else is counted apart."""
    if response.status_code != 200:
        result.errors += 1
        return
    try:
        data: Any = response.json()
    except ValueError:
        result.errors += 1
        return
    if target.kind == "app":
        if not isinstance(data, dict) or not data.get("replies"):
            result.empty += 1
            return
        if data.get("status") != "bot":
            result.escalated += 1
    elif not isinstance(data, list) or not data:
        result.empty += 1
        return
    result.latencies_ms.append(ms)


def pool(target: Target, concurrency: int) -> httpx.AsyncClient:
    """One keep-alive client with room for every simulated person at once."""
    size = concurrency + 4
    return httpx.AsyncClient(
        base_url=target.base_url,
        headers=target.headers,
        limits=httpx.Limits(
            max_connections=size, max_keepalive_connections=size, keepalive_expiry=30
        ),
        timeout=httpx.Timeout(60.0, connect=5.0),
    )


async def drive(
    target: Target,
    texts: Sequence[str],
    *,
    concurrency: int,
    per_person: int,
    people: int | None = None,
    seconds: float | None = None,
) -> RunResult:
    """Run `people` conversations, or as many as fit in `seconds`, `concurrency` at a time.

    Texts are taken in order (the same order for every target); with `seconds`, no new
    message starts after the deadline and the wall time ends with the last answer.
    """
    if (people is None) == (seconds is None):
        raise ValueError("give either people or seconds")
    if not texts:
        raise ValueError("no texts to send")
    result = RunResult()
    cycle: Iterator[str] = itertools.cycle(texts)
    remaining = itertools.count() if people is None else iter(range(people))
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else float("inf")
    async with pool(target, concurrency) as client:

        async def person_loop() -> None:
            """One simulated person after another, until the work or the time runs out."""
            while time.perf_counter() < deadline and next(remaining, None) is not None:
                sender = new_sender()
                for _ in range(per_person):
                    if time.perf_counter() >= deadline:
                        return
                    body = target.body(sender, next(cycle))
                    t0 = time.perf_counter()
                    try:
                        response = await client.post(target.path, json=body)
                    except httpx.HTTPError:
                        result.errors += 1
                        continue
                    judge(target, response, result, (time.perf_counter() - t0) * 1e3)

        await asyncio.gather(*(person_loop() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def first_replies(
    target: Target, texts: Sequence[str], concurrency: int = 4
) -> list[dict[str, Any] | list[Any] | None]:
    """Each text as the first message of a new person; the parsed answers (None if not 200)."""
    semaphore = asyncio.Semaphore(concurrency)
    async with pool(target, concurrency) as client:

        async def one(text: str) -> dict[str, Any] | list[Any] | None:
            """Send one text from a new sender."""
            async with semaphore:
                response = await client.post(target.path, json=target.body(new_sender(), text))
            if response.status_code != 200:
                return None
            data: dict[str, Any] | list[Any] = response.json()
            return data

        return list(await asyncio.gather(*(one(t) for t in texts)))
