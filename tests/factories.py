"""Test inputs and fakes at the process edge (the Rasa engine's HTTP API)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from starlette.applications import Starlette

from bot.app import create_app
from bot.content.loader import load_content
from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import Base
from bot.db.session import sync_url
from bot.guided import Guide
from bot.settings import Settings
from tests.conftest import make_settings


@dataclass
class FakeRasa:
    """A stand-in for the Rasa server's HTTP API, recording every message it receives.

    `route` maps the text Rasa receives to the topic it would answer with; the
    reply is rendered from content/ as our NLG endpoint would.
    """

    content: ContentStore
    route: Callable[[str], str] = lambda _text: "warning_signs"
    up: bool = True
    distress_score: float = 0.0
    delay: float = 0.0
    # False: Rasa takes the message but could not fetch its reply from our NLG endpoint.
    renders: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        """Answer as Rasa does, after `delay` seconds (as long as understanding takes)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        return self(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("engine down", request=request)
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_id": "fake"})
        if request.method == "PUT" and request.url.path.endswith("/tracker/events"):
            self.forgotten.append(request.url.path.split("/")[2])
            return httpx.Response(200, json={"events": []})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"error": "missing or wrong token"})
        body = json.loads(request.content)
        self.received.append(body)
        if not self.renders:
            return httpx.Response(200, json=[])
        topic = self.route(body["message"])
        meta = body.get("metadata") or {}
        rendered = self.content.render(
            topic, meta.get("language", "en"), meta.get("country"), meta.get("channel")
        )
        custom = {
            "topic": rendered.topic,
            "language": rendered.language,
            "text": rendered.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in rendered.buttons],
            "scores": {"distress": self.distress_score, "request_human": 0.0},
        }
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "custom": custom}])

    token: str = ""


@dataclass
class App:
    """A gateway app wired to a fake Rasa, with its settings and database URL."""

    app: Starlette
    settings: Settings
    rasa: FakeRasa

    def count(self, *tables: type[Base]) -> int:
        """Rows stored in the given tables, all together."""
        engine = create_engine(sync_url(self.settings.database_url))
        with engine.connect() as conn:
            return sum(
                int(conn.scalar(select(func.count()).select_from(table)) or 0) for table in tables
            )

    def client(self) -> httpx.AsyncClient:
        """An HTTP client that calls the app in-process."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gateway.test"
        )


def build_app(database_url: str, content_dir: Path, **settings: object) -> App:
    """Migrate the database and build the app with a fake Rasa behind it."""
    config = make_settings(database_url=database_url, content_dir=content_dir, **settings)
    upgrade(config.database_url)
    rasa = FakeRasa(ContentStore(content_dir), token=config.rasa_token)
    app = create_app(config, migrate=False, engine_transport=httpx.MockTransport(rasa.answer))
    return App(app, config, rasa)


def message(user_id: str, text: str | None = None, payload: str | None = None) -> dict[str, str]:
    """A web API body for a typed message or a button press."""
    body = {"user_id": user_id}
    if text is not None:
        body["text"] = text
    if payload is not None:
        body["payload"] = payload
    return body


def shown_texts(
    content_dir: Path, topic: str, language: str, channel: str | None = None
) -> set[str]:
    """Every text a topic can open with: its answer (default, per country, the channel's,
    numbers filled in), or, for a topic that starts a guided check, the check's first question."""
    snapshot, problems = load_content(content_dir)
    assert snapshot is not None, problems
    check = snapshot.checks.get(topic)
    if check is not None:
        guide = Guide(check, snapshot, language)
        return {guide.question(guide.fresh(), intro=True).text}
    answer = snapshot.answers[(topic, language)]
    texts = {answer.text, *answer.by_country.values()}
    if channel is not None and channel in answer.by_channel:
        texts.add(answer.by_channel[channel])
    return texts
