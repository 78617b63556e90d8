"""The end-to-end stack in its production configuration: the gateway on PostgreSQL, Rasa's
tracker store in PostgreSQL and its lock store in Redis (rasa_project/endpoints.production.yml)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import redis_command
from tools.stack import Stack

pytestmark = pytest.mark.e2e


def talk(stack: Stack, text: str) -> dict[str, Any]:
    """A new web person's first message; the gateway's answer."""
    response = httpx.post(
        f"{stack.base_url}/api/web/messages",
        json={"user_id": f"prod-{secrets.token_hex(6)}", "text": text},
        timeout=30,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def tracker_events(stack: Stack, conversation_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, event) of every event Rasa stored for a conversation in its tracker database."""
    assert stack.tracker_db is not None, "the stack runs without a tracker database"
    with psycopg.connect(stack.tracker_db) as conn:
        rows = conn.execute(
            "SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id",
            (conversation_id,),
        ).fetchall()
    return [(str(kind), json.loads(data)) for kind, data in rows]


@contextmanager
def redis_monitor(redis_url: str) -> Iterator[list[str]]:
    """Every command the Redis server runs while the block lasts (MONITOR), as text lines."""
    host, _, port = redis_url.removeprefix("redis://").split("/")[0].partition(":")
    lines: list[str] = []
    sock = socket.create_connection((host, int(port or 6379)), timeout=5)
    reader = sock.makefile("rb")
    sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
    assert reader.readline().strip() == b"+OK"
    sock.settimeout(None)

    def collect() -> None:
        """Read monitor lines until the socket is closed."""
        try:
            for raw in reader:
                lines.append(raw.decode(errors="replace").rstrip("\r\n"))
        except (OSError, ValueError):
            pass

    reading = threading.Thread(target=collect, daemon=True)
    reading.start()
    try:
        yield lines
    finally:
        time.sleep(0.3)  # let the last commands arrive
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        reading.join(timeout=5)


def test_the_gateway_stores_conversations_in_postgresql(stack: Stack) -> None:
    """The gateway's DATABASE_URL is the PostgreSQL database: the conversation is a row there."""
    assert stack.database_url.startswith("postgresql://")
    conversation = talk(stack, "what are the warning signs of a fake job offer?")["conversation_id"]
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT channel FROM conversations WHERE id = %s", (conversation,)
        ).fetchone()
    assert row == ("web",)


def test_a_conversation_leaves_its_rasa_events_in_the_postgresql_tracker(stack: Stack) -> None:
    """Rasa's SQL tracker store holds the person's message and the bot's reply under the id."""
    text = "what are the warning signs of trafficking"
    answer = talk(stack, text)
    conversation = answer["conversation_id"]
    events = tracker_events(stack, conversation)
    kinds = [kind for kind, _ in events]
    assert ("user", text) in [(kind, event.get("text")) for kind, event in events]
    assert "bot" in kinds, kinds
    assert "action" in kinds, kinds
    # The reply the gateway gave is the response Rasa recorded (rendered through our NLG).
    bot_texts = [event["data"]["custom"].get("text") for kind, event in events if kind == "bot"]
    assert answer["replies"][0]["text"] in bot_texts, [e for k, e in events if k == "bot"]


def test_rasa_locks_each_conversation_in_its_redis_db_and_releases_it(stack: Stack) -> None:
    """While Rasa handles a message it holds lock:<conversation> in Redis db 3, deleted after."""
    assert stack.redis_url is not None, "the stack runs without Redis"
    db = stack.redis_url.rsplit("/", 1)[1]
    with redis_monitor(stack.redis_url) as commands:
        conversation = talk(stack, "how can I migrate safely?")["conversation_id"]
    key = f'"lock:{conversation}"'
    on_key = [line for line in commands if key in line]
    assert any(f"[{db} " in line and '"SET"' in line.upper() for line in on_key), on_key
    assert any('"DEL"' in line.upper() for line in on_key), on_key
    assert redis_command(stack.redis_url, "EXISTS", f"lock:{conversation}") == 0
