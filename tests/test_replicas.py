"""Two gateway replicas on one PostgreSQL database behave as one."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bot import queue_signal
from bot.accounts import Role
from tests.channel_kit import console_account, console_sign_in, parts, rows, running
from tests.factories import build_app, message
from tests.faults.harness import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def shared_postgres(postgres_url: str) -> str:
    """A PostgreSQL schema of the test's own, for two replicas to share."""
    schema = f"r_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{postgres_url}?options=-csearch_path%3D{schema}"


async def test_two_replicas_answer_one_persons_messages_one_at_a_time(
    shared_postgres: str, content_copy: Path
) -> None:
    """Ten messages of one person split over two replicas at once: each answered before the next.

    Stored in id order, every message of the person is followed by its replies before
    the next message is taken in (a lock in the database, not in one process).
    """
    first = build_app(shared_postgres, content_copy)
    second = build_app(shared_postgres, content_copy)
    first.rasa.delay = second.rasa.delay = 0.05  # long enough for the other replica to try
    for replica in (first, second):  # both alive (their lifespans would beat)
        await parts(replica).workers.beat()
    words = [f"como tirar o passaporte, pergunta {n}" for n in range(10)]
    async with first.client() as one, second.client() as other:
        answers = await asyncio.gather(
            *(
                (one if n % 2 else other).post(
                    "/api/web/messages", json=message("same-person", text)
                )
                for n, text in enumerate(words)
            )
        )
    assert [answer.status_code for answer in answers] == [200] * 10
    directions = [d for (d,) in rows(first, "SELECT direction FROM messages ORDER BY id")]
    assert directions.count("in") == 10
    assert "in,in" not in ",".join(directions)  # never two taken in before one was answered
    assert directions[-1] == "out"
    asked = [body["message"] for body in [*first.rasa.received, *second.rasa.received]]
    assert sorted(asked) == sorted(words)


def test_a_case_escalated_on_one_replica_reaches_a_live_queue_on_the_other_at_once(
    shared_postgres: str, content_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica A escalates; the console page streaming from replica B shows it in under 2 s.

    B re-reads the queue on its own only every 60 s here, so only the database's
    NOTIFY (sent by a trigger, heard by B's listener) can bring the case that fast.
    """
    monkeypatch.setattr(queue_signal, "FALLBACK_SECONDS", 60.0)
    replica_a = build_app(shared_postgres, content_copy)
    replica_b = build_app(shared_postgres, content_copy)
    with running(replica_a) as a, running(replica_b) as b:
        console_account(b, replica_b, "ana", Role.CASEWORKER)
        assert console_sign_in(b, "ana") == 303
        wait_until(lambda: parts(replica_b).queue_signal.wait_seconds == 60.0, timeout=10)
        with b.stream("GET", "/console/api/queue/events") as events:
            lines = events.iter_lines()
            assert next(line for line in lines if line.startswith("data:")) == "data: []"
            sent = time.monotonic()
            escalated = a.post(
                "/api/web/messages",
                json=message("in-danger", "me tiraram o passaporte e não me deixam sair"),
            )
            assert escalated.json()["status"] == "queued"
            shown = next(line for line in lines if line.startswith("data:"))
            delay = time.monotonic() - sent
    assert json.loads(shown.removeprefix("data: "))[0]["reason"] == "distress"
    assert delay < 2.0


async def test_a_change_heard_while_a_page_reads_the_queue_wakes_it_at_once(
    shared_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NOTIFY that lands between reading the queue and waiting is not lost.

    The page notes the signal's generation before it reads; a change heard after that
    makes the next wait return at once instead of after the 60 s fallback.
    """
    monkeypatch.setattr(queue_signal, "FALLBACK_SECONDS", 0.5)
    signal = queue_signal.QueueSignal(
        shared_postgres.replace("postgresql:", "postgresql+psycopg:", 1)
    )
    signal.start()
    try:
        await asyncio.wait_for(_until(lambda: signal.wait_seconds == 0.5), 10)
        seen = signal.generation  # the page is about to read the queue...
        with psycopg.connect(shared_postgres, autocommit=True) as conn:
            conn.execute(f"NOTIFY {queue_signal.CHANNEL}")  # ...a replica changes it meanwhile
        await asyncio.wait_for(_until(lambda: signal.generation != seen), 10)
        started = time.monotonic()
        assert await signal.wait(seen) is True  # ...and only now does the page wait
        assert time.monotonic() - started < 0.1
        assert await signal.wait(signal.generation) is False  # nothing new: waits its time out
    finally:
        await signal.stop()


async def _until(condition: Callable[[], bool]) -> None:
    """Return once the condition holds (polled on the event loop)."""
    while not condition():
        await asyncio.sleep(0.01)
