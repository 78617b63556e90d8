"""The console's door: accounts, sign-in, sessions, CSRF, throttling, roles and the audit log."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from bot.accounts import Accounts, Role
from bot.db.session import make_engine, make_sessionmaker, sync_url
from tests.factories import App, build_app, message

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"


@pytest.fixture
def console(database_url: str, content_copy: Path) -> App:
    return build_app(database_url, content_copy)


async def add_account(app: App, username: str, role: Role = Role.CASEWORKER) -> int:
    engine = make_engine(app.settings.database_url)
    try:
        return await Accounts(make_sessionmaker(engine), app.settings.secret_key).add(
            username, PASSWORD, role
        )
    finally:
        await engine.dispose()


def sql(app: App, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(sync_url(app.settings.database_url))
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(r) for r in result] if result.returns_rows else []


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, code: str = ""
) -> httpx.Response:
    """Fill in the sign-in form as a browser would (its CSRF token included)."""
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post(
        "/console/login",
        data={
            "csrf_token": token.group(1),
            "username": username,
            "password": password,
            "code": code,
        },
    )


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/console", 303),
        ("GET", "/console/audit", 303),
        ("GET", "/console/x", 303),
        ("GET", "/console/api/queue", 401),
        ("POST", "/console/logout", 401),
    ],
)
async def test_nothing_under_console_is_served_without_signing_in(
    console: App, method: str, path: str, status: int
) -> None:
    """Pages send you to the sign-in form; the API and actions answer 401."""
    async with console.client() as client:
        response = await client.request(method, path)
    assert response.status_code == status
    if status == 303:
        assert response.headers["location"] == "/console/login"


def test_accounts_are_created_by_the_command_with_an_argon2id_hash(
    console: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bot users add` stores an Argon2id hash, never the password."""
    from bot.__main__ import main

    monkeypatch.setenv("DATABASE_URL", console.settings.database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "Ana.Silva", "--role", "supervisor", "--password-stdin"]) == 0
    ((username, role, hashed),) = sql(console, "SELECT username, role, password_hash FROM staff")
    assert (username, role) == ("ana.silva", "supervisor")
    assert str(hashed).startswith("$argon2id$") and PASSWORD not in str(hashed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "bo", "--password-stdin"]) == 1


async def test_signing_in_opens_the_queue_with_distress_first(console: App) -> None:
    """A caseworker signs in and sees who waits: distress before requests, with first words."""
    await add_account(console, "ana")
    async with console.client() as client:
        await client.post("/api/web/messages", json=message("p1", "quero falar com uma pessoa"))
        await client.post(
            "/api/web/messages",
            json=message("p2", "socorro, me prenderam e tiraram o meu passaporte"),
        )
        response = await sign_in(client, "ana")
        assert response.status_code == 303 and response.headers["location"] == "/console"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        queue = await client.get("/console")
    assert queue.status_code == 200
    assert queue.headers["cache-control"] == "no-store"
    rows = re.findall(r'<tr class="(distress|request)"', queue.text)
    assert rows == ["distress", "request"]
    assert "socorro, me prenderam e tiraram o meu passaporte" in queue.text


async def test_the_session_cookie_is_secure_behind_https(console: App) -> None:
    """Served over https (here via a proxy header), the cookie is marked Secure."""
    await add_account(console, "ana")
    async with console.client() as client:
        client.headers["x-forwarded-proto"] = "https"
        response = await sign_in(client, "ana")
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_passwords_are_refused_and_then_throttled(console: App) -> None:
    """Ten failures in 15 minutes lock the account out, even for the right password."""
    await add_account(console, "ana")
    async with console.client() as client:
        for _ in range(10):
            assert (await sign_in(client, "ana", "wrong password!!")).status_code == 401
        assert (await sign_in(client, "ana")).status_code == 429
    assert sql(console, "SELECT count(*) FROM staff_sessions") == [(0,)]


