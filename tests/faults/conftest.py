"""The fuzzed gateway: web, Telegram (webhook) and WhatsApp on, fakes at every process edge."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from starlette.testclient import TestClient

from bot.db.session import sync_url
from bot.settings import PROJECT_ROOT
from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN, running, topic_route
from tests.factories import App, build_app
from tests.fakes.telegram_api import running_fake_telegram
from tests.fakes.twilio_api import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, running_fake_twilio

SOAK = os.environ.get("SOAK") == "1"
SENDER = "whatsapp:+14155238886"


@dataclass
class Tally:
    """How many requests the fuzz suite sent, by kind, and since when."""

    started: float | None = None  # the first request's time
    last: float = 0.0  # the latest request's time
    sent: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        """Count one request."""
        self.last = time.monotonic()
        if self.started is None:
            self.started = self.last
        self.sent[kind] = self.sent.get(kind, 0) + 1

    @property
    def total(self) -> int:
        """Every request sent."""
        return sum(self.sent.values())


TALLY = Tally()


@dataclass
class Fuzzed:
    """The running app, its client and a database connection for counting rows."""

    app: App
    client: TestClient
    db: Engine

    def inbound(self) -> int:
        """Messages people sent (stored inbound rows)."""
        with self.db.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM messages WHERE author = 'person'")))

    def request(self, kind: str, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request, counted in the tally."""
        TALLY.add(kind)
        return self.client.request(method, path, follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """The gateway with every channel on, limits out of the way, running in-process."""
    import shutil

    work = tmp_path_factory.mktemp("fuzz")
    content = work / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    url = f"sqlite:///{Path(work) / 'rota.db'}"
    with running_fake_telegram() as telegram, running_fake_twilio() as twilio:
        app = build_app(
            url,
            content,
            public_url=PUBLIC_URL,
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_webhook_secret=TELEGRAM_SECRET,
            telegram_api_url=telegram.base_url,
            twilio_account_sid=TEST_ACCOUNT_SID,
            twilio_auth_token=TEST_AUTH_TOKEN,
            twilio_whatsapp_from=SENDER,
            twilio_api_url=twilio.url,
            rate_limit_per_address=10**9,
            rate_limit_per_person=10**9,
        )
        app.rasa.route = topic_route
        db = create_engine(sync_url(app.settings.database_url))
        with running(app) as client:
            telegram.wait_for("setWebhook", timeout=30)
            yield Fuzzed(app, client, db)
        db.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how many requests were fuzzed and how long it took."""
    if TALLY.total:
        seconds = TALLY.last - (TALLY.started or TALLY.last)
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(TALLY.sent.items()))
        terminalreporter.write_line(
            f"fuzz: {TALLY.total} requests in {seconds:.1f} s ({kinds}); SOAK={int(SOAK)}"
        )
