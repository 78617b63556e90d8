"""The outer guard: 1 MiB bodies, per-address and per-person limits, console headers, Redis."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
from starlette.types import Message, Receive, Scope, Send

from bot import ratelimit
from bot.accounts import Role
from bot.db.models import Message as StoredMessage
from bot.metrics import REGISTRY
from bot.ratelimit import RateLimiter, address_key, person_key
from handlers.security import MAX_BODY_BYTES, secure
from tests.channel_kit import PUBLIC_URL, form_body, sign, twilio_form
from tests.conftest import make_settings
from tests.factories import App, build_app, message
from tests.fakes.twilio_api import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

pytestmark = pytest.mark.anyio

REDIS_DB = "redis://127.0.0.1:6379/5"
CONSOLE_PASSWORD = "a long enough password"
WINDOW_START = 1_000_020.0  # a multiple of 60: a fresh window starts here


def client_at(app: App, address: str = "203.0.113.7", base_url: str = "http://gateway.test"):
    """An in-process client whose socket peer is `address`."""
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limiter's wall clock, set by the test (starts at a window's start)."""
    now = [WINDOW_START]
    monkeypatch.setattr(ratelimit, "wall_clock", lambda: now[0])
    return now


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A private key prefix in Redis db 5, its keys deleted afterwards."""
    prefix = f"rota:rl:test-{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_DB)
    try:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


def metric(name: str, **labels: str) -> float:
    """A sample of the gateway's metrics (0 if absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def chunks(total: int, size: int = 65_536) -> AsyncIterator[bytes]:
    """`total` bytes in chunks, sent without Content-Length (Transfer-Encoding: chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b"x" * part


# --- bodies -------------------------------------------------------------------


def echo_app() -> tuple[Any, list[int]]:
    """An ASGI app that reads the whole body and records its size."""
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        size = 0
        while True:
            got = await receive()
            if got["type"] != "http.request":
                break
            size += len(got.get("body", b""))
            if not got.get("more_body"):
                break
        seen.append(size)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app, seen


async def test_a_body_of_exactly_1_mib_reaches_the_handler_whole_and_one_more_byte_does_not(
    clock: list[float],
) -> None:
    """1 MiB passes, by Content-Length or chunked; 1 MiB + 1 gets 413 and the app never runs."""
    inner, seen = echo_app()
    guarded = secure(inner, make_settings(), RateLimiter("k" * 20, {"address": 1000}))
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/x", content=b"a" * MAX_BODY_BYTES)).status_code == 200
        assert (await client.post("/x", content=chunks(MAX_BODY_BYTES))).status_code == 200
        assert seen == [MAX_BODY_BYTES, MAX_BODY_BYTES]
        over = await client.post("/x", content=b"a" * (MAX_BODY_BYTES + 1))
        chunked = await client.post("/x", content=chunks(MAX_BODY_BYTES + 1))
    assert (over.status_code, chunked.status_code) == (413, 413)
    assert "1 MiB" in over.json()["error"] and "1 MiB" in chunked.json()["error"]
    assert seen == [MAX_BODY_BYTES, MAX_BODY_BYTES]


async def test_an_oversize_message_is_refused_with_413_and_nothing_is_stored(
    gateway: App, user_id: str
) -> None:
    """1 MiB + 1 byte of JSON, declared or chunked, is refused before the web API reads it."""
    text = "a" * MAX_BODY_BYTES
    body = json.dumps(message(user_id, text)).encode()[: MAX_BODY_BYTES + 1]
    assert len(body) == MAX_BODY_BYTES + 1
    async with gateway.client() as client:
        declared = await client.post(
            "/api/web/messages", content=body, headers={"content-type": "application/json"}
        )
        chunked = await client.post(
            "/api/web/messages",
            content=chunks(MAX_BODY_BYTES + 1),
            headers={"content-type": "application/json"},
        )
    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert "1 MiB" in declared.json()["error"]
    assert gateway.count(StoredMessage) == 0


async def test_exactly_1_mib_is_left_to_the_handler_to_judge(gateway: App) -> None:
    """The sign-in form of exactly 1 MiB is not refused for size here (the console's own
    checks answer), while one byte more is."""
    async with gateway.client() as client:
        at_limit = await client.post(
            "/console/login",
            content=b"a" * MAX_BODY_BYTES,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        over = await client.post(
            "/console/login",
            content=b"a" * (MAX_BODY_BYTES + 1),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert at_limit.status_code == 403  # no CSRF token: the console's answer, not the guard's
    assert over.status_code == 413


async def test_a_small_chunked_message_is_answered_as_usual(gateway: App, user_id: str) -> None:
    """A body without Content-Length under the limit is handed on whole."""
    body = json.dumps(message(user_id, "hello there")).encode()

    async def pieces() -> AsyncIterator[bytes]:
        yield body[:5]
        yield body[5:]

    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", content=pieces(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text
    assert gateway.count(StoredMessage) >= 1


# --- per-address limits -------------------------------------------------------------


async def test_an_address_over_its_limit_gets_429_with_retry_after_until_the_window_ends(
    sqlite_url: str, content_copy: Path, clock: list[float]
) -> None:
    """Five calls a minute are answered, the sixth gets 429; another address and /healthz
    are unaffected; a minute later the address is served again."""
    app = build_app(sqlite_url, content_copy, rate_limit_per_address=5)
    poll = "/api/web/messages?user_id=someone"
    async with client_at(app) as client, client_at(app, "198.51.100.9") as other:
        statuses = [(await client.get(poll)).status_code for _ in range(5)]
        clock[0] += 20
        refused = await client.get(poll)
        login = await client.get("/console/login")
        assert (await client.get("/healthz")).status_code == 200
        assert (await other.get(poll)).status_code == 200
        clock[0] += 40
        again = await client.get(poll)
    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "40"
    assert "too many requests" in refused.json()["error"]
    assert login.status_code == 429
    assert again.status_code == 200


async def test_webhooks_count_only_refused_calls_against_an_address(
    sqlite_url: str, content_copy: Path, clock: list[float]
) -> None:
    """Signed Twilio calls are never throttled however many; after the limit of forged calls
    from one address, that address gets 429 on webhooks, others are still served."""
    app = build_app(
        sqlite_url,
        content_copy,
        rate_limit_per_address=3,
        public_url=PUBLIC_URL,
        twilio_account_sid=TEST_ACCOUNT_SID,
        twilio_auth_token=TEST_AUTH_TOKEN,
        twilio_whatsapp_from="whatsapp:+14155238886",
    )
    path = "/webhooks/whatsapp"
    form = twilio_form("text")  # the same message again and again: stored once, acknowledged
    signed = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": sign(TEST_AUTH_TOKEN, PUBLIC_URL + path, form),
    }
    forged = {**signed, "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl"}
    async with client_at(app, "192.0.2.1") as twilio, client_at(app, "192.0.2.66") as forger:
        legit = [
            (await twilio.post(path, content=form_body(form), headers=signed)) for _ in range(8)
        ]
        refused = [
            (await forger.post(path, content=form_body(form), headers=forged)) for _ in range(3)
        ]
        blocked = await forger.post(path, content=form_body(form), headers=signed)
        still = await twilio.post(path, content=form_body(form), headers=signed)
    assert [r.status_code for r in legit] == [200] * 8
    assert [r.status_code for r in refused] == [403] * 3
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert still.status_code == 200


# --- per-person limit on the web API ---------------------------------------------


async def test_a_person_over_the_limit_gets_429_and_another_person_is_still_answered(
    sqlite_url: str, content_copy: Path, clock: list[float]
) -> None:
    """Three messages a minute per person: the fourth is refused, named and not stored."""
    app = build_app(sqlite_url, content_copy, rate_limit_per_person=3)
    async with app.client() as client:
        answered = [
            (await client.post("/api/web/messages", json=message("ana", f"hi {n}"))).status_code
            for n in range(3)
        ]
        stored = app.count(StoredMessage)
        refused = await client.post("/api/web/messages", json=message("ana", "hi again"))
        after_refusal = app.count(StoredMessage)
        other = await client.post("/api/web/messages", json=message("bia", "hello"))
        polling = await client.get("/api/web/messages?user_id=ana")
    assert answered == [200] * 3
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "at most 3 a minute per person" in refused.json()["error"]
    assert other.status_code == 200
    assert polling.status_code == 200
    assert after_refusal == stored


# --- console headers ------------------------------------------------------------------


EXPECTED_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def assert_console_headers(response: httpx.Response, https: bool) -> None:
    """Every console security header once, CSP without unsafe-inline, HSTS only on https."""
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get_list(name) == [value], (response.url, name)
    csp = response.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "unsafe-inline" not in csp[0] and "frame-ancestors 'none'" in csp[0]
    assert "camera=()" in response.headers["permissions-policy"]
    assert ("strict-transport-security" in response.headers) is https


async def test_console_pages_carry_the_security_headers_once(gateway: App) -> None:
    """The sign-in page, redirects, 401s, a signed-in page and Starlette's own 405 all do."""
    await gateway.app.state.components.accounts.add("carla", CONSOLE_PASSWORD, Role.SUPERVISOR)
    async with gateway.client() as client:
        login = await client.get("/console/login")
        assert_console_headers(login, https=False)
        for path in ("/console", "/console/api/queue", "/console/nothing-here"):
            assert_console_headers(await client.get(path), https=False)
        assert_console_headers(await client.put("/console/login"), https=False)
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        signed = await client.post(
            "/console/login",
            data={"csrf_token": token, "username": "carla", "password": CONSOLE_PASSWORD},
        )
        assert signed.status_code == 303
        assert_console_headers(signed, https=False)
        assert_console_headers(await client.get("/console"), https=False)
        assert_console_headers(await client.get("/console/settings"), https=False)


