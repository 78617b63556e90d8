"""Data protection on SQLite and PostgreSQL: bodies encrypted at rest, key rotation,
migration 0007 sealing old rows, and the retention purge (with Rasa told to forget)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from bot.__main__ import main
from bot.content.store import ContentStore
from bot.db import crypto
from bot.db.migrate import alembic_config, upgrade
from bot.db.models import (
    AuditEntry,
    Conversation,
    Delivery,
    Message,
    Note,
    OutboxItem,
    Person,
    Tag,
    utcnow,
)
from bot.db.session import make_engine, make_sessionmaker, sync_url
from bot.engine import RasaEngine
from bot.retention import PurgeResult, RetentionJob, purge
from bot.settings import load_settings
from tests.conftest import make_settings
from tests.factories import FakeRasa, build_app, message

pytestmark = pytest.mark.anyio

CANARY = "canary-7f3a bodies-must-not-be-readable"
OLD = utcnow() - dt.timedelta(days=200)
RECENT = utcnow() - dt.timedelta(days=3)
CUTOFF = utcnow() - dt.timedelta(days=90)


@pytest.fixture(autouse=True)
def test_keys() -> Iterator[None]:
    """Each test starts and ends with the keyring of the test environment."""
    crypto.configure(load_settings().data_keys)
    yield
    crypto.configure(load_settings().data_keys)


@pytest.fixture
def db(database_url: str) -> str:
    """An async database URL migrated to the newest schema."""
    url = make_settings(database_url=database_url).database_url
    upgrade(url)
    return url


def sync(url: str) -> Engine:
    return create_engine(sync_url(url))


def raw(url: str, statement: str) -> list[tuple[object, ...]]:
    """Rows of a plain SQL query: what the database really holds."""
    with sync(url).connect() as conn:
        return [tuple(row) for row in conn.execute(text(statement))]


def seed(url: str, when: dt.datetime, body: str = CANARY) -> str:
    """A person with a conversation whose every row dates from `when`; its conversation id."""
    conversation_id = str(uuid.uuid4())
    with Session(sync(url)) as session:
        person = Person(id=uuid.uuid4().hex, channel="telegram", created_at=when)
        session.add(person)
        session.add(
            Conversation(
                id=conversation_id,
                person_id=person.id,
                channel="telegram",
                language="en",
                created_at=when,
                updated_at=when,
            )
        )
        session.flush()
        inbound = Message(
            conversation_id=conversation_id,
            direction="in",
            author="person",
            text=body,
            created_at=when,
        )
        reply = Message(
            conversation_id=conversation_id,
            direction="out",
            author="bot",
            text=f"reply to {body}",
            created_at=when,
        )
        session.add_all([inbound, reply])
        session.flush()
        session.add_all(
            [
                Delivery(
                    message_id=reply.id,
                    conversation_id=conversation_id,
                    channel="telegram",
                    status="sent",
                    created_at=when,
                    updated_at=when,
                ),
                OutboxItem(
                    message_id=reply.id, conversation_id=conversation_id, channel="telegram"
                ),
                Note(
                    conversation_id=conversation_id,
                    staff_id=1,
                    username="cw",
                    text=f"note on {body}",
                    created_at=when,
                ),
                Tag(conversation_id=conversation_id, tag="passport held"),
                AuditEntry(username="cw", action="note", conversation_id=conversation_id),
            ]
        )
        session.commit()
    return conversation_id


def bodies(url: str) -> list[str]:
    """Every message and note body as the application reads it (decrypted)."""
    with Session(sync(url)) as session:
        texts = list(session.scalars(select(Message.text).order_by(Message.id)))
        notes = list(session.scalars(select(Note.text).order_by(Note.id)))
    return [t for t in [*texts, *notes] if t is not None]


def raw_bodies(url: str) -> list[str]:
    """Every message and note body as stored."""
    rows = raw(url, "SELECT text FROM messages WHERE text IS NOT NULL")
    rows += raw(url, "SELECT text FROM notes")
    return [str(row[0]) for row in rows]


def fake_rasa(content_dir: Path) -> tuple[FakeRasa, RasaEngine]:
    """A Rasa engine client whose HTTP edge is the recording fake."""
    settings = make_settings()
    fake = FakeRasa(ContentStore(content_dir), token=settings.rasa_token)
    engine = RasaEngine(
        settings.rasa_url, settings.rasa_token, 2.0, transport=httpx.MockTransport(fake)
    )
    return fake, engine


async def run_purge(url: str, rasa: RasaEngine, dry_run: bool = False) -> PurgeResult:
    """One purge with its own database engine (as one replica would)."""
    engine = make_engine(url)
    try:
        return await purge(make_sessionmaker(engine), rasa, CUTOFF, dry_run=dry_run)
    finally:
        await engine.dispose()


def table_counts(url: str, conversation_id: str) -> dict[str, int]:
    """Rows left under one conversation, per table (audit log included)."""
    counts = {}
    for table in (
        "conversations",
        "messages",
        "deliveries",
        "notes",
        "conversation_tags",
        "outbox",
        "audit_log",
    ):
        column = "id" if table == "conversations" else "conversation_id"
        rows = raw(url, f"SELECT 1 FROM {table} WHERE {column} = '{conversation_id}'")
        counts[table] = len(rows)
    return counts


# Encryption at rest


async def test_message_bodies_are_ciphertext_in_the_table_and_clear_through_the_app(
    database_url: str, content_copy: Path
) -> None:
    """A canary a person sends is absent from the raw table but read back in clear."""
    gateway = build_app(database_url, content_copy)
    async with gateway.client() as client:
        sent = await client.post("/api/web/messages", json=message("p-crypt", CANARY))
        listed = await client.get("/api/web/messages", params={"user_id": "p-crypt"})
    url = gateway.settings.database_url
    stored = raw_bodies(url)
    assert stored and all(value.startswith(crypto.PREFIX) for value in stored)
    assert not any("canary" in value for value in stored)
    assert CANARY in bodies(url)
    replies = [reply["text"] for reply in sent.json()["replies"]]
    assert replies and [m["text"] for m in listed.json()["messages"]][: len(replies)] == replies
    assert not any(reply.startswith(crypto.PREFIX) for reply in replies)


async def test_notes_are_ciphertext_in_the_table_and_clear_when_read(db: str) -> None:
    """A caseworker's note is sealed like a message body."""
    seed(db, RECENT)
    assert not any("canary" in value for value in raw_bodies(db))
    assert f"note on {CANARY}" in bodies(db)


