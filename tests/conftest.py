"""Shared fixtures. The environment is set before any settings are imported."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault("RASA_TOKEN", "test-rasa-token-" + "y" * 16)
os.environ.setdefault("DATA_KEYS", "ZmVybmV0LXRlc3Qta2V5LWZvci1yb3RhLXNlZ3VyYSE=")

import psycopg
import pytest

from bot.settings import PROJECT_ROOT, Settings, load_settings
from tools.processes import fresh_database
from tools.stack import Stack, running_stack

if TYPE_CHECKING:
    from tests.factories import App
    from tests.fakes.telegram_api import FakeTelegram
    from tests.fakes.twilio_api import FakeTwilio

STACK_REDIS_URL = "redis://127.0.0.1:6379/3"  # a Redis db of the end-to-end stack's own
# Lines of each stack log shown under a failed end-to-end test (the logs hold no texts).
LOG_TAIL_LINES = 80


def stacks_of(item: pytest.Item) -> list[Stack]:
    """The running stacks a test used, directly or inside a fixture's tuple."""
    found: list[Stack] = []
    for value in getattr(item, "funcargs", {}).values():
        for candidate in value if isinstance(value, tuple) else (value,):
            if isinstance(candidate, Stack) and candidate not in found:
                found.append(candidate)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Show the end of Rasa's and the gateway's logs under a failed end-to-end test."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for stack in stacks_of(item):
        for name in ("rasa.log", "gateway.log"):
            log = stack.log_dir / name
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                title = f"{log.parent.name}/{name}, last {len(lines)} lines"
                report.sections.append((title, "\n".join(lines)))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A private copy of content/ that a test may edit."""
    target = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", target)
    return target


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest schema, migrated once a session."""
    from bot.db.migrate import upgrade

    path = tmp_path_factory.mktemp("migrated") / "rota.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A private SQLite database at the newest schema (a copy: `database_url` tests migrating)."""
    shutil.copyfile(migrated_sqlite, tmp_path / "rota.db")
    return f"sqlite:///{tmp_path / 'rota.db'}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with fresh_database("rota_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rota.db'}"
    base: str = request.getfixturevalue("postgres_url")
    schema = f"s_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?options=-csearch_path%3D{schema}"


def make_settings(**overrides: object) -> Settings:
    """Settings from the test environment with some fields replaced."""
    env = dict(os.environ)
    for key, value in overrides.items():
        env[key.upper()] = str(value)
    return load_settings(env)


@pytest.fixture(scope="session")
def stack_telegram() -> Iterator[FakeTelegram]:
    """The recording Bot API the end-to-end gateway talks to."""
    from tests.fakes.telegram_api import running_fake_telegram

    with running_fake_telegram() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack_twilio() -> Iterator[FakeTwilio]:
    """The recording Twilio API the end-to-end gateway talks to."""
    from tests.fakes.twilio_api import running_fake_twilio

    with running_fake_twilio() as fake:
        yield fake


def redis_command(url: str, *args: str) -> object:
    """Send one command to the Redis db named in a redis:// URL and read its reply (RESP)."""
    host, _, rest = url.removeprefix("redis://").partition(":")
    port, _, db = rest.partition("/")

    def encode(*words: str) -> bytes:
        """A command as a RESP array of bulk strings."""
        parts = [f"*{len(words)}\r\n".encode()]
        for word in words:
            data = word.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    with socket.create_connection((host, int(port or 6379)), timeout=5) as sock:
        reader = sock.makefile("rb")
        replies = []
        for command in (("SELECT", db or "0"), args):
            sock.sendall(encode(*command))
            replies.append(read_resp(reader))
        return replies[-1]


def read_resp(reader: Any) -> object:
    """One reply from a Redis connection's byte stream (enough RESP2 for tests)."""
    line = reader.readline().rstrip(b"\r\n")
    kind, body = line[:1], line[1:].decode()
    if kind == b"+":
        return body
    if kind == b"-":
        raise RuntimeError(f"redis: {body}")
    if kind == b":":
        return int(body)
    if kind == b"$":
        return None if body == "-1" else reader.read(int(body) + 2)[:-2].decode()
    if kind == b"*":
        return [read_resp(reader) for _ in range(int(body))]
    raise RuntimeError(f"redis: unexpected reply {line!r}")


@pytest.fixture(scope="session")
def stack_databases() -> Iterator[tuple[str, str]]:
    """Fresh PostgreSQL databases for the stack: the gateway's and Rasa's tracker, dropped after."""
    with fresh_database("rota_e2e") as app_url, fresh_database("rota_tracker") as tracker_url:
        yield app_url, tracker_url


@pytest.fixture(scope="session")
def stack_redis() -> Iterator[str]:
    """The Redis db (number 3) the stack's engine keeps its locks in; only it is flushed after."""
    redis_command(STACK_REDIS_URL, "FLUSHDB")
    try:
        yield STACK_REDIS_URL
    finally:
        redis_command(STACK_REDIS_URL, "FLUSHDB")


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    stack_telegram: FakeTelegram,
    stack_twilio: FakeTwilio,
    stack_databases: tuple[str, str],
    stack_redis: str,
) -> Iterator[Stack]:
    """The real Rasa engine and gateway (web, Telegram, WhatsApp), shared by end-to-end tests.

    Configured as in production: the gateway on PostgreSQL, Rasa's tracker in another
    PostgreSQL database and its lock store in Redis (endpoints.production.yml).
    """
    from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN
    from tests.fakes.twilio_api import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

    work = tmp_path_factory.mktemp("stack")
    content = work / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    channels = {
        "PUBLIC_URL": PUBLIC_URL,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": stack_telegram.base_url,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_URL": stack_twilio.url,
        # Every end-to-end person writes from 127.0.0.1: one address, hundreds of messages.
        "RATE_LIMIT_PER_ADDRESS": "100000",
    }
    app_db, tracker_db = stack_databases
    with running_stack(
        work,
        database_url=app_db,
        content_dir=content,
        extra_env=channels,
        tracker_db=tracker_db,
        redis_url=stack_redis,
    ) as running:
        stack_telegram.wait_for("setWebhook", timeout=30)
        yield running


@pytest.fixture
def user_id() -> str:
    """A new person on the web channel."""
    return f"t-{secrets.token_hex(6)}"


@pytest.fixture
def gateway(sqlite_url: str, content_copy: Path) -> App:
    """The gateway on SQLite with a private content copy and Rasa faked at its HTTP edge."""
    from tests.factories import build_app

    return build_app(sqlite_url, content_copy)
