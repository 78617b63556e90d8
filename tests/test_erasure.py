"""Erasure end to end: after /delete and confirming, nothing about the person is left.

Canary words, a canary phone number in a message, a canary WhatsApp number and a canary
Telegram chat id go through the real gateway and Rasa (PostgreSQL for both, Redis for
rate limits and Rasa's locks) on the web, Telegram and WhatsApp; the WhatsApp person is
escalated and a caseworker replies, writes a note and tags the conversation. Each person
then erases their data. Every table of both databases (every column as text), every key
and value in Redis and both log files are scanned: no canary is left, and Twilio was
asked to delete every WhatsApp message of the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from bot.accounts import Accounts, Role
from bot.db.session import make_engine, make_sessionmaker
from bot.ratelimit import RateLimiter, person_key
from tests.channel_kit import CONSOLE_PASSWORD, csrf_in, telegram_update
from tests.conftest import redis_command
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.test_channels_end_to_end import (
    post_telegram,
    post_whatsapp,
    telegram_text,
    to_chat,
    to_number,
    wait_until,
    whatsapp_text,
)
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@dataclass
class Canaries:
    """Values that must not survive an erasure anywhere."""

    words: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)

    def word(self) -> str:
        """A new canary word."""
        value = f"CANARY-{secrets.token_hex(6)}"
        self.words.append(value)
        return value

    def phone(self) -> str:
        """A new canary phone number (+258 8x, as a Mozambican mobile)."""
        value = f"+2588{secrets.randbelow(10**7):07d}"
        self.numbers.append(value)
        return value

    def all(self) -> list[str]:
        """Every canary, numbers also without their +."""
        return [*self.words, *self.numbers, *(n.lstrip("+") for n in self.numbers)]

    def found_in(self, text: str) -> list[str]:
        """The canaries a text contains (case-insensitive)."""
        folded = text.lower()
        return [canary for canary in self.all() if canary.lower() in folded]


def post_web(stack: Stack, user: str, text: str | None = None, payload: str | None = None) -> Any:
    """A web message; the gateway's answer."""
    body = {
        "user_id": user,
        **({"text": text} if text else {}),
        **({"payload": payload} if payload else {}),
    }
    response = httpx.post(f"{stack.base_url}/api/web/messages", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def add_caseworker(stack: Stack, username: str) -> None:
    """A caseworker account in the stack's database."""

    async def add() -> None:
        engine = make_engine(stack.database_url)
        try:
            await Accounts(make_sessionmaker(engine), stack.secret_key).add(
                username, CONSOLE_PASSWORD, Role.CASEWORKER
            )
        finally:
            await engine.dispose()

    asyncio.run(add())


def signed_in(stack: Stack, username: str) -> httpx.Client:
    """A console client signed in as a browser would be."""
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    token = csrf_in(client.get("/console/login").text)
    response = client.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": CONSOLE_PASSWORD},
    )
    assert response.status_code in (200, 303), response.text
    return client


def console_act(client: httpx.Client, conversation: str, action: str, **data: str) -> None:
    """One console action on a conversation (its page's CSRF token included)."""
    base = f"/console/conversations/{conversation}"
    token = csrf_in(client.get(base if action != "claim" else "/console").text)
    response = client.post(f"{base}/{action}", data={"csrf_token": token, **data})
    assert response.status_code in (200, 303), (action, response.status_code)