async def test_a_body_no_key_opens_reads_as_a_placeholder_and_plaintext_as_is(db: str) -> None:
    """Unreadable ciphertext becomes a fixed placeholder; legacy plaintext is returned as is."""
    conversation_id = seed(db, RECENT)
    crypto.configure([Fernet.generate_key().decode()])
    with sync(db).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, direction, author, text, awaiting_engine, "
                "created_at) VALUES (:c, 'in', 'person', 'legacy words', false, :t)"
            ),
            {"c": conversation_id, "t": RECENT},
        )
    read = bodies(db)
    assert "legacy words" in read
    assert read.count(crypto.UNREADABLE) == 3
    assert not any("canary" in body for body in read)


# Key rotation


async def test_rotation_reads_old_bodies_then_rewrites_them_under_the_new_key(db: str) -> None:
    """Written under A; DATA_KEYS=B,A reads them; rotate-keys; DATA_KEYS=B alone reads all."""
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure([key_a])
    seed(db, RECENT, body="under key a")
    seed(db, RECENT, body="also under a")
    written = bodies(db)

    crypto.configure([key_b, key_a])
    assert bodies(db) == written
    engine = make_engine(db)
    try:
        first = await crypto.rotate(engine, batch_size=2)
        again = await crypto.rotate(engine, batch_size=2)
    finally:
        await engine.dispose()
    assert first.resealed == {"messages": 4, "notes": 2}
    assert again.resealed == {"messages": 0, "notes": 0}
    assert again.current == {"messages": 4, "notes": 2}

    crypto.configure([key_b])
    assert bodies(db) == written
    assert crypto.UNREADABLE not in bodies(db)


