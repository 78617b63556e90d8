"""The WhatsApp channel: Twilio signatures, numbered options, REST replies, statuses, window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from bot.content.store import ContentStore
from bot.db.crypto import reveal
from bot.db.models import Delivery, Message, Person
from bot.db.session import sync_url
from bot.guided import Guide
from bot.messages import Reply
from tests.channel_kit import (
    CONSOLE_PASSWORD,
    PUBLIC_URL,
    console_sign_in,
    csrf_in,
    database_dump,
    drain,
    form_body,
    parts,
    rows,
    running,
    sign,
    stored_reply,
    stored_reply_id,
    topic_route,
    twilio_form,
)
from tests.factories import App, build_app
from tests.fakes.twilio_api import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    FakeTwilio,
    Sent,
    running_fake_twilio,
)

SENDER = "whatsapp:+14155238886"
PERSON = "whatsapp:+258841234567"
WEBHOOK = f"{PUBLIC_URL}/webhooks/whatsapp"
STATUS = f"{PUBLIC_URL}/webhooks/whatsapp/status"
Params = Mapping[str, str | Sequence[str]]


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_api: FakeTwilio) -> FakeTwilio:
    """The recording Twilio API, emptied for this test."""
    twilio_api.clear()
    return twilio_api


def whatsapp_app(sqlite_url: str, content: Path, fake: FakeTwilio, **extra: object) -> App:
    """The gateway with WhatsApp on, sending to the recording Twilio API."""
    settings: dict[str, object] = {
        "twilio_account_sid": TEST_ACCOUNT_SID,
        "twilio_auth_token": TEST_AUTH_TOKEN,
        "twilio_whatsapp_from": SENDER,
        "twilio_api_url": fake.url,
        "public_url": PUBLIC_URL,
        **extra,
    }
    app = build_app(sqlite_url, content, **settings)
    app.rasa.route = topic_route
    return app


@pytest.fixture
def gateway_wa(sqlite_url: str, content_copy: Path, twilio: FakeTwilio) -> App:
    return whatsapp_app(sqlite_url, content_copy, twilio)


@pytest.fixture
def client(gateway_wa: App) -> Iterator[TestClient]:
    with running(gateway_wa) as client:
        yield client


def post(
    client: TestClient,
    params: Params,
    *,
    url: str = WEBHOOK,
    signed_url: str | None = None,
    signature: str | None = "sign",
    headers: Mapping[str, str] | None = None,
) -> int:
    """Deliver a form as Twilio does, signed over `signed_url` (default: the URL called)."""
    sent = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    if signature == "sign":
        sent["X-Twilio-Signature"] = sign(TEST_AUTH_TOKEN, signed_url or url, params)
    elif signature is not None:
        sent["X-Twilio-Signature"] = signature
    return client.post(url, content=form_body(params), headers=sent).status_code


def start_conversation(client: TestClient, app: App, twilio: FakeTwilio) -> list[Sent]:
    """A first Portuguese message, answered (answer + privacy note); what was sent for it.

    The recorder is emptied afterwards, so a test sees only what follows.
    """
    assert post(client, twilio_form("text")) == 200
    twilio.wait_for(count=2)
    drain(client, app)
    sent = list(twilio.accepted)
    twilio.clear()
    return sent


def expected(app: App, topic: str, language: str = "pt") -> str:
    """A topic's opening as a WhatsApp user in Mozambique reads it (before numbering)."""
    store = ContentStore(app.settings.content_dir)
    check = store.current().checks.get(topic)
    if check is not None:  # the topic opens a guided check
        guide = Guide(check, store.current(), language)
        return guide.question(guide.fresh(), intro=True).text
    return store.render(topic, language, "MZ", "whatsapp").text


def bodies(fake: FakeTwilio) -> list[str]:
    return [s.params.get("Body", "") for s in fake.accepted]


