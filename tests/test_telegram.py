"""The Telegram channel: verified webhook, PTB parsing, replies on a recording Bot API."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from bot.content.store import ContentStore
from bot.db.crypto import reveal
from bot.db.models import Message, Person
from bot.db.session import sync_url
from tests.channel_kit import (
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    database_dump,
    drain,
    parts,
    rows,
    running,
    stored_reply,
    telegram_update,
    topic_route,
)
from tests.factories import App, build_app
from tests.fakes.telegram_api import FakeTelegram, running_fake_telegram
from tests.faults.harness import wait_until

HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHAT = 5550001


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeTelegram]:
    with running_fake_telegram() as fake:
        yield fake


@pytest.fixture
def telegram(bot_api: FakeTelegram) -> FakeTelegram:
    """The recording Bot API, emptied for this test."""
    bot_api.clear()
    return bot_api


def telegram_app(sqlite_url: str, content: Path, fake: FakeTelegram, **extra: object) -> App:
    """The gateway with Telegram on, talking to the recording Bot API."""
    settings: dict[str, object] = {
        "telegram_bot_token": TELEGRAM_TOKEN,
        "telegram_webhook_secret": TELEGRAM_SECRET,
        "public_url": PUBLIC_URL,
        "telegram_api_url": fake.base_url,
        **extra,
    }
    app = build_app(sqlite_url, content, **settings)
    app.rasa.route = topic_route
    return app


@pytest.fixture
def gateway_tg(sqlite_url: str, content_copy: Path, telegram: FakeTelegram) -> App:
    return telegram_app(sqlite_url, content_copy, telegram)


@pytest.fixture
def client(gateway_tg: App, telegram: FakeTelegram) -> Iterator[TestClient]:
    """The running app, connected (webhook registered, profile applied)."""
    with running(gateway_tg) as client:
        telegram.wait_for("setMyCommands", count=4)
        yield client


def post(client: TestClient, update: dict[str, Any], secret: str | None = TELEGRAM_SECRET) -> int:
    """Deliver an update as Telegram does; the HTTP status."""
    headers = {HEADER: secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=update, headers=headers).status_code


def expected(app: App, topic: str, language: str = "pt") -> str:
    """The text of a topic's answer file as a Telegram user in Mozambique gets it."""
    return ContentStore(app.settings.content_dir).render(topic, language, "MZ", "telegram").text


def sent_texts(fake: FakeTelegram) -> list[str]:
    return [str(c.params["text"]) for c in fake.calls_to("sendMessage") if not c.failed]


def test_startup_registers_webhook_with_secret_and_keeps_pending_updates(
    client: TestClient, telegram: FakeTelegram
) -> None:
    """With PUBLIC_URL set, the webhook is registered with our secret and nothing is dropped."""
    (call,) = telegram.calls_to("setWebhook")
    assert call.params["url"] == f"{PUBLIC_URL}/webhooks/telegram"
    assert call.params["secret_token"] == TELEGRAM_SECRET
    assert not call.params.get("drop_pending_updates")
    assert set(call.params["allowed_updates"]) == {"message", "edited_message", "callback_query"}


def test_startup_sets_name_description_and_menu_per_language_once(
    sqlite_url: str, content_copy: Path
) -> None:
    """Name, descriptions and menu come from content/channels.yml; unchanged ones stay."""
    profiles = ContentStore(content_copy).current().channels.telegram
    with running_fake_telegram() as fresh:
        fresh.my_name = "A name set by hand in BotFather"
        app = telegram_app(sqlite_url, content_copy, fresh)
        with running(app):
            fresh.wait_for("setMyCommands", count=4)
        menus = {
            c.params.get("language_code"): c.params["commands"]
            for c in fresh.calls_to("setMyCommands")
        }
        assert set(menus) == {"en", "pt", "es", None}
        assert {c["command"]: c["description"] for c in menus["pt"]} == profiles["pt"].commands
        names = {
            c.params.get("language_code"): c.params["name"] for c in fresh.calls_to("setMyName")
        }
        assert names == {code: profiles[code].name for code in ("en", "pt", "es")} | {
            None: profiles["en"].name
        }
        descriptions = {
            c.params.get("language_code"): c.params["description"]
            for c in fresh.calls_to("setMyDescription")
        }
        assert descriptions["es"] == profiles["es"].description
        fresh.clear()
        with running(app):
            fresh.wait_for("setMyCommands", count=4)
        assert fresh.calls_to("setMyName") == fresh.calls_to("setMyDescription") == []