async def test_hsts_is_sent_on_console_pages_reached_over_https(gateway: App) -> None:
    """Strict-Transport-Security appears over https (directly or through a proxy)."""
    async with client_at(gateway, base_url="https://gateway.test") as client:
        assert_console_headers(await client.get("/console/login"), https=True)
    async with gateway.client() as client:
        proxied = await client.get("/console/login", headers={"x-forwarded-proto": "https"})
    assert_console_headers(proxied, https=True)


async def test_console_events_still_stream_through_the_guard(gateway: App) -> None:
    """The queue's server-sent events arrive before the stream ends (nothing is buffered)."""
    await gateway.app.state.components.accounts.add("dora", CONSOLE_PASSWORD, Role.CASEWORKER)
    async with gateway.client() as client:
        page = await client.get("/console/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        await client.post(
            "/console/login",
            data={"csrf_token": token, "username": "dora", "password": CONSOLE_PASSWORD},
        )
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    started: list[Message] = []
    bodies: list[bytes] = []
    gone = anyio.Event()
    asked = [False]

    async def receive() -> Message:
        if not asked[0]:
            asked[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(sent: Message) -> None:
        if sent["type"] == "http.response.start":
            started.append(sent)
        elif sent.get("body"):
            bodies.append(sent["body"])
            gone.set()

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/console/api/queue/events",
        "raw_path": b"/console/api/queue/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway.test"), (b"cookie", cookie.encode())],
        "client": ("203.0.113.5", 5000),
        "server": ("gateway.test", 80),
    }
    with anyio.fail_after(15):
        await gateway.app(scope, receive, send)
    assert started[0]["status"] == 200
    headers = dict(started[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert b"permissions-policy" in headers
    assert bodies[0].startswith(b"event: queue\ndata: ")


# --- Redis ----------------------------------------------------------------------


async def test_two_replicas_share_counts_in_redis_and_store_no_identity(
    redis_prefix: str,
) -> None:
    """Hits on two limiters (two replicas) add up in Redis; keys hold HMACs, not identities."""
    one = RateLimiter("shared-secret-key-16", {"person": 3}, REDIS_DB, prefix=redis_prefix)
    two = RateLimiter("shared-secret-key-16", {"person": 3}, REDIS_DB, prefix=redis_prefix)
    key = person_key("whatsapp", "whatsapp:+258840000001")
    try:
        results = [await one.hit(key), await two.hit(key), await one.hit(key)]
        refused = await two.hit(key)
        other = await one.hit(person_key("whatsapp", "whatsapp:+258840000002"))
        client = redis.Redis.from_url(REDIS_DB)
        stored = [k.decode() for k in client.scan_iter(f"{redis_prefix}*")]
        ttls = [client.ttl(k) for k in stored]
        await two.forget(key)
        after_forget = await one.hit(key)
        client.close()
    finally:
        await one.close()
        await two.close()
    assert results == [None, None, None]
    assert refused is not None and 0 < refused <= 60
    assert other is None
    assert len(stored) == 2 and all("258840" not in k and "whatsapp:" not in k for k in stored)
    assert all(0 < ttl <= 61 for ttl in ttls)
    assert after_forget is None


async def test_an_address_is_hashed_before_it_is_stored_in_redis(redis_prefix: str) -> None:
    """No IP address appears in a Redis key."""
    limiter = RateLimiter("shared-secret-key-16", {"address": 5}, REDIS_DB, prefix=redis_prefix)
    try:
        await limiter.hit(address_key("203.0.113.77"))
    finally:
        await limiter.close()
    client = redis.Redis.from_url(REDIS_DB)
    keys = [k.decode() for k in client.scan_iter(f"{redis_prefix}*")]
    client.close()
    assert len(keys) == 1 and "203.0.113" not in keys[0]


async def test_requests_are_allowed_when_redis_is_down(
    sqlite_url: str, content_copy: Path, user_id: str
) -> None:
    """With Redis unreachable the limits fail open: every call is answered, the outage counted."""
    before = metric("rota_ratelimit_unavailable_total", error="ConnectionError")
    app = build_app(
        sqlite_url,
        content_copy,
        redis_url="redis://127.0.0.1:1/0",
        rate_limit_per_address=1,
        rate_limit_per_person=1,
    )
    async with app.client() as client:
        posted = [
            (await client.post("/api/web/messages", json=message(user_id, f"hi {n}"))).status_code
            for n in range(3)
        ]
    assert posted == [200] * 3
    assert metric("rota_ratelimit_unavailable_total", error="ConnectionError") > before
