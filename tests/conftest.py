"""Shared fixtures. The environment is set before any settings are imported."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault("RASA_TOKEN", "test-rasa-token-" + "y" * 16)
os.environ.setdefault("DATA_KEYS", "ZmVybmV0LXRlc3Qta2V5LWZvci1yb3RhLXNlZ3VyYSE=")

import psycopg
import pytest

from bot.settings import PROJECT_ROOT, Settings, load_settings
from tools.stack import Stack, running_stack

if TYPE_CHECKING:
    from tests.factories import App
    from tests.fakes.telegram_api import FakeTelegram
    from tests.fakes.twilio_api import FakeTwilio

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A private copy of content/ that a test may edit."""
    target = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", target)
    return target


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rota.db'}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"rota_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    stack_telegram: FakeTelegram,
    stack_twilio: FakeTwilio,
) -> Iterator[Stack]:
    """The real Rasa engine and gateway (web, Telegram, WhatsApp), shared by end-to-end tests."""
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
    }
    with running_stack(work, content_dir=content, extra_env=channels) as running:
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
