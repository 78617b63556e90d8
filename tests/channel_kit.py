"""Helpers for channel tests: recorded inputs, Twilio signing, running the app with its lifespan."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from starlette.datastructures import ImmutableMultiDict
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.accounts import Role
from bot.app import Components
from bot.db.crypto import PREFIX as SEALED_PREFIX
from bot.db.crypto import Keyring
from bot.db.session import sync_url
from bot.messages import Reply
from tests.factories import App

DATA = Path(__file__).parent / "data"
TELEGRAM_SECRET = "telegram-test-secret_0123456789"
TELEGRAM_TOKEN = "123456789:TEST-token-for-the-fake-bot-api"
PUBLIC_URL = "https://bot.example.org"


CONSOLE_PASSWORD = "a long enough password"


def csrf_in(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def console_sign_in(client: TestClient, username: str) -> int:
    """Sign in to the console as a browser would, forgetting any earlier session; the status."""
    client.cookies.clear()
    token = csrf_in(client.get("/console/login").text)
    response = client.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": CONSOLE_PASSWORD},
        follow_redirects=False,
    )
    return response.status_code


def console_account(client: TestClient, app: App, username: str, role: Role) -> None:
    """Create a console account (password CONSOLE_PASSWORD) through the running app."""
    add = parts(app).accounts.add
    client.portal.call(add, username, CONSOLE_PASSWORD, role)  # type: ignore[union-attr]


def topic_route(said: str) -> str:
    """Rasa stand-in: a button's `/topic` stays that topic; anything else is warning signs."""
    return said[1:] if said.startswith("/") else "warning_signs"


def telegram_update(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded Telegram update (tests/data/telegram/<name>.json), with top-level changes."""
    data: dict[str, Any] = json.loads((DATA / "telegram" / f"{name}.json").read_text("utf-8"))
    data = copy.deepcopy(data)
    data.update(changes)
    return data


def twilio_form(name: str, **changes: str) -> dict[str, str]:
    """A recorded Twilio webhook form (tests/data/twilio/<name>.json), with changes."""
    data: dict[str, str] = json.loads((DATA / "twilio" / f"{name}.json").read_text("utf-8"))
    data.update(changes)
    return data


def sign(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """The X-Twilio-Signature Twilio would send, computed by twilio's own validator."""
    pairs = [
        (key, item)
        for key, value in params.items()
        for item in ([value] if isinstance(value, str) else value)
    ]
    return str(RequestValidator(auth_token).compute_signature(url, ImmutableMultiDict(pairs)))


def form_body(params: Mapping[str, str | Sequence[str]]) -> bytes:
    """A urlencoded body, repeated keys for list values."""
    return urlencode(params, doseq=True).encode()


@contextmanager
def running(app: App, base_url: str = PUBLIC_URL) -> Iterator[TestClient]:
    """The app with its lifespan (channels connect), called in-process."""
    with TestClient(app.app, base_url=base_url, raise_server_exceptions=False) as client:
        yield client


def parts(app: App) -> Components:
    """The running app's components."""
    components: Components = app.app.state.components
    return components


def drain(client: TestClient, app: App) -> None:
    """Wait until every queued and background send of the app has finished."""
    assert client.portal.call(parts(app).delivery.settle)  # type: ignore[union-attr]


def rows(app: App, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a read-only SQL query on the app's database."""
    engine = create_engine(sync_url(app.settings.database_url))
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def stored_reply_id(app: App, conversation_id: str, words: str) -> int:
    """Store a caseworker's reply straight in the database, as an older row would be; its id."""
    engine = create_engine(sync_url(app.settings.database_url))
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, direction, author, text, language,"
                " awaiting_engine, created_at) VALUES (:c, 'out', 'caseworker', :t, 'pt', :f, :now)"
            ),
            {"c": conversation_id, "t": words, "f": False, "now": now},
        )
        return int(conn.execute(text("SELECT max(id) FROM messages")).scalar_one())


def stored_reply(app: App, conversation_id: str, words: str) -> Reply:
    """A caseworker's reply stored for a conversation, as the sender gets it."""
    message_id = stored_reply_id(app, conversation_id, words)
    return Reply(id=message_id, text=words, topic=None, language="pt", author="caseworker")


def database_dump(app: App) -> str:
    """Every value stored in every table, sealed bodies opened, as one string.

    Sealed bodies are shown decrypted: what must not be kept must not be kept encrypted
    either, and random ciphertext could otherwise happen to spell a word being looked for.
    """
    keyring = Keyring(app.settings.data_keys)

    def shown(value: object) -> object:
        if isinstance(value, str) and value.startswith(SEALED_PREFIX):
            return keyring.open(value)
        return value

    values: list[str] = []
    for table in ("people", "conversations", "messages", "deliveries"):
        values.extend(repr(tuple(shown(v) for v in r)) for r in rows(app, f"SELECT * FROM {table}"))
    return "\n".join(values)


def console_routes(app: App, leave_out: tuple[str, ...] = ()) -> list[tuple[Any, str, str]]:
    """Every (route, method, URL to call) under /console, for walking the route table."""
    from starlette.routing import Route

    walked: list[tuple[Any, str, str]] = []
    for route in app.app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/console"):
            continue
        if leave_out and route.path.startswith(leave_out):
            continue
        url = (
            route.path.replace("{conversation_id}", "abc")
            .replace("{action:str}", "claim")
            .replace("{rest:path}", "anything")
        )
        walked += [(route, m, url) for m in sorted((route.methods or set()) - {"HEAD"})]
    return walked
