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
from tests.channel_kit import CONSOLE_PASSWORD, console_routes, csrf_in
from tests.factories import App, build_app, message

pytestmark = pytest.mark.anyio
PASSWORD = CONSOLE_PASSWORD


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
    return await client.post(
        "/console/login",
        data={
            "csrf_token": csrf_in(page.text),
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
        out = await client.post("/console/logout", data={"csrf_token": csrf_in(page.text)})
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


async def queued_conversation(client: httpx.AsyncClient, person: str = "p1") -> str:
    """A person who asks for a person; the id of their (now queued) conversation."""
    response = await client.post(
        "/api/web/messages", json=message(person, "quero falar com uma pessoa")
    )
    body = response.json()
    assert body["status"] == "queued"
    return str(body["conversation_id"])


async def csrf_of(client: httpx.AsyncClient, path: str = "/console") -> str:
    """The CSRF token of a console page."""
    return csrf_in((await client.get(path)).text)


async def test_two_caseworkers_claim_at_once_and_exactly_one_wins(console: App) -> None:
    """Simultaneous claims: one takes the conversation, the other is told who has it."""
    import asyncio

    await add_account(console, "ana")
    await add_account(console, "rui")
    async with console.client() as person, console.client() as ana, console.client() as rui:
        conversation = await queued_conversation(person)
        await sign_in(ana, "ana")
        await sign_in(rui, "rui")
        tokens = [await csrf_of(ana), await csrf_of(rui)]
        path = f"/console/conversations/{conversation}/claim"
        results = await asyncio.gather(
            ana.post(path, data={"csrf_token": tokens[0]}),
            rui.post(path, data={"csrf_token": tokens[1]}),
        )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [303, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert "another caseworker took this conversation" in loser.text
    ((status, assigned),) = sql(console, "SELECT status, assigned_to FROM conversations")
    assert status == "human" and assigned is not None
    assert [a for (a,) in sql(console, "SELECT action FROM audit_log WHERE action='claim'")] == [
        "claim"
    ]


async def test_a_caseworker_reply_reaches_the_person_and_resolve_hands_back_to_the_bot(
    console: App,
) -> None:
    """Claim, read, reply (the web chat fetches it), resolve: the person is told, in Portuguese."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        conversation = await queued_conversation(person)
        await sign_in(ana, "ana")
        base = f"/console/conversations/{conversation}"
        await ana.post(f"{base}/claim", data={"csrf_token": await csrf_of(ana)})
        await person.post("/api/web/messages", json=message("p1", "estou com medo"))
        page = await ana.get(base)
        assert "estou com medo" in page.text and "quero falar com uma pessoa" in page.text
        sent = await ana.post(
            f"{base}/reply",
            data={"csrf_token": await csrf_of(ana, base), "text": "Olá, sou a Ana."},
        )
        assert sent.status_code == 303
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
        assert inbox["messages"][-1]["text"] == "Olá, sou a Ana."
        assert inbox["messages"][-1]["author"] == "caseworker"
        done = await ana.post(f"{base}/resolve", data={"csrf_token": await csrf_of(ana, base)})
        assert done.status_code == 303
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
        assert inbox["status"] == "bot"
        assert inbox["messages"][-1]["topic"] == "handoff_resolved"
        assert "assistente automático" in inbox["messages"][-1]["text"]
    actions = [a for (a,) in sql(console, "SELECT action FROM audit_log ORDER BY id")]
    assert {"claim", "view_transcript", "reply", "resolve"} <= set(actions)
    assert console.rasa.received == []  # while with a person, nothing went to the engine


async def test_caseworkers_see_the_queue_and_their_own_but_not_anothers(console: App) -> None:
    """Once Ana holds a conversation, Rui cannot read it; a supervisor can."""
    await add_account(console, "ana")
    await add_account(console, "rui")
    await add_account(console, "sara", Role.SUPERVISOR)
    async with console.client() as person, console.client() as ana:
        conversation = await queued_conversation(person)
        await sign_in(ana, "ana")
        base = f"/console/conversations/{conversation}"
        await ana.post(f"{base}/claim", data={"csrf_token": await csrf_of(ana)})
        assert (await ana.get(base)).status_code == 200
    async with console.client() as rui:
        await sign_in(rui, "rui")
        assert (await rui.get(base)).status_code == 403
        reply = await rui.post(
            f"{base}/reply", data={"csrf_token": await csrf_of(rui), "text": "x"}
        )
        assert reply.status_code == 403
    async with console.client() as sara:
        await sign_in(sara, "sara")
        assert (await sara.get(base)).status_code == 200


async def test_the_queue_api_gives_the_live_page_its_rows(console: App) -> None:
    """GET /console/api/queue: distress first, with reason, channel, language and words."""
    await add_account(console, "ana")
    async with console.client() as client:
        await queued_conversation(client, "p1")
        await client.post(
            "/api/web/messages",
            json=message("p2", "socorro, me prenderam e tiraram o meu passaporte"),
        )
        await sign_in(client, "ana")
        items = (await client.get("/console/api/queue")).json()
    assert [i["reason"] for i in items] == ["distress", "request"]
    assert items[0]["channel"] == "web" and items[0]["language"] == "pt"
    assert items[1]["first_words"] == "quero falar com uma pessoa"


async def claimed_by_ana(console: App, person: httpx.AsyncClient, ana: httpx.AsyncClient) -> str:
    """A queued web conversation that Ana has taken; its console path."""
    conversation = await queued_conversation(person)
    await sign_in(ana, "ana")
    base = f"/console/conversations/{conversation}"
    await ana.post(f"{base}/claim", data={"csrf_token": await csrf_of(ana)})
    return base


async def test_a_canned_reply_goes_out_in_the_persons_language(console: App) -> None:
    """The ready reply 'hello' reaches a Portuguese speaker in Portuguese."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        page = await ana.get(base)
        assert "Introduce yourself" in page.text
        sent = await ana.post(
            f"{base}/reply", data={"csrf_token": await csrf_of(ana, base), "canned": "hello"}
        )
        assert sent.status_code == 303
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
    assert inbox["messages"][-1]["text"].startswith("Olá, sou uma pessoa da equipa")


async def test_notes_and_tags_stay_inside_the_team(console: App) -> None:
    """A note and a tag show in the console and are never sent to the person."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        token = await csrf_of(ana, base)
        await ana.post(
            f"{base}/note", data={"csrf_token": token, "text": "Said the boss has her ID"}
        )
        await ana.post(f"{base}/tag", data={"csrf_token": token, "tag": "Passport  held"})
        bad = await ana.post(f"{base}/tag", data={"csrf_token": token, "tag": "<script>"})
        assert bad.status_code == 422
        page = await ana.get(base)
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
    assert "Said the boss has her ID" in page.text and "passport held" in page.text
    assert all("boss" not in m["text"] for m in inbox["messages"])
    actions = {a for (a,) in sql(console, "SELECT action FROM audit_log")}
    assert {"note", "tag"} <= actions


async def test_transfer_hands_the_conversation_to_a_colleague(console: App) -> None:
    """After a transfer the colleague can reply and the first caseworker no longer can."""
    await add_account(console, "ana")
    await add_account(console, "rui")
    async with console.client() as person, console.client() as ana, console.client() as rui:
        base = await claimed_by_ana(console, person, ana)
        moved = await ana.post(
            f"{base}/transfer", data={"csrf_token": await csrf_of(ana, base), "to": "rui"}
        )
        assert moved.status_code == 303
        await sign_in(rui, "rui")
        ok = await rui.post(
            f"{base}/reply", data={"csrf_token": await csrf_of(rui, base), "text": "Sou o Rui."}
        )
        assert ok.status_code == 303
        refused = await ana.post(
            f"{base}/reply", data={"csrf_token": await csrf_of(ana), "text": "Ainda aqui"}
        )
        assert refused.status_code == 403
    assert sql(console, "SELECT detail FROM audit_log WHERE action = 'transfer'") == [("to rui",)]


async def test_closing_ends_the_conversation_and_the_next_message_starts_fresh(
    console: App,
) -> None:
    """Closed by the caseworker; the person's next message is answered by the assistant."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        closed = await ana.post(f"{base}/close", data={"csrf_token": await csrf_of(ana, base)})
        assert closed.status_code == 303
        assert sql(console, "SELECT status, escalation FROM conversations") == [("closed", None)]
        again = await person.post(
            "/api/web/messages", json=message("p1", "quais são os sinais de perigo")
        )
    assert again.json()["status"] == "bot"
    assert console.rasa.received  # back with the assistant


def components(app: App):  # type: ignore[no-untyped-def]
    return app.app.state.components


async def test_out_of_hours_the_person_gets_help_contacts_at_once_and_only_once(
    console: App,
) -> None:
    """Nobody signed in: the waiting person is told so and given help numbers, once."""
    async with console.client() as person:
        conversation = await queued_conversation(person)
        assert await components(console).unclaimed.sweep() == [conversation]
        assert await components(console).unclaimed.sweep() == []
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
    topics = [m["topic"] for m in inbox["messages"]]
    assert topics[-2:] == ["unclaimed", "help_contacts"]
    assert "ninguém da nossa equipa está livre" in inbox["messages"][-2]["text"]


async def test_with_caseworkers_on_duty_the_notice_waits_for_the_configured_time(
    console: App,
) -> None:
    """Someone signed in: nothing at first; after UNCLAIMED_MINUTES without a claim, the notice."""
    await add_account(console, "sara", Role.SUPERVISOR)
    async with console.client() as person, console.client() as sara:
        conversation = await queued_conversation(person)
        await sign_in(sara, "sara")
        assert await components(console).unclaimed.sweep() == []
        sql(
            console,
            "UPDATE conversations SET escalated_at = :t",
            t=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6),
        )
        assert await components(console).unclaimed.sweep() == [conversation]
        page = await sara.get("/console")
    assert 'id="overdue"' in page.text and "nobody free, help sent" in page.text
    banner = re.search(r'<p id="overdue"[^>]*>', page.text)
    assert banner is not None and "hidden" not in banner.group(0)


async def test_an_editor_signed_in_does_not_count_as_someone_on_duty(console: App) -> None:
    """An editor cannot take a chat: with only an editor signed in, help numbers go at once."""
    await add_account(console, "eva", Role.EDITOR)
    async with console.client() as person, console.client() as eva:
        conversation = await queued_conversation(person)
        await sign_in(eva, "eva")
        assert await components(console).unclaimed.sweep() == [conversation]


async def test_a_conversation_cannot_be_transferred_to_an_editor(console: App) -> None:
    """Editors are not offered as colleagues, and a transfer to one is refused."""
    await add_account(console, "ana")
    await add_account(console, "eva", Role.EDITOR)
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        page = await ana.get(base)
        moved = await ana.post(
            f"{base}/transfer", data={"csrf_token": await csrf_of(ana, base), "to": "eva"}
        )
    assert ">eva<" not in page.text and 'value="eva"' not in page.text
    assert moved.status_code in (403, 422)
    assert sql(console, "SELECT count(*) FROM audit_log WHERE action = 'transfer'") == [(0,)]


async def test_a_claimed_conversation_gets_no_unclaimed_notice(console: App) -> None:
    """Taken in time: the person is not told that nobody is free."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        await claimed_by_ana(console, person, ana)
        sql(
            console,
            "UPDATE conversations SET escalated_at = :t",
            t=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        )
        assert await components(console).unclaimed.sweep() == []


async def test_a_transcript_can_be_exported_and_the_export_is_audited(console: App) -> None:
    """Download as text: the person's and the team's words with times; an audit row."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        await ana.post(
            f"{base}/note", data={"csrf_token": await csrf_of(ana, base), "text": "Call back 9h"}
        )
        exported = await ana.get(f"{base}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    assert "person: quero falar com uma pessoa" in exported.text
    assert "Team notes:" in exported.text and "ana: Call back 9h" in exported.text
    assert sql(console, "SELECT count(*) FROM audit_log WHERE action = 'export'") == [(1,)]


@pytest.mark.parametrize("action", ["close", "resolve", "transfer"])
async def test_a_caseworker_cannot_change_a_conversation_they_do_not_hold(
    console: App, action: str
) -> None:
    """Closing, resolving or transferring needs the conversation in hand (or a supervisor)."""
    await add_account(console, "rui")
    async with console.client() as person, console.client() as rui:
        conversation = await queued_conversation(person)
        await sign_in(rui, "rui")
        response = await rui.post(
            f"/console/conversations/{conversation}/{action}",
            data={"csrf_token": await csrf_of(rui), "to": "rui"},
        )
    assert response.status_code in (403, 422)
    assert sql(console, "SELECT status FROM conversations") == [("queued",)]


async def test_actions_without_the_csrf_token_are_refused(console: App) -> None:
    """A claim posted from another site (no token) does nothing."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        conversation = await queued_conversation(person)
        await sign_in(ana, "ana")
        forged = await ana.post(f"/console/conversations/{conversation}/claim", data={})
    assert forged.status_code == 403
    assert sql(console, "SELECT status FROM conversations") == [("queued",)]


async def test_the_account_limit_holds_across_many_addresses(console: App) -> None:
    """Ten failures from ten addresses (and spellings of the name) still lock the account."""
    await add_account(console, "ana")
    for n in range(10):
        transport = httpx.ASGITransport(app=console.app, client=(f"10.0.0.{n}", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            name = [" ana", "ANA", "ana "][n % 3]
            assert (await sign_in(c, name, "wrong password!!")).status_code == 401
    transport = httpx.ASGITransport(app=console.app, client=("10.0.1.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        assert (await sign_in(c, "ana")).status_code == 429


async def test_a_totp_code_cannot_be_used_twice(console: App) -> None:
    """A code that signed someone in is refused the second time."""
    await add_account(console, "ana")
    uri = await components(console).accounts.enable_totp("Ana")
    code = pyotp.parse_uri(uri).now()
    async with console.client() as first, console.client() as second:
        assert (await sign_in(first, "ana", code=code)).status_code == 303
        assert (await sign_in(second, "ana", code=code)).status_code == 401


async def test_a_long_reply_in_any_script_is_accepted(console: App) -> None:
    """4,000 characters of Cyrillic (6 bytes each, form-encoded) are sent, not refused."""
    await add_account(console, "ana")
    async with console.client() as person, console.client() as ana:
        base = await claimed_by_ana(console, person, ana)
        text_ = "Ж" * 4000
        sent = await ana.post(
            f"{base}/reply", data={"csrf_token": await csrf_of(ana, base), "text": text_}
        )
        assert sent.status_code == 303
        inbox = (await person.get("/api/web/messages", params={"user_id": "p1"})).json()
    assert inbox["messages"][-1]["text"] == text_


async def test_the_live_queue_does_not_keep_an_abandoned_tab_signed_in(console: App) -> None:
    """The stream's own checks are not activity: idle is idle."""
    from bot.staff_sessions import SessionStore

    await add_account(console, "ana")
    async with console.client() as ana:
        await sign_in(ana, "ana")
        token = ana.cookies.get("rota_console")
    idle = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=29)
    sql(console, "UPDATE staff_sessions SET last_seen_at = :t", t=idle)
    store = SessionStore(components(console).service._sessions)
    assert await store.find(token, touch=False) is not None
    from sqlalchemy import select

    from bot.db.models import StaffSession

    with create_engine(sync_url(console.settings.database_url)).connect() as conn:
        seen = conn.scalar(select(StaffSession.last_seen_at))
    assert seen is not None and abs(seen - idle) < dt.timedelta(seconds=1)


async def test_a_second_wait_gets_the_help_contacts_again(console: App) -> None:
    """Resolved, then escalated again later: the unclaimed notice goes out for the new wait."""
    await add_account(console, "sara", Role.SUPERVISOR)
    async with console.client() as person, console.client() as sara:
        conversation = await queued_conversation(person)
        assert await components(console).unclaimed.sweep() == [conversation]
        await sign_in(sara, "sara")
        base = f"/console/conversations/{conversation}"
        await sara.post(f"{base}/resolve", data={"csrf_token": await csrf_of(sara, base)})
        await sara.post("/console/logout", data={"csrf_token": await csrf_of(sara)})
        await queued_conversation(person)
        assert await components(console).unclaimed.sweep() == [conversation]


async def test_every_console_route_refuses_a_visitor_without_a_session(console: App) -> None:
    """Walk the app's own route table: nothing under /console but the sign-in form answers."""
    walked = console_routes(console)
    assert len({id(route) for route, _, _ in walked}) >= 10
    async with console.client() as visitor:
        for route, method, path in walked:
            response = await visitor.request(method, path)
            if route.path == "/console/login":
                assert response.status_code in (200, 403), (method, path)
                continue
            assert response.status_code in (303, 401), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"] == "/console/login"
