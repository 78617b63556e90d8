"""With the Rasa engine down: one "trouble" reply with help, nothing lost, answered when back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.app import Components
from bot.db.session import sync_url
from tests.channel_kit import rows
from tests.factories import App, build_app, message

pytestmark = pytest.mark.anyio

SECOND = "e quanto custa o visto de trabalho"
THIRD = "e onde fica o consulado"


def parts(app: App) -> Components:
    """The running parts of an in-process gateway."""
    components: Components = app.app.state.components
    return components


async def send(app: App, user_id: str, words: str) -> dict[str, object]:
    """A web message; the JSON answer."""
    async with app.client() as client:
        response = await client.post("/api/web/messages", json=message(user_id, words))
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def topics(body: dict[str, object]) -> list[str]:
    """The topics of the replies in a web answer."""
    replies = body["replies"]
    assert isinstance(replies, list)
    return [str(reply["topic"]) for reply in replies]


async def test_one_trouble_reply_per_outage_and_every_message_answered_in_order_when_back(
    gateway: App, user_id: str
) -> None:
    """Three messages while Rasa is down: one "trouble" reply; when back, three answers in order."""
    gateway.rasa.up = False
    first = await send(gateway, user_id, "como preparar minha viagem para joburg")
    second = await send(gateway, user_id, SECOND)
    third = await send(gateway, user_id, THIRD)
    assert topics(first) == ["unavailable", "privacy_notice"]
    assert topics(second) == [] and topics(third) == []
    assert await parts(gateway).backlog.run_once() == 0  # still down: nothing, no new reply
    assert gateway.rasa.received == []

    gateway.rasa.up = True
    gateway.rasa.route = lambda words: "documents" if "visto" in words else "safe_migration"
    assert await parts(gateway).backlog.run_once() == 3
    asked = [body["message"] for body in gateway.rasa.received]
    assert asked == ["como preparar minha viagem para joburg", SECOND, THIRD]
    sent = rows(
        gateway,
        "SELECT topic FROM messages WHERE direction = 'out' ORDER BY id",
    )
    assert [topic for (topic,) in sent] == [
        "unavailable",
        "privacy_notice",
        "safe_migration",
        "documents",
        "safe_migration",
    ]
    assert rows(gateway, "SELECT count(*) FROM messages WHERE awaiting_engine") == [(0,)]
    assert await parts(gateway).backlog.run_once() == 0  # answered once, never twice


async def test_a_message_after_the_engine_returns_waits_behind_the_backlog(
    gateway: App, user_id: str
) -> None:
    """Words sent after Rasa is back but before the backlog ran are answered after it, in order."""
    gateway.rasa.up = False
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    gateway.rasa.up = True
    later = await send(gateway, user_id, SECOND)
    assert topics(later) == []
    assert gateway.rasa.received == []
    assert await parts(gateway).backlog.run_once() == 2
    assert [body["message"] for body in gateway.rasa.received][-1] == SECOND


async def test_danger_during_an_outage_reaches_a_person_at_once(gateway: App, user_id: str) -> None:
    """The phrase check works without Rasa: a cry for help escalates even behind a backlog."""
    gateway.rasa.up = False
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    danger = await send(gateway, user_id, "me tiraram o passaporte e não me deixam sair")
    assert danger["status"] == "queued"
    assert danger["escalation"] == "distress"
    assert "emergency" in topics(danger)


async def test_words_kept_for_a_caseworker_are_not_sent_to_rasa_later(
    gateway: App, user_id: str
) -> None:
    """If a person took over meanwhile, the waiting words stay for them and Rasa never sees them."""
    gateway.rasa.up = False
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    await send(gateway, user_id, "quero falar com uma pessoa")
    gateway.rasa.up = True
    assert await parts(gateway).backlog.run_once() == 1
    assert gateway.rasa.received == []
    assert rows(gateway, "SELECT count(*) FROM messages WHERE awaiting_engine") == [(0,)]


async def test_two_replicas_answer_a_waiting_message_once(gateway: App, user_id: str) -> None:
    """Two replicas' watchers at the same moment: each waiting message is answered exactly once."""
    twin = build_app(gateway.settings.database_url, gateway.settings.content_dir)
    for replica in (gateway, twin):  # both alive (their lifespans would beat)
        await parts(replica).workers.beat()
    gateway.rasa.up = False
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    await send(gateway, user_id, SECOND)
    gateway.rasa.up = True
    done = await asyncio.gather(parts(gateway).backlog.run_once(), parts(twin).backlog.run_once())
    assert sum(done) == 2
    asked = [body["message"] for body in [*gateway.rasa.received, *twin.rasa.received]]
    assert sorted(asked) == sorted(["como preparar minha viagem para joburg", SECOND])
    answered = rows(gateway, "SELECT count(*) FROM messages WHERE direction = 'out'")
    assert answered == [(4,)]  # trouble + privacy notice + two answers