@pytest.mark.parametrize("secret", [None, "", "wrong-secret-0123456789", TELEGRAM_SECRET + "x"])
def test_update_without_the_right_secret_is_refused_and_nothing_stored(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, secret: str | None
) -> None:
    """A forged update gets 403: nothing stored, nothing sent."""
    assert post(client, telegram_update("text"), secret) == 403
    drain(client, gateway_tg)
    assert gateway_tg.count(Message, Person) == 0
    assert telegram.calls_to("sendMessage") == []


def test_text_is_answered_in_the_persons_language(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A Portuguese message gets the Portuguese answer file, on the person's chat."""
    assert post(client, telegram_update("text")) == 200
    calls = telegram.wait_for("sendMessage", count=2)
    assert {c.params["chat_id"] for c in calls} == {CHAT}
    assert sent_texts(telegram)[0] == expected(gateway_tg, "warning_signs")
    assert sent_texts(telegram)[1] == expected(gateway_tg, "privacy_notice")


def test_inbound_is_stored_before_the_webhook_answers(client: TestClient, gateway_tg: App) -> None:
    """When Telegram gets its 200, the person's message is already in the database."""
    assert post(client, telegram_update("text")) == 200
    stored = rows(gateway_tg, "SELECT text, dedup_key FROM messages WHERE direction = 'in'")
    assert [(reveal(text), key) for text, key in stored] == [
        (telegram_update("text")["message"]["text"], "telegram:815320001")
    ]


def test_an_update_delivered_three_times_is_answered_once(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """Telegram's retries are acknowledged and ignored: one stored message, one answer."""
    for _ in range(3):
        assert post(client, telegram_update("text")) == 200
    drain(client, gateway_tg)
    assert len(telegram.calls_to("sendMessage")) == 2
    assert rows(gateway_tg, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]
    assert len(gateway_tg.rasa.received) == 1


def test_button_press_is_answered_and_its_spinner_stopped(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A callback query is answered and its payload's topic is sent, with inline buttons."""
    assert post(client, telegram_update("text")) == 200
    update = telegram_update("callback_query")
    update["callback_query"]["data"] = "welcome"
    assert post(client, update) == 200
    (answered,) = telegram.wait_for("answerCallbackQuery")
    assert answered.params["callback_query_id"] == update["callback_query"]["id"]
    calls = telegram.wait_for("sendMessage", count=3)
    assert calls[-1].params["text"] == expected(gateway_tg, "welcome")
    keyboard = calls[-1].params["reply_markup"]["inline_keyboard"]
    answer = ContentStore(gateway_tg.settings.content_dir).render("welcome", "pt")
    assert [row[0]["callback_data"] for row in keyboard] == [b.payload for b in answer.buttons]
    assert [row[0]["text"] for row in keyboard] == [b.title for b in answer.buttons]


@pytest.mark.parametrize(
    ("command", "topic"),
    [
        ("/start", "welcome"),
        ("/help", "help_contacts"),
        ("/language", "language"),
        ("/delete", "delete_data"),
    ],
)
def test_commands_open_their_topics(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, command: str, topic: str
) -> None:
    """/start, /help, /language and /delete each open their own topic."""
    update = telegram_update("command_start")
    update["message"]["text"] = command
    update["message"]["entities"][0]["length"] = len(command)
    assert post(client, update) == 200
    telegram.wait_for("sendMessage")
    assert sent_texts(telegram)[0] == expected(gateway_tg, topic)


@pytest.mark.parametrize("kind", ["voice", "photo", "document", "sticker", "location", "contact"])
def test_media_gets_a_kind_only_text_reply_and_its_content_is_not_kept(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, kind: str
) -> None:
    """Voice, photo, document, sticker, location, contact: 'only text' reply; nothing of it kept."""
    assert post(client, telegram_update(kind)) == 200
    telegram.wait_for("sendMessage")
    assert sent_texts(telegram)[0] == expected(gateway_tg, "text_only")
    assert rows(gateway_tg, "SELECT text, media FROM messages WHERE direction = 'in'") == [
        (None, kind)
    ]
    dump = database_dump(gateway_tg)
    # Full coordinates: a stored time such as 11:29:25.965522 must not look like one.
    for secret in ("25.965531", "32.583237", "258840000002", "Maria", "AwACAgQ"):
        assert secret not in dump


def test_a_photo_caption_is_read_as_text(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A photo with a caption is answered from its caption."""
    assert post(client, telegram_update("photo_caption")) == 200
    telegram.wait_for("sendMessage")
    assert sent_texts(telegram)[0] == expected(gateway_tg, "warning_signs")


def test_an_edited_message_is_answered_as_what_the_person_now_says(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """Editing a message gets an answer to the new words (and passes the safety check)."""
    assert post(client, telegram_update("text")) == 200
    telegram.wait_for("sendMessage", count=2)
    assert post(client, telegram_update("edited")) == 200
    telegram.wait_for("sendMessage", count=3)
    edited = telegram_update("edited")["edited_message"]["text"]
    assert gateway_tg.rasa.received[-1]["message"] == edited


def test_danger_in_an_edit_escalates(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A cry for help typed into an edit reaches the safety check like any message."""
    update = telegram_update("edited")
    update["edited_message"]["text"] = "socorro, me prenderam e tiraram o meu passaporte"
    assert post(client, update) == 200
    telegram.wait_for("sendMessage")
    assert sent_texts(telegram)[0] == expected(gateway_tg, "emergency")
    assert rows(gateway_tg, "SELECT status, escalation FROM conversations") == [
        ("queued", "distress")
    ]


def test_group_chats_get_a_private_only_notice_and_nothing_is_stored(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """In a group the bot says it talks only in private, and keeps nothing said there."""
    update = telegram_update("group")
    assert post(client, update) == 200
    (call,) = telegram.wait_for("sendMessage")
    assert call.params["chat_id"] == update["message"]["chat"]["id"]
    assert call.params["text"] == expected(gateway_tg, "group_chat")
    assert gateway_tg.count(Message, Person) == 0


@pytest.mark.parametrize("name", ["channel_post", "my_chat_member"])
def test_updates_that_need_no_answer_are_acknowledged(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, name: str
) -> None:
    """Channel posts and membership changes get 200 and no message."""
    assert post(client, telegram_update(name)) == 200
    drain(client, gateway_tg)
    assert telegram.calls_to("sendMessage") == []
    assert gateway_tg.count(Message) == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"update_id": "x"}'])
def test_a_malformed_update_gets_400_and_nothing_stored(
    client: TestClient, gateway_tg: App, body: bytes
) -> None:
    """A correctly authenticated but malformed body is refused clearly."""
    response = client.post("/webhooks/telegram", content=body, headers={HEADER: TELEGRAM_SECRET})
    assert response.status_code == 400
    assert gateway_tg.count(Message) == 0


def test_long_replies_are_split_at_sentence_ends(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A reply over 4,096 characters arrives as several messages, each cut after a sentence."""
    assert post(client, telegram_update("text")) == 200
    telegram.wait_for("sendMessage", count=2)
    telegram.clear()
    long_text = " ".join(f"Sentence number {n} is here." for n in range(200))
    conversation_id = rows(gateway_tg, "SELECT id FROM conversations")[0][0]
    reply = stored_reply(gateway_tg, conversation_id, long_text)
    assert client.portal.call(parts(gateway_tg).delivery.deliver_stored, conversation_id, [reply])
    texts = sent_texts(telegram)
    assert len(texts) == 2
    assert all(len(t) <= 4096 and t.endswith(".") for t in texts)
    assert " ".join(texts) == long_text


def test_rate_limits_are_honoured_and_the_message_still_arrives(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A 429 with retry_after is waited out (PTB's rate limiter), then the reply is sent."""
    telegram.fail_next("sendMessage", times=1, retry_after=1)
    started = time.monotonic()
    assert post(client, telegram_update("text")) == 200
    drain(client, gateway_tg)
    calls = telegram.calls_to("sendMessage")
    assert [c.failed for c in calls] == [True, False, False]
    assert time.monotonic() - started >= 1.0
    assert sent_texts(telegram)[0] == expected(gateway_tg, "warning_signs")
    statuses = rows(gateway_tg, "SELECT status FROM deliveries ORDER BY id")
    assert statuses == [("sent",), ("sent",)]


def test_delete_erases_our_data_and_the_chat_messages_on_the_phone(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """/delete, then 'yes': data erased, the chat's messages deleted, how to clear the rest."""
    assert post(client, telegram_update("text")) == 200
    first = telegram.wait_for("sendMessage", count=2)
    assert post(client, telegram_update("command_delete")) == 200
    asked = telegram.wait_for("sendMessage", count=3)[-1]
    confirm = telegram_update("callback_query")
    confirm["callback_query"]["data"] = "delete:confirm"
    assert post(client, confirm) == 200
    (deleted,) = telegram.wait_for("deleteMessages")
    person_ids = {101, 103}  # the person's own messages (bots may delete them in private chats)
    bot_ids = {int(c.result["message_id"]) for c in [*first, asked]}
    assert set(deleted.params["message_ids"]) == person_ids | bot_ids
    final = telegram.wait_for("sendMessage", count=4)[-1]
    assert final.params["text"] == expected(gateway_tg, "delete_done")
    assert "Apagar conversa" in final.params["text"]
    drain(client, gateway_tg)
    assert gateway_tg.count(Message, Person) == 0


def test_no_chat_id_or_words_are_stored_in_clear_or_logged(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """The chat id is kept only encrypted; logs hold neither it nor the person's words."""
    caplog.set_level("DEBUG")
    assert post(client, telegram_update("text")) == 200
    telegram.wait_for("sendMessage", count=2)
    drain(client, gateway_tg)
    dump = database_dump(gateway_tg)
    assert str(CHAT) not in dump
    assert "Ana" not in dump
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(CHAT) not in logged
    assert "Joanesburgo" not in logged
    assert TELEGRAM_TOKEN.split(":")[1] not in logged


def test_without_public_url_updates_are_fetched_by_long_polling(
    sqlite_url: str, content_copy: Path, telegram: FakeTelegram
) -> None:
    """A laptop without a public address: PTB polls, and the same handling answers."""
    app = telegram_app(sqlite_url, content_copy, telegram, public_url="")
    telegram.queue_update(telegram_update("text"))
    with running(app):
        calls = telegram.wait_for("sendMessage", count=2, timeout=20)
    assert telegram.calls_to("setWebhook") == []
    assert calls[0].params["text"] == expected(app, "warning_signs")
    assert app.count(Message) == 3


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(secret=st.one_of(st.none(), st.text(max_size=80)))
def test_no_forged_secret_is_ever_accepted_or_crashes(
    client: TestClient, gateway_tg: App, secret: str | None
) -> None:
    """Property: any secret but ours gets 403, never 5xx, and stores nothing."""
    if secret == TELEGRAM_SECRET:
        return
    try:
        status = post(client, telegram_update("text"), secret)
    except UnicodeEncodeError:
        return  # not sendable as an HTTP header at all
    assert status == 403
    assert gateway_tg.count(Message) == 0


def test_profile_command_sets_the_picture_and_words(
    tmp_path: Path, telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch, content_copy: Path
) -> None:
    """`python -m bot telegram-profile --photo p.jpg` uploads the picture and applies the words."""
    from bot.__main__ import main

    picture = tmp_path / "neutral.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 a neutral picture \xff\xd9")
    for name, value in {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "CONTENT_DIR": str(content_copy),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["telegram-profile", "--photo", str(picture)]) == 0
    (upload,) = telegram.calls_to("setMyProfilePhoto")
    assert picture.read_bytes() in upload.files.values()
    assert len(telegram.calls_to("setMyCommands")) == 4


def test_an_update_stored_but_not_answered_is_answered_when_telegram_retries(
    sqlite_url: str, content_copy: Path, telegram: FakeTelegram
) -> None:
    """Content broken: 503 and the message kept. Fixed, Telegram's retry gets the answer, once."""
    answer_file = content_copy / "topics" / "warning_signs" / "pt.yml"
    good = answer_file.read_text()
    answer_file.write_text("text: [unclosed\n")
    app = telegram_app(sqlite_url, content_copy, telegram)
    with running(app) as client:
        telegram.wait_for("setWebhook")
        channel = parts(app).telegram
        assert channel is not None
        wait_until(lambda: channel.connected, timeout=10, pause=0.02)
        assert post(client, telegram_update("text")) == 503
        assert rows(app, "SELECT handled_at FROM messages WHERE direction = 'in'") == [(None,)]
        answer_file.write_text(good)
        store = parts(app).content
        # It looks every half second, then loads in a thread.
        wait_until(lambda: store.loaded, timeout=10, pause=0.05)
        assert post(client, telegram_update("text")) == 200
        assert post(client, telegram_update("text")) == 200
        drain(client, app)
    assert sent_texts(telegram) == [
        expected(app, "warning_signs"),
        expected(app, "privacy_notice"),
    ]
    assert rows(app, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]


def test_two_chats_with_the_same_message_ids_both_get_every_reply(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """Telegram numbers messages per chat; two people's replies never collide in our records."""
    first, second = (telegram_update("text", update_id=815329990 + n) for n in (1, 2))
    first["message"]["chat"]["id"] = first["message"]["from"]["id"] = 7770001
    second["message"]["chat"]["id"] = second["message"]["from"]["id"] = 7770002
    assert post(client, first) == 200
    assert post(client, second) == 200
    drain(client, gateway_tg)
    chats = [c.params["chat_id"] for c in telegram.calls_to("sendMessage")]
    assert chats.count(7770001) == chats.count(7770002) == 2
    recorded = rows(gateway_tg, "SELECT provider_message_id FROM deliveries ORDER BY id")
    assert len(recorded) == 4
    assert len({r[0] for r in recorded}) == 2  # the same ids, once per chat


@pytest.mark.parametrize("chat_type", ["private", "group"])
def test_live_location_and_group_edits_are_not_answered(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram, chat_type: str
) -> None:
    """A live location (a stream of edits) and edits in groups get no reply and store nothing."""
    update = telegram_update("edited")
    if chat_type == "private":
        del update["edited_message"]["text"]
        update["edited_message"]["location"] = {"latitude": -25.9, "longitude": 32.5}
    else:
        update["edited_message"]["chat"] = {"id": -4012345678, "type": "group", "title": "G"}
    assert post(client, update) == 200
    drain(client, gateway_tg)
    assert telegram.calls_to("sendMessage") == []
    assert gateway_tg.count(Message) == 0


def test_a_message_of_only_control_characters_is_kept_and_answered(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """Nothing readable left after cleaning: still stored (as 'other') and answered kindly."""
    update = telegram_update("text")
    update["message"]["text"] = "\u0000\u0007"
    assert post(client, update) == 200
    telegram.wait_for("sendMessage")
    assert sent_texts(telegram)[0] == expected(gateway_tg, "text_only")
    assert rows(gateway_tg, "SELECT media FROM messages WHERE direction = 'in'") == [("other",)]


def test_the_job_offer_check_uses_inline_buttons(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """The check's answers are inline buttons; pressing "yes" brings the next question."""
    assert post(client, telegram_update("text")) == 200
    telegram.wait_for("sendMessage", count=2)
    update = telegram_update("callback_query")
    update["callback_query"]["data"] = "job_offer_check"
    assert post(client, update) == 200
    first = telegram.wait_for("sendMessage", count=3)[-1]
    keyboard = first.params["reply_markup"]["inline_keyboard"]
    check = ContentStore(gateway_tg.settings.content_dir).current().checks["job_offer_check"]
    first_id = check.questions[0].id
    assert [row[0]["callback_data"] for row in keyboard] == [
        f"check:yes:{first_id}",
        f"check:no:{first_id}",
        f"check:unsure:{first_id}",
        "check:stop",
    ]
    press = telegram_update("callback_query", update_id=update["update_id"] + 1)
    press["callback_query"]["data"] = f"check:yes:{first_id}"
    press["callback_query"]["id"] = "press-2"
    assert post(client, press) == 200
    second = telegram.wait_for("sendMessage", count=4)[-1]
    assert check.words["pt"].questions[check.questions[1].id] in second.params["text"]


def test_a_person_flooding_the_bot_is_kept_but_not_answered_and_danger_still_escalates(
    sqlite_url: str, content_copy: Path, telegram: FakeTelegram
) -> None:
    """Over RATE_LIMIT_PER_PERSON a minute: every message stored, the extra ones unanswered.

    A cry for help is never throttled; another person is answered as usual.
    """
    app = telegram_app(sqlite_url, content_copy, telegram, rate_limit_per_person=3)
    with running(app) as client:
        telegram.wait_for("setMyCommands", count=4)
        for number in range(5):
            update = telegram_update("text", update_id=600_000 + number)
            update["message"]["text"] = f"que documentos preciso, pergunta {number}"
            assert post(client, update) == 200
        danger = telegram_update("text", update_id=600_010)
        danger["message"]["text"] = "me tiraram o passaporte e não me deixam sair"
        assert post(client, danger) == 200
        other = telegram_update("text", update_id=600_020)
        other["message"]["chat"]["id"] = other["message"]["from"]["id"] = 5550999
        assert post(client, other) == 200
        drain(client, app)
    assert len(app.rasa.received) == 3 + 1  # three of the flood, and the other person
    stored = rows(app, "SELECT count(*) FROM messages WHERE direction = 'in'")
    assert stored == [(7,)]  # nothing a person sent is lost
    topics = [t for (t,) in rows(app, "SELECT topic FROM messages WHERE direction = 'out'")]
    assert "emergency" in topics
    escalated = rows(app, "SELECT status, escalation FROM conversations ORDER BY created_at")
    assert escalated[0] == ("queued", "distress")
    assert 5550999 in {int(c.params["chat_id"]) for c in telegram.calls_to("sendMessage")}


def test_a_reply_telegram_refuses_is_recorded_failed_and_does_not_hold_up_the_next(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A 400 (say, "chat not found") is final: recorded as failed, and later replies still go."""
    telegram.fail_next(
        "sendMessage", times=1, status=400, description="Bad Request: chat not found"
    )
    assert post(client, telegram_update("text")) == 200
    drain(client, gateway_tg)
    statuses = rows(gateway_tg, "SELECT status, reason FROM deliveries ORDER BY id")
    assert statuses[0] == ("failed", "rejected_by_telegram")
    assert statuses[1:] == [("sent", None)]  # the privacy notice after it was not held back
    assert rows(gateway_tg, "SELECT count(*) FROM outbox") == [(0,)]


def test_a_worker_whose_lease_ran_out_does_not_send_what_another_took_over(
    client: TestClient, gateway_tg: App, telegram: FakeTelegram
) -> None:
    """A slow worker's lease expires and another takes the reply: only the other sends it."""
    outbox = parts(gateway_tg).delivery.outbox
    client.portal.call(outbox.stop)  # no background worker: this test plays two of them
    assert post(client, telegram_update("text")) == 200
    slow = client.portal.call(outbox.take)
    assert len(slow) == 1  # the oldest reply of the conversation (the rest wait behind it)
    engine = create_engine(sync_url(gateway_tg.settings.database_url))
    with engine.begin() as conn:  # the slow worker stalls past its lease
        past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        conn.execute(text("UPDATE outbox SET leased_until = :past"), {"past": past})
    other = client.portal.call(outbox.take)
    assert [item for item, _ in other] == [item for item, _ in slow]
    client.portal.call(outbox.send_item, *slow[0])
    assert telegram.calls_to("sendMessage") == []  # the slow one sends nothing
    client.portal.call(outbox.send_item, *other[0])
    assert len(telegram.calls_to("sendMessage")) == 1