def test_signed_message_is_answered_through_the_rest_api_in_its_language(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A signed Portuguese message: empty TwiML back, the answer sent via Messages API."""
    response = client.post(
        "/webhooks/whatsapp",
        content=form_body(twilio_form("text")),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(TEST_AUTH_TOKEN, WEBHOOK, twilio_form("text")),
        },
    )
    assert response.status_code == 200
    assert "<Response></Response>" in response.text
    sent = twilio.wait_for(count=2)
    assert all(s.auth_ok for s in sent)
    assert {(s.params["To"], s.params["From"]) for s in sent} == {(PERSON, SENDER)}
    assert sent[0].params["Body"].startswith(expected(gateway_wa, "warning_signs"))
    assert sent[0].params["StatusCallback"] == STATUS


def test_message_is_stored_before_twilio_gets_its_answer(
    client: TestClient, gateway_wa: App
) -> None:
    """When the webhook answers, the person's message is already committed."""
    assert post(client, twilio_form("text")) == 200
    stored = rows(gateway_wa, "SELECT text, dedup_key FROM messages WHERE direction = 'in'")
    sid = twilio_form("text")["MessageSid"]
    assert [(reveal(text), key) for text, key in stored] == [
        (twilio_form("text")["Body"], f"whatsapp:{sid}")
    ]


@pytest.mark.parametrize(
    "forgery",
    ["missing header", "tampered body", "wrong url", "wrong token", "extra parameter", "json body"],
)
def test_forged_requests_are_refused_and_nothing_is_stored(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio, forgery: str
) -> None:
    """Unsigned or badly signed requests get 403: nothing stored, nothing sent."""
    params = twilio_form("text")
    if forgery == "missing header":
        status = post(client, params, signature=None)
    elif forgery == "tampered body":
        signature = sign(TEST_AUTH_TOKEN, WEBHOOK, params)
        status = post(client, {**params, "Body": "outra coisa"}, signature=signature)
    elif forgery == "wrong url":
        status = post(client, params, signed_url="https://evil.example.org/webhooks/whatsapp")
    elif forgery == "wrong token":
        signature = sign("0" * 32, WEBHOOK, params)
        status = post(client, params, signature=signature)
    elif forgery == "extra parameter":
        signature = sign(TEST_AUTH_TOKEN, WEBHOOK, params)
        status = post(client, {**params, "From2": "x"}, signature=signature)
    else:
        status = client.post(
            "/webhooks/whatsapp",
            json=params,
            headers={"X-Twilio-Signature": sign(TEST_AUTH_TOKEN, WEBHOOK, params)},
        ).status_code
    assert status == 403
    drain(client, gateway_wa)
    assert gateway_wa.count(Message, Person) == 0
    assert twilio.sent == []


def test_repeated_keys_are_signed_and_checked_as_twilio_does(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A form with a repeated key validates; dropping one of its values does not."""
    params: dict[str, str | list[str]] = {**twilio_form("text"), "Tag": ["b", "a"]}
    assert post(client, params) == 200
    signature = sign(TEST_AUTH_TOKEN, WEBHOOK, params)
    fewer = {**params, "MessageSid": "SM" + "1" * 32, "Tag": ["b"]}
    assert post(client, fewer, signature=signature) == 403


def test_behind_a_reverse_proxy_the_forwarded_address_is_what_is_signed(
    sqlite_url: str, content_copy: Path, twilio: FakeTwilio
) -> None:
    """Without PUBLIC_URL, X-Forwarded-Proto/Host give the URL Twilio signed."""
    app = whatsapp_app(sqlite_url, content_copy, twilio, public_url="")
    with running(app, base_url="http://10.0.0.5:8000") as client:
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.example.org"}
        params = twilio_form("text")
        called = "http://10.0.0.5:8000/webhooks/whatsapp"
        assert post(client, params, url=called, signed_url=WEBHOOK, headers=forwarded) == 200
        assert post(client, params, url=called, signed_url=WEBHOOK) == 403
        twilio.wait_for(count=2)


def test_a_message_delivered_three_times_is_answered_once(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """Twilio's retries (same MessageSid) are acknowledged and ignored."""
    for _ in range(3):
        assert post(client, twilio_form("text")) == 200
    drain(client, gateway_wa)
    assert len(twilio.sent) == 2
    assert rows(gateway_wa, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]
    assert len(gateway_wa.rasa.received) == 1


def test_buttons_become_numbered_options_and_a_number_picks_one(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """Options are numbered under a hint; replying "2" opens the second option's topic."""
    start_conversation(client, gateway_wa, twilio)
    assert post(client, twilio_form("text", Body="menu", MessageSid="SM" + "a" * 32)) == 200
    menu = twilio.wait_for(count=1)[0].params["Body"]
    welcome = ContentStore(gateway_wa.settings.content_dir).render("welcome", "pt")
    hint = ContentStore(gateway_wa.settings.content_dir).current().channels.numbered_hint["pt"]
    numbered = "\n".join(f"{n}. {b.title}" for n, b in enumerate(welcome.buttons, start=1))
    assert menu == f"{expected(gateway_wa, 'welcome')}\n\n{hint}\n{numbered}"
    drain(client, gateway_wa)
    twilio.clear()
    assert post(client, twilio_form("text", Body="2", MessageSid="SM" + "b" * 32)) == 200
    answer = twilio.wait_for(count=1)[0].params["Body"]
    assert answer.startswith(expected(gateway_wa, welcome.buttons[1].payload))


def test_a_number_without_options_on_offer_is_read_as_text(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """ "7" with no seventh option goes to the language model as the person wrote it."""
    assert post(client, twilio_form("text", Body="7")) == 200
    twilio.wait_for(count=1)
    assert gateway_wa.rasa.received[-1]["message"] == "7"


def test_a_template_button_payload_opens_its_topic(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A quick-reply button of a template carries its payload."""
    start_conversation(client, gateway_wa, twilio)
    assert post(client, twilio_form("button")) == 200
    body = twilio.wait_for(count=1)[0].params["Body"]
    assert body.startswith(expected(gateway_wa, "warning_signs"))


@pytest.mark.parametrize("name", ["media", "location"])
def test_voice_notes_and_locations_get_an_only_text_reply_and_are_not_kept(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio, name: str
) -> None:
    """Media and places get the kind 'only text' reply; no coordinates or media URL stored."""
    assert post(client, twilio_form(name)) == 200
    assert twilio.wait_for(count=1)[0].params["Body"].startswith(expected(gateway_wa, "text_only"))
    dump = database_dump(gateway_wa)
    # Full coordinates: a stored time such as 11:29:25.965522 must not look like one.
    for secret in ("25.965531", "32.583237", "Maputo", "api.twilio.com", "Ana", "258841234567"):
        assert secret not in dump


def test_long_replies_are_split_under_1600_characters(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A caseworker reply over WhatsApp's limit arrives in several parts, cut after sentences."""
    start_conversation(client, gateway_wa, twilio)
    long_text = " ".join(f"Frase número {n} aqui." for n in range(150))
    conversation_id = rows(gateway_wa, "SELECT id FROM conversations")[0][0]
    reply = stored_reply(gateway_wa, conversation_id, long_text)
    assert client.portal.call(parts(gateway_wa).delivery.deliver_stored, conversation_id, [reply])
    texts = bodies(twilio)
    assert len(texts) >= 2
    assert all(len(t) <= 1600 and t.endswith(".") for t in texts)
    assert " ".join(texts) == long_text


def delivery_of_first_reply(app: App) -> tuple[str, str]:
    """Provider id and status of the first reply part sent."""
    ((sid, status),) = rows(
        app, "SELECT provider_message_id, status FROM deliveries ORDER BY id LIMIT 1"
    )
    return str(sid), str(status)


def status_form(sid: str, status: str, **extra: str) -> dict[str, str]:
    return twilio_form(
        "status_sent", MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status, **extra
    )


def test_delivery_statuses_are_kept_per_outbound_message_and_never_go_back(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """sent → delivered → read are stored on the reply; a late 'delivered' does not undo 'read'."""
    first = start_conversation(client, gateway_wa, twilio)
    sid, status = delivery_of_first_reply(gateway_wa)
    assert (sid, status) == (first[0].sid, "queued")
    for step in ("sent", "delivered", "read"):
        assert post(client, status_form(sid, step), url=STATUS) == 204
        assert delivery_of_first_reply(gateway_wa) == (sid, step)
    assert post(client, status_form(sid, "delivered"), url=STATUS) == 204
    assert delivery_of_first_reply(gateway_wa) == (sid, "read")


def test_a_failed_delivery_keeps_twilios_error_code(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A 'failed' status callback stores its error code for the console."""
    start_conversation(client, gateway_wa, twilio)
    sid, _ = delivery_of_first_reply(gateway_wa)
    assert post(client, status_form(sid, "failed", ErrorCode="63016"), url=STATUS) == 204
    assert rows(gateway_wa, "SELECT status, error_code FROM deliveries ORDER BY id LIMIT 1") == [
        ("failed", "63016")
    ]


def test_unsigned_status_callbacks_are_refused(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A forged 'read' receipt is refused like a forged message."""
    start_conversation(client, gateway_wa, twilio)
    sid, status = delivery_of_first_reply(gateway_wa)
    assert post(client, status_form(sid, "read"), url=STATUS, signature="forged") == 403
    assert delivery_of_first_reply(gateway_wa) == (sid, status)


def test_a_refused_send_is_recorded_with_twilios_code(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """When Twilio refuses a message, the delivery says failed with Twilio's error code."""
    twilio.fail_next(times=2, status=400, code=63016)
    assert post(client, twilio_form("text")) == 200
    drain(client, gateway_wa)
    assert rows(gateway_wa, "SELECT status, error_code FROM deliveries ORDER BY id") == [
        ("failed", "63016"),
        ("failed", "63016"),
    ]


def age_conversation(app: App, hours: int) -> str:
    """Make the person's last message `hours` old; the conversation id."""
    engine = create_engine(sync_url(app.settings.database_url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE conversations SET last_inbound_at = :t"),
            {"t": dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)},
        )
        return str(conn.execute(text("SELECT id FROM conversations")).scalar_one())


def test_outside_the_24_hour_window_nothing_is_attempted_and_the_reason_is_kept(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A free-form message 25 h after the person's last one is not sent; the console can see why."""
    start_conversation(client, gateway_wa, twilio)
    conversation_id = age_conversation(gateway_wa, 25)
    message_id = stored_reply_id(gateway_wa, conversation_id, "Olá, sou a Joana.")
    reply = Reply(id=message_id, text="Olá, sou a Joana.", topic=None, language="pt")
    assert client.portal.call(parts(gateway_wa).delivery.deliver_stored, conversation_id, [reply])
    assert twilio.sent == []
    assert rows(
        gateway_wa, "SELECT status, reason FROM deliveries WHERE message_id = :m", m=message_id
    ) == [("not_sent", "outside_24h_window")]


def test_outside_the_window_a_configured_template_is_sent_instead(
    sqlite_url: str, content_copy: Path, twilio: FakeTwilio
) -> None:
    """With TWILIO_TEMPLATE_CONTENT_SID set, the approved template goes out instead."""
    template = "HX" + "c" * 32
    app = whatsapp_app(sqlite_url, content_copy, twilio, twilio_template_content_sid=template)
    with running(app) as client:
        start_conversation(client, app, twilio)
        conversation_id = age_conversation(app, 30)
        replies = [
            Reply(
                id=stored_reply_id(app, conversation_id, words),
                text=words,
                topic=None,
                language="pt",
            )
            for words in ("Olá de novo.", "Estou aqui para ajudar.")
        ]
        client.portal.call(parts(app).delivery.deliver_stored, conversation_id, replies)
    (sent,) = twilio.accepted
    assert sent.params["ContentSid"] == template
    assert "Body" not in sent.params
    recorded = rows(
        app,
        "SELECT status, reason FROM deliveries WHERE message_id IN (:a, :b) ORDER BY message_id",
        a=replies[0].id,
        b=replies[1].id,
    )
    assert recorded == [("queued", "template"), ("not_sent", "outside_24h_window")]


def test_delete_explains_how_to_clear_the_chat_on_whatsapp(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """Erasing on WhatsApp erases our side and explains how to clear the phone's side."""
    start_conversation(client, gateway_wa, twilio)
    assert post(client, twilio_form("text", Body="apagar", MessageSid="SM" + "d" * 32)) == 200
    twilio.wait_for(count=1)
    drain(client, gateway_wa)
    twilio.clear()
    assert post(client, twilio_form("text", Body="1", MessageSid="SM" + "e" * 32)) == 200
    body = twilio.wait_for(count=1)[0].params["Body"]
    assert body == expected(gateway_wa, "delete_done")
    assert "Limpar conversa" in body
    drain(client, gateway_wa)
    assert gateway_wa.count(Message, Person, Delivery) == 0


def test_the_phone_number_is_kept_only_encrypted(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    """The number never appears in clear in the database or the logs; replies still reach it."""
    caplog.set_level("DEBUG")
    start_conversation(client, gateway_wa, twilio)
    assert "841234567" not in database_dump(gateway_wa)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "841234567" not in logged
    assert "Joanesburgo" not in logged and "frica do Sul" not in logged


MUTATIONS = st.sampled_from(
    [
        "change value",
        "add key",
        "drop key",
        "change url",
        "change signature",
        "drop signature",
        "repeat key",
        "change path",
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mutation=MUTATIONS, key=st.sampled_from(sorted(twilio_form("text"))), value=st.text(max_size=40)
)
def test_no_mutated_signed_request_is_ever_accepted_or_crashes(
    client: TestClient, gateway_wa: App, mutation: str, key: str, value: str
) -> None:
    """Property: change anything in a signed request and it is refused, never with a 5xx."""
    params: dict[str, str | list[str]] = dict(twilio_form("text"))
    signature = sign(TEST_AUTH_TOKEN, WEBHOOK, params)
    url = WEBHOOK
    headers: dict[str, str] = {
        "content-type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    if mutation == "change value":
        if value == params[key]:
            return
        params[key] = value
    elif mutation == "add key":
        params["X" + key] = value
    elif mutation == "drop key":
        del params[key]
    elif mutation == "repeat key":
        params[key] = [str(params[key]), value + "!"]
    elif mutation == "change url":
        url = f"{WEBHOOK}?x={len(value)}"
    elif mutation == "change path":
        url = f"{PUBLIC_URL}/webhooks/whatsapp/status"
    elif mutation == "change signature":
        if value == signature:
            return
        headers["X-Twilio-Signature"] = value
    else:
        del headers["X-Twilio-Signature"]
    try:
        status = client.post(url, content=form_body(params), headers=headers).status_code
    except UnicodeEncodeError:
        return  # not sendable as an HTTP header at all
    assert status == 403
    assert gateway_wa.count(Message) == 0


def test_a_number_refers_to_the_options_even_when_a_note_without_options_followed(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """First answer (with options) + privacy note (without): "1" is still the first option."""
    first = start_conversation(client, gateway_wa, twilio)[0].params["Body"]
    offered = ContentStore(gateway_wa.settings.content_dir).render("warning_signs", "pt").buttons
    assert f"1. {offered[0].title}" in first
    assert post(client, twilio_form("text", Body="1", MessageSid="SM" + "f" * 32)) == 200
    answer = twilio.wait_for(count=1)[0].params["Body"]
    assert answer.startswith(expected(gateway_wa, offered[0].payload))


def test_a_number_never_picks_an_option_from_an_older_turn(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """After the delete menu and a reply without options, "1" is text, not 'yes, delete'."""
    gateway_wa.rasa.route = lambda said: (
        "goodbye" if said == "obrigada, adeus" else topic_route(said)
    )
    assert post(client, twilio_form("text")) == 200
    assert post(client, twilio_form("text", Body="apagar", MessageSid="SM" + "1" * 32)) == 200
    assert (
        post(client, twilio_form("text", Body="obrigada, adeus", MessageSid="SM" + "2" * 32)) == 200
    )
    assert post(client, twilio_form("text", Body="1", MessageSid="SM" + "3" * 32)) == 200
    drain(client, gateway_wa)
    assert gateway_wa.count(Person) == 1
    assert gateway_wa.rasa.received[-1]["message"] == "1"


def test_with_public_url_set_a_forged_forwarded_host_does_not_help(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """PUBLIC_URL wins over proxy headers: a request signed for another host is refused."""
    other = "https://attacker.example.net/webhooks/whatsapp"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example.net"}
    assert post(client, twilio_form("text"), signed_url=other, headers=headers) == 403
    assert gateway_wa.count(Message) == 0


def test_an_oversized_body_is_refused_unread(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A body over 64 kB is refused before its signature is even computed."""
    params = twilio_form("text", Body="a" * 70_000)
    assert post(client, params) == 403
    assert gateway_wa.count(Message) == 0


def test_refused_sends_and_errors_leave_no_number_or_words_in_the_logs(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    """Even when Twilio refuses and tracebacks are logged, no number or text reaches a log."""
    caplog.set_level("DEBUG")
    twilio.fail_next(times=2, status=400, code=21211, message="Invalid 'To' Phone Number")
    assert post(client, twilio_form("text")) == 200
    assert post(client, twilio_form("text", MessageSid="SM" + "9" * 32), signature="bad") == 403
    drain(client, gateway_wa)
    for secret in ("841234567", "Joanesburgo", "frica do Sul", TEST_AUTH_TOKEN):
        assert secret not in caplog.text


def test_the_console_explains_a_reply_outside_the_24_hour_window(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A caseworker's late reply is not sent, and the transcript says why in plain words."""
    from bot.accounts import Role

    start_conversation(client, gateway_wa, twilio)
    assert post(client, twilio_form("text", Body="pessoa", MessageSid="SM" + "7" * 32)) == 200
    drain(client, gateway_wa)
    twilio.clear()
    accounts = parts(gateway_wa).accounts
    client.portal.call(accounts.add, "ana", CONSOLE_PASSWORD, Role.CASEWORKER)
    assert console_sign_in(client, "ana") == 303
    conversation_id = age_conversation(gateway_wa, 25)
    base = f"/console/conversations/{conversation_id}"
    client.post(f"{base}/claim", data={"csrf_token": csrf_in(client.get("/console").text)})
    client.post(
        f"{base}/reply",
        data={"csrf_token": csrf_in(client.get(base).text), "text": "Olá, sou a Ana."},
    )
    page = client.get(base).text
    assert "more than 24 hours since the person" in page
    assert twilio.sent == []


def test_caseworkers_see_numbers_only_when_a_supervisor_allows_it(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """The WhatsApp number: hidden from caseworkers by default, shown once a supervisor says so."""
    from bot.accounts import Role

    start_conversation(client, gateway_wa, twilio)
    assert post(client, twilio_form("text", Body="pessoa", MessageSid="SM" + "8" * 32)) == 200
    accounts = parts(gateway_wa).accounts
    client.portal.call(accounts.add, "ana", CONSOLE_PASSWORD, Role.CASEWORKER)
    client.portal.call(accounts.add, "sara", CONSOLE_PASSWORD, Role.SUPERVISOR)
    conversation_id = rows(gateway_wa, "SELECT id FROM conversations")[0][0]
    base = f"/console/conversations/{conversation_id}"

    assert console_sign_in(client, "ana") == 303
    assert "+258841234567" not in client.get(base).text
    assert console_sign_in(client, "sara") == 303
    assert "+258841234567" in client.get(base).text
    token = csrf_in(client.get("/console").text)
    client.post("/console/settings", data={"csrf_token": token, "numbers_visible": "yes"})
    assert console_sign_in(client, "ana") == 303
    assert "+258841234567" in client.get(base).text
    assert rows(gateway_wa, "SELECT detail FROM audit_log WHERE action = 'setting'") == [
        ("caseworkers see numbers: yes",)
    ]


def test_the_job_offer_check_is_answered_with_numbers(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """Question 1 has numbered yes/no/don't know/stop; "1" answers yes and question 2 follows."""
    start_conversation(client, gateway_wa, twilio)
    form = twilio_form("button", ButtonPayload="job_offer_check", MessageSid="SM" + "c" * 32)
    assert post(client, form) == 200
    first = twilio.wait_for(count=1)[0].params["Body"]
    check = ContentStore(gateway_wa.settings.content_dir).current().checks["job_offer_check"]
    words = check.words["pt"]
    assert words.questions[check.questions[0].id] in first
    assert f"\n1. {words.answers['yes']}\n2. {words.answers['no']}" in first
    drain(client, gateway_wa)
    twilio.clear()
    assert post(client, twilio_form("text", Body="1", MessageSid="SM" + "d" * 32)) == 200
    second = twilio.wait_for(count=1)[0].params["Body"]
    assert words.questions[check.questions[1].id] in second


def test_help_contacts_fit_the_country_of_the_phone_number(
    client: TestClient, gateway_wa: App, twilio: FakeTwilio
) -> None:
    """A South African number (+27) gets South Africa's numbers without being asked where."""
    form = twilio_form("button", From="whatsapp:+27821234567", ButtonPayload="help_contacts")
    assert post(client, form) == 200
    body = twilio.wait_for(count=1)[0].params["Body"]
    assert "0800 222 777" in body and "800 5533 000" not in body