async def test_one_address_trying_many_accounts_is_throttled(console: App) -> None:
    """Ten failures from one address block it, whatever the account names."""
    await add_account(console, "ana")
    async with console.client() as client:
        for n in range(10):
            assert (await sign_in(client, f"nobody{n}", "wrong password!!")).status_code == 401
        assert (await sign_in(client, "ana")).status_code == 429


async def test_the_sign_in_form_needs_its_csrf_token(console: App) -> None:
    """A sign-in posted from elsewhere (no form token) is refused."""
    await add_account(console, "ana")
    async with console.client() as client:
        response = await client.post(
            "/console/login", data={"username": "ana", "password": PASSWORD}
        )
    assert response.status_code == 403


async def test_signing_in_again_rotates_the_session(console: App) -> None:
    """A new sign-in ends the session the browser had: an old cookie stops working."""
    await add_account(console, "ana")
    async with console.client() as client:
        await sign_in(client, "ana")
        old = client.cookies.get("rota_console")
        await sign_in(client, "ana")
        assert client.cookies.get("rota_console") != old
    async with console.client() as stale:
        stale.cookies.set("rota_console", old or "", domain="gateway.test", path="/console")
        assert (await stale.get("/console")).status_code == 303


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", dt.timedelta(minutes=31)), ("created_at", dt.timedelta(hours=13))],
)
async def test_sessions_end_after_30_idle_minutes_or_12_hours(
    console: App, column: str, age: dt.timedelta
) -> None:
    """Idle for 30 minutes, or 12 hours after sign-in, the session is over."""
    await add_account(console, "ana")
    async with console.client() as client:
        await sign_in(client, "ana")
        assert (await client.get("/console")).status_code == 200
        sql(console, f"UPDATE staff_sessions SET {column} = :t", t=dt.datetime.now(dt.UTC) - age)
        assert (await client.get("/console")).status_code == 303
    assert sql(console, "SELECT count(*) FROM staff_sessions") == [(0,)]


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(console: App) -> None:
    """Sign-out without the page's token is refused; with it, the session is gone."""
    await add_account(console, "ana")
    async with console.client() as client:
        await sign_in(client, "ana")
        assert (await client.post("/console/logout")).status_code == 403
        page = await client.get("/console")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        out = await client.post("/console/logout", data={"csrf_token": token.group(1)})
        assert out.status_code == 303
        assert (await client.get("/console")).status_code == 303


async def test_a_second_factor_is_required_once_turned_on(console: App) -> None:
    """With TOTP on, the password alone is not enough; the current code is."""
    await add_account(console, "ana")
    engine = make_engine(console.settings.database_url)
    uri = await Accounts(make_sessionmaker(engine), console.settings.secret_key).enable_totp("ana")
    await engine.dispose()
    totp = pyotp.parse_uri(uri)
    async with console.client() as client:
        assert (await sign_in(client, "ana")).status_code == 401
        assert (await sign_in(client, "ana", code=totp.now())).status_code == 303
    secret = sql(console, "SELECT totp_secret FROM staff")[0][0]
    assert totp.secret not in str(secret)


async def test_only_supervisors_see_the_audit_log_which_lists_sign_ins(console: App) -> None:
    """The audit page is a supervisor's; it lists who signed in, and viewing it is audited."""
    await add_account(console, "ana")
    await add_account(console, "sara", Role.SUPERVISOR)
    async with console.client() as caseworker:
        await sign_in(caseworker, "ana")
        assert (await caseworker.get("/console/audit")).status_code == 403
    async with console.client() as supervisor:
        await sign_in(supervisor, "sara")
        page = await supervisor.get("/console/audit")
    assert page.status_code == 200
    assert "ana" in page.text and "sign_in" in page.text
    actions = [a for (a,) in sql(console, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["sign_in", "sign_in", "view_audit"]


async def test_the_audit_log_cannot_be_changed_or_deleted(console: App) -> None:
    """The database itself refuses to update or delete audit rows."""
    await add_account(console, "ana")
    async with console.client() as client:
        await sign_in(client, "ana")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(console, "UPDATE audit_log SET username = 'someone else'")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(console, "DELETE FROM audit_log")
    assert sql(console, "SELECT username FROM audit_log") == [("ana",)]
