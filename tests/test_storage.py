"""Storage on SQLite and PostgreSQL: migrations, pseudonymous people, erasure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from bot.core import pseudonymous_id
from bot.db.models import Conversation, Message, Person
from bot.db.session import sync_url
from bot.settings import PROJECT_ROOT
from tests.factories import App, build_app, message

pytestmark = pytest.mark.anyio


@pytest.fixture
def gateway(database_url: str, content_copy: Path) -> App:
    return build_app(database_url, content_copy)


def sync_engine(app: App):  # type: ignore[no-untyped-def]
    return create_engine(sync_url(app.settings.database_url))


async def test_migrations_create_the_three_tables(gateway: App) -> None:
    """Alembic brings an empty database to the current schema."""
    tables = set(inspect(sync_engine(gateway)).get_table_names())
    assert {"people", "conversations", "messages", "alembic_version"} <= tables


async def test_people_are_stored_only_as_an_hmac_of_channel_and_id(gateway: App) -> None:
    """No channel user id, name or number is stored for a person, only the HMAC."""
    user = "+258841234567"
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user, "ola"))
    with sync_engine(gateway).connect() as conn:
        people = conn.execute(select(Person.id, Person.channel)).all()
        conversation = conn.execute(select(Conversation)).one()
    expected = pseudonymous_id(gateway.settings.secret_key, "web", user)
    assert people == [(expected, "web")]
    assert user not in str(conversation)


async def test_every_message_and_reply_is_kept_in_order(gateway: App) -> None:
    """The person's messages and the bot's replies are stored with direction and topic."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message("p1", "what are the warning signs"))
        await client.post("/api/web/messages", json=message("p1", "talk to a person"))
    with sync_engine(gateway).connect() as conn:
        rows = conn.execute(
            select(Message.direction, Message.author, Message.topic).order_by(Message.id)
        ).all()
        status = conn.execute(select(Conversation.status, Conversation.escalation)).one()
    assert rows == [
        ("in", "person", None),
        ("out", "bot", "warning_signs"),
        ("out", "bot", "privacy_notice"),
        ("in", "person", None),
        ("out", "bot", "human_handoff"),
    ]
    assert tuple(status) == ("queued", "request")


async def test_erasure_removes_the_person_conversation_and_messages(gateway: App) -> None:
    """Deleting on request leaves nothing behind in any table."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message("p2", "hello"))
        await client.post("/api/web/messages", json=message("p2", payload="delete:confirm"))
    with sync_engine(gateway).connect() as conn:
        counts = [len(conn.execute(select(t)).all()) for t in (Person, Conversation, Message)]
    assert counts == [0, 0, 0]


async def test_timestamps_come_back_in_utc(gateway: App) -> None:
    """Times are stored and read as timezone-aware UTC on both databases."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message("p3", "hello"))
        listed = await client.get("/api/web/messages", params={"user_id": "p3"})
    stamps = [m["created_at"] for m in listed.json()["messages"]]
    assert stamps and all(s.endswith("+00:00") for s in stamps)


async def test_control_characters_are_cleaned_before_storage(gateway: App) -> None:
    """PostgreSQL refuses NUL in text: it is removed at the edge, and the message is kept."""
    raw = b'{"user_id": "p4", "text": "my passport was taken\\u0000 by the agency"}'
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", content=raw, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200
    with sync_engine(gateway).connect() as conn:
        texts = conn.execute(select(Message.text).where(Message.direction == "in")).scalars().all()
    assert texts == ["my passport was taken by the agency"]


async def test_migrations_create_the_channel_tables(gateway: App) -> None:
    """Deliveries and the dedup key exist after migration, with the key unique."""
    inspector = inspect(sync_engine(gateway))
    assert "deliveries" in inspector.get_table_names()
    uniques = [set(u["column_names"]) for u in inspector.get_unique_constraints("messages")]
    assert {"dedup_key"} in uniques


async def test_one_delivery_racing_through_two_workers_is_handled_once(
    gateway: App, content_copy: Path
) -> None:
    """Two gateway workers given the same provider message at once: one answers, one ignores."""
    import asyncio

    from bot.messages import InboundMessage

    second = build_app(gateway.settings.database_url, content_copy)
    inbound = InboundMessage(
        channel="telegram",
        channel_user_id="5550001",
        text="what are the warning signs",
        provider_id="telegram:424242",
    )
    services = [app.app.state.components.service for app in (gateway, second)]
    outcomes = await asyncio.gather(*(service.handle(inbound) for service in services))
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    with sync_engine(gateway).connect() as conn:
        stored = conn.execute(select(Message.direction)).all()
        people = conn.execute(select(Person.id)).all()
    assert [d for (d,) in stored].count("in") == 1
    assert len(people) == 1


def test_the_audit_log_cannot_be_truncated_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL's TRUNCATE skips row triggers; a statement trigger refuses it too."""
    import psycopg

    from bot.db.migrate import upgrade
    from bot.settings import _async_database_url

    schema = "s_truncate_check"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    upgrade(_async_database_url(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (username, action, at) VALUES ('a', 'sign_in', now())")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("TRUNCATE audit_log")
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)


async def test_the_watcher_finds_unanswered_messages_through_an_index(database_url: str) -> None:
    """The query for unanswered messages (run every few seconds) uses its partial index."""
    app = build_app(database_url, PROJECT_ROOT / "content")
    engine = create_engine(sync_url(app.settings.database_url))
    query = "SELECT id FROM messages WHERE direction = 'in' AND handled_at IS NULL"
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # an empty table: no cost contest
            plan = conn.execute(text(f"EXPLAIN {query}")).fetchall()
        else:
            plan = conn.execute(text(f"EXPLAIN QUERY PLAN {query}")).fetchall()
    assert "ix_messages_unhandled" in " ".join(str(row) for row in plan)