def conversation_of(stack: Stack, channel: str) -> str:
    """The id of the newest conversation on a channel."""
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT id FROM conversations WHERE channel = %s ORDER BY created_at DESC LIMIT 1",
            (channel,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def database_text(url: str) -> tuple[str, dict[str, int]]:
    """Every row of every table (all columns cast to text) as one string, and rows per table."""
    values: list[str] = []
    counts: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        tables = [
            str(name)
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
            ).fetchall()
            counts[table] = len(rows)
            values.extend(str(row) for (row,) in rows)
    assert tables, f"no tables in {url}"
    return "\n".join(values), counts


def redis_text(url: str) -> tuple[str, list[str]]:
    """Every key and value in a Redis db as one string, and the keys."""
    keys = [str(k) for k in redis_command(url, "KEYS", "*") or []]  # type: ignore[union-attr]
    values: list[str] = []
    for key in keys:
        kind = redis_command(url, "TYPE", key)
        if kind == "string":
            values.append(str(redis_command(url, "GET", key)))
        elif kind == "hash":
            values.append(str(redis_command(url, "HGETALL", key)))
        elif kind in ("list",):
            values.append(str(redis_command(url, "LRANGE", key, "0", "-1")))
        elif kind in ("set",):
            values.append(str(redis_command(url, "SMEMBERS", key)))
        elif kind == "zset":
            values.append(str(redis_command(url, "ZRANGE", key, "0", "-1")))
    return "\n".join([*keys, *values]), keys


def rate_key(stack: Stack, channel: str, user: str) -> str:
    """The Redis key prefix of a person's rate-limit counts (an HMAC of the person key)."""
    limiter = RateLimiter(stack.secret_key, {"person": 1})
    return f"rota:rl:{limiter._name(person_key(channel, user))}:"


def telegram_press(chat: int, payload: str) -> dict[str, Any]:
    """A press of an inline button with this payload in a private chat."""
    press = telegram_update("callback_query", update_id=secrets.randbelow(2**31))
    press["callback_query"]["data"] = payload
    press["callback_query"]["message"]["chat"]["id"] = chat
    press["callback_query"]["from"]["id"] = chat
    return press


def test_erasure_leaves_no_canary_in_databases_redis_or_logs(
    stack: Stack, stack_telegram: FakeTelegram, stack_twilio: FakeTwilio
) -> None:
    """Three people on three channels erase their data; nothing of them is left anywhere."""
    assert stack.redis_url is not None and stack.tracker_db is not None
    canaries = Canaries()

    # Someone who keeps their data: erasing others must not touch their tracker.
    bystander = post_web(stack, f"keeps-{secrets.token_hex(6)}", "how can I migrate safely?")

    # --- web ---------------------------------------------------------------------
    web_user = f"web-{canaries.word()}"
    web = post_web(
        stack,
        web_user,
        f"hi, I am {canaries.word()}, what are the warning signs of a fake job offer? "
        f"call me on {canaries.phone()}",
    )
    assert web["status"] == "bot", web
    post_web(stack, web_user, f"and how do I check my {canaries.word()} contract is real")
    web_key = rate_key(stack, "web", web_user)
    assert any(str(k).startswith(web_key) for k in redis_text(stack.redis_url)[1])

    # --- Telegram --------------------------------------------------------------------
    chat = 7_000_000_000 + secrets.randbelow(10**9)
    canaries.numbers.append(str(chat))
    words = f"olá, sou {canaries.word()}, quais são os sinais de tráfico de pessoas?"
    assert post_telegram(stack, telegram_text(chat, words, "pt")) == 200
    to_chat(stack_telegram, chat, 2)

    # --- WhatsApp, escalated to a caseworker -----------------------------------------
    number = canaries.phone()
    sent_sids: list[str] = []

    def whatsapp(text: str) -> None:
        params = whatsapp_text(number, text)
        sent_sids.append(params["MessageSid"])
        assert post_whatsapp(stack, params) == 200

    whatsapp(
        f"olá, o meu nome é {canaries.word()}, como viajar para a África do Sul com segurança?"
    )
    to_number(stack_twilio, number, 2)
    whatsapp(f"quero falar com uma pessoa, o meu outro número é {canaries.phone()}")
    conversation = conversation_of(stack, "whatsapp")
    add_caseworker(stack, "ana-erasure")
    with contextlib.closing(signed_in(stack, "ana-erasure")) as ana:
        console_act(ana, conversation, "claim")
        console_act(ana, conversation, "reply", text=f"Olá {canaries.word()}, sou a Ana.")
        console_act(ana, conversation, "note", text=f"Said {canaries.word()} holds her ID")
        console_act(ana, conversation, "tag", tag="passport held")
        console_act(ana, conversation, "resolve")
    replied = wait_until(
        lambda: [
            s
            for s in stack_twilio.accepted
            if s.params.get("To") == f"whatsapp:{number}" and "Ana" in s.params.get("Body", "")
        ]
    )
    assert replied

    # --- everyone erases -----------------------------------------------------------
    asked = post_web(stack, web_user, "delete")
    assert asked["replies"][0]["topic"] == "delete_data", asked
    done = post_web(stack, web_user, payload="delete:confirm")
    assert done["replies"][0]["topic"] == "delete_done"

    command = telegram_text(chat, "/delete", "pt")
    command["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
    assert post_telegram(stack, command) == 200
    before = len(to_chat(stack_telegram, chat, 3))
    assert post_telegram(stack, telegram_press(chat, "delete:confirm")) == 200
    to_chat(stack_telegram, chat, before + 1)

    offered = len(to_number(stack_twilio, number, 1))
    whatsapp("apagar")
    menu = to_number(stack_twilio, number, offered + 1)[-1].params["Body"]
    assert "\n1. " in menu, menu
    whatsapp("1")
    confirmed = to_number(stack_twilio, number, offered + 2)
    outbound = [s.sid for s in confirmed]
    wanted = set(sent_sids) | set(outbound)
    deleted = wait_until(lambda: wanted <= set(stack_twilio.deletions()) and wanted, timeout=30)
    assert deleted

    # --- nothing is left ----------------------------------------------------------------
    app_text, _app_rows = database_text(stack.database_url)
    assert canaries.found_in(app_text) == []
    with psycopg.connect(stack.database_url) as conn:
        for cid in (web["conversation_id"], conversation):
            for table in (
                "conversations",
                "messages",
                "deliveries",
                "notes",
                "conversation_tags",
                "outbox",
                "pending_forget",
            ):
                key = "id" if table == "conversations" else "conversation_id"
                found = conn.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                        sql.Identifier(table), sql.Identifier(key)
                    ),
                    (cid,),
                ).fetchone()
                assert found == (0,), (table, cid)
        audit = conn.execute(
            "SELECT action FROM audit_log WHERE conversation_id = %s", (conversation,)
        ).fetchall()
    assert {"claim", "reply", "note", "tag"} <= {a for (a,) in audit}  # kept, without texts

    tracker_text, tracker_rows = database_text(stack.tracker_db)
    assert canaries.found_in(tracker_text) == []
    assert tracker_rows["events"] > 0
    assert bystander["conversation_id"] in tracker_text
    for cid in (web["conversation_id"], conversation):
        assert cid not in tracker_text

    redis_all, keys = redis_text(stack.redis_url)
    assert canaries.found_in(redis_all) == []
    assert not [k for k in keys if k.startswith(web_key)]
    assert not [k for k in keys if web["conversation_id"] in k or conversation in k]

    for log in ("gateway.log", "rasa.log"):
        text = (stack.log_dir / log).read_text(encoding="utf-8", errors="replace")
        assert canaries.found_in(text) == [], log
    assert re.search(r"CANARY-[0-9a-f]{12}", app_text + tracker_text + redis_all) is None