async def test_a_message_left_unanswered_by_a_killed_worker_is_answered_by_the_watcher(
    gateway: App, user_id: str
) -> None:
    """Stored, claimed, never answered (the process died): answered once the claim is stale."""
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    conversation_id = rows(gateway, "SELECT id FROM conversations")[0][0]
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    fresh = dt.datetime.now(dt.UTC)
    engine = create_engine(sync_url(gateway.settings.database_url))
    with engine.begin() as conn:
        for when, key in ((stale, "web:crashed"), (fresh, "web:in-hand")):
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, direction, author, text, dedup_key,"
                    " awaiting_engine, claimed_at, created_at)"
                    " VALUES (:c, 'in', 'person', :t, :k, :f, :when, :when)"
                ),
                {"c": conversation_id, "t": SECOND, "k": key, "f": False, "when": when},
            )
    gateway.rasa.received.clear()
    assert await parts(gateway).backlog.run_once() == 1  # the fresh claim is left to its worker
    assert [body["message"] for body in gateway.rasa.received] == [SECOND]
    unanswered = rows(
        gateway, "SELECT dedup_key FROM messages WHERE direction = 'in' AND handled_at IS NULL"
    )
    assert unanswered == [("web:in-hand",)]
    assert await parts(gateway).backlog.run_once() == 0


def refuse(marker: str, topic: str = "documents") -> Callable[[str], str]:
    """A Rasa route that fails on messages containing `marker` (as a crashing engine would)."""

    def route(words: str) -> str:
        if marker in words:
            raise httpx.ConnectError("the engine dropped the connection")
        return topic

    return route


async def test_a_message_the_engine_keeps_refusing_does_not_silence_the_person_forever(
    gateway: App, user_id: str
) -> None:
    """Rasa back but failing on one message for 10 minutes: answered as unclear, then the rest."""
    gateway.rasa.up = False
    await send(gateway, user_id, "mensagem venenosa sobre passaportes")
    await send(gateway, user_id, SECOND)
    gateway.rasa.up = True
    gateway.rasa.route = refuse("venenosa")
    assert await parts(gateway).backlog.run_once() == 0  # still refused: kept, no new reply
    engine = create_engine(sync_url(gateway.settings.database_url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE messages SET created_at = :old WHERE direction = 'in'"),
            {"old": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)},
        )
    assert await parts(gateway).backlog.run_once() == 2
    topics = [t for (t,) in rows(gateway, "SELECT topic FROM messages WHERE direction = 'out'")]
    assert topics[-2:] == ["fallback", "documents"]
    assert rows(gateway, "SELECT count(*) FROM messages WHERE awaiting_engine") == [(0,)]


async def test_work_held_by_a_replica_that_stopped_beating_is_taken_over_at_once(
    gateway: App, user_id: str
) -> None:
    """A message a killed replica had just claimed is answered now, not after the 20 s claim.

    Claimed one second ago by a replica last seen a minute ago: dead, so taken over. The
    same claim by a replica seen a moment ago is left alone.
    """
    await send(gateway, user_id, "como preparar minha viagem para joburg")
    conversation_id = rows(gateway, "SELECT id FROM conversations")[0][0]
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(sync_url(gateway.settings.database_url))
    with engine.begin() as conn:
        for worker, seen in (("killed", now - dt.timedelta(minutes=1)), ("alive", now)):
            conn.execute(
                text("INSERT INTO workers (id, seen_at) VALUES (:w, :seen)"),
                {"w": worker, "seen": seen},
            )
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, direction, author, text, dedup_key,"
                    " awaiting_engine, claimed_at, claimed_by, created_at)"
                    " VALUES (:c, 'in', 'person', :t, :k, :f, :when, :w, :when)"
                ),
                {
                    "c": conversation_id,
                    "t": SECOND,
                    "k": f"web:held-by-{worker}",
                    "f": False,
                    "when": now - dt.timedelta(seconds=1),
                    "w": worker,
                },
            )
    gateway.rasa.received.clear()
    assert await parts(gateway).backlog.run_once() == 1
    assert [body["message"] for body in gateway.rasa.received] == [SECOND]
    unanswered = rows(
        gateway, "SELECT dedup_key FROM messages WHERE direction = 'in' AND handled_at IS NULL"
    )
    assert unanswered == [("web:held-by-alive",)]