async def test_rotate_keys_command_seals_legacy_plaintext_and_reports_counts(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bot rotate-keys` encrypts a plaintext row left by an old replica."""
    conversation_id = seed(db, RECENT)
    with sync(db).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, direction, author, text, awaiting_engine, "
                "created_at) VALUES (:c, 'in', 'person', 'left in clear', false, :t)"
            ),
            {"c": conversation_id, "t": RECENT},
        )
    monkeypatch.setenv("DATABASE_URL", db)
    assert await asyncio.to_thread(main, ["rotate-keys"]) == 0
    out = capsys.readouterr().out
    assert "messages: 1 re-encrypted, 2 already current, 0 unreadable" in out
    assert all(value.startswith(crypto.PREFIX) for value in raw_bodies(db))
    assert "left in clear" in bodies(db)


# Migration 0007


async def test_migration_0007_encrypts_rows_written_before_it(db: str) -> None:
    """Plaintext bodies stored at revision 0006 are sealed by the upgrade, readable after."""
    config = alembic_config(db)
    command.downgrade(config, "0006")
    conversation_id = str(uuid.uuid4())
    with sync(db).begin() as conn:
        conn.execute(
            text("INSERT INTO people (id, channel, created_at) VALUES ('p-old', 'web', :t)"),
            {"t": RECENT},
        )
        conn.execute(
            text(
                "INSERT INTO conversations (id, person_id, channel, status, language, created_at, "
                "updated_at) VALUES (:c, 'p-old', 'web', 'bot', 'en', :t, :t)"
            ),
            {"c": conversation_id, "t": RECENT},
        )
        for body in (CANARY, "second plain body"):
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, direction, author, text, "
                    "awaiting_engine, created_at) VALUES (:c, 'in', 'person', :b, false, :t)"
                ),
                {"c": conversation_id, "b": body, "t": RECENT},
            )
        conn.execute(
            text(
                "INSERT INTO notes (conversation_id, staff_id, username, text, created_at) "
                "VALUES (:c, 1, 'cw', 'plain note', :t)"
            ),
            {"c": conversation_id, "t": RECENT},
        )
    assert CANARY in raw_bodies(db)

    command.upgrade(config, "head")
    stored = raw_bodies(db)
    assert len(stored) == 3 and all(value.startswith(crypto.PREFIX) for value in stored)
    assert sorted(bodies(db)) == sorted([CANARY, "second plain body", "plain note"])

    command.downgrade(config, "0006")
    assert sorted(raw_bodies(db)) == sorted([CANARY, "second plain body", "plain note"])


# Retention


async def test_purge_removes_an_old_conversation_and_everything_under_it_not_a_recent_one(
    db: str, content_copy: Path
) -> None:
    """Messages, deliveries, notes, tags and outbox go with the person; the audit log stays."""
    old = seed(db, OLD)
    recent = seed(db, RECENT)
    fake, rasa = fake_rasa(content_copy)
    try:
        result = await run_purge(db, rasa)
    finally:
        await rasa.close()
    assert fake.forgotten == [old]
    assert result.counts == {
        "people": 1,
        "conversations": 1,
        "messages": 2,
        "deliveries": 1,
        "notes": 1,
        "tags": 1,
        "outbox": 1,
    }
    assert table_counts(db, old) == {
        "conversations": 0,
        "messages": 0,
        "deliveries": 0,
        "notes": 0,
        "conversation_tags": 0,
        "outbox": 0,
        "audit_log": 1,
    }
    assert table_counts(db, recent)["messages"] == 2


async def test_an_old_conversation_with_a_recent_message_or_note_is_kept(
    db: str, content_copy: Path
) -> None:
    """Last activity is the newest of updated_at, the last message and the last note."""
    with_message = seed(db, OLD)
    with_note = seed(db, OLD)
    with Session(sync(db)) as session:
        session.add(
            Message(
                conversation_id=with_message,
                direction="out",
                author="caseworker",
                text="hello again",
                created_at=RECENT,
            )
        )
        session.add(
            Note(conversation_id=with_note, staff_id=1, username="cw", text="n", created_at=RECENT)
        )
        session.commit()
    fake, rasa = fake_rasa(content_copy)
    try:
        result = await run_purge(db, rasa)
    finally:
        await rasa.close()
    assert result.counts["people"] == 0
    assert fake.forgotten == []


async def test_purge_keeps_everything_while_rasa_is_down_and_finishes_next_run(
    db: str, content_copy: Path
) -> None:
    """Rows are deleted only after Rasa forgot the conversation, so nothing is lost track of."""
    old = seed(db, OLD)
    fake, rasa = fake_rasa(content_copy)
    fake.up = False
    try:
        down = await run_purge(db, rasa)
        assert down.engine_pending == 1 and down.counts["people"] == 0
        assert table_counts(db, old)["messages"] == 2
        fake.up = True
        back = await run_purge(db, rasa)
    finally:
        await rasa.close()
    assert back.engine_pending == 0 and back.counts["people"] == 1
    assert fake.forgotten == [old]


async def test_a_dry_run_counts_without_deleting_or_asking_rasa(
    db: str, content_copy: Path
) -> None:
    """--dry-run reports what would go and changes nothing."""
    old = seed(db, OLD)
    fake, rasa = fake_rasa(content_copy)
    try:
        result = await run_purge(db, rasa, dry_run=True)
    finally:
        await rasa.close()
    assert result.counts["messages"] == 2 and result.counts["people"] == 1
    assert fake.forgotten == []
    assert table_counts(db, old)["messages"] == 2


async def test_two_replicas_purging_at_once_delete_each_conversation_once(
    db: str, content_copy: Path
) -> None:
    """Concurrent purges neither crash nor count a conversation twice."""
    old = {seed(db, OLD) for _ in range(12)}
    seed(db, RECENT)
    fake, rasa = fake_rasa(content_copy)
    try:
        first, second = await asyncio.gather(run_purge(db, rasa), run_purge(db, rasa))
    finally:
        await rasa.close()
    assert first.counts["people"] + second.counts["people"] == 12
    assert first.counts["messages"] + second.counts["messages"] == 24
    assert set(fake.forgotten) == old
    assert len(raw(db, "SELECT 1 FROM people")) == 1


async def test_the_retention_job_purges_in_the_background_until_stopped(
    db: str, content_copy: Path
) -> None:
    """RetentionJob runs purge at start and on its interval, and stops cleanly."""
    seed(db, OLD)
    fake, rasa = fake_rasa(content_copy)
    engine = make_engine(db)
    job = RetentionJob(make_sessionmaker(engine), rasa, retention_days=90, interval_seconds=0.05)
    try:
        job.start()
        for _ in range(200):  # wait for the outcome (forgotten and deleted), not one step of it
            people = await asyncio.to_thread(raw, db, "SELECT 1 FROM people")
            if fake.forgotten and not people:
                break
            await asyncio.sleep(0.05)
        await job.stop()
    finally:
        await rasa.close()
        await engine.dispose()
    assert len(fake.forgotten) == 1
    assert raw(db, "SELECT 1 FROM people") == []


async def test_purge_command_prints_counts_only(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bot purge --dry-run --days 30` prints table counts, no ids or texts."""
    conversation_id = seed(db, OLD)
    monkeypatch.setenv("DATABASE_URL", db)
    assert await asyncio.to_thread(main, ["purge", "--dry-run", "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert "older than 30 days, would delete:" in out
    assert "  messages: 2" in out and "  people: 1" in out
    assert conversation_id not in out and "canary" not in out
