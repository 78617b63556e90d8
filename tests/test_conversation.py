"""The conversation router through the web API, with Rasa faked at its HTTP edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db.models import Message
from bot.settings import load_settings
from tests.factories import App, message, shown_texts

pytestmark = pytest.mark.anyio


def count_messages(app: App) -> int:
    """Rows in the messages table."""
    return app.count(Message)


async def test_first_message_is_answered_in_its_language_with_a_privacy_notice(
    gateway: App, user_id: str
) -> None:
    """A new person gets a real answer at once, in their language, plus a short notice."""
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", json=message(user_id, "o que sao sinais de trafico de pessoas?")
        )
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "bot" and body["escalation"] is None
    assert body["language"] == "pt"
    assert [r["topic"] for r in body["replies"]] == ["warning_signs", "privacy_notice"]
    assert body["replies"][0]["text"] in shown_texts(
        gateway.settings.content_dir, "warning_signs", "pt"
    )


async def test_distress_escalates_before_rasa_and_even_with_rasa_down(
    gateway: App, user_id: str
) -> None:
    """A cry for help reaches the queue and the emergency reply without the engine."""
    gateway.rasa.up = False
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", json=message(user_id, "they took my passport and locked us in")
        )
    body = response.json()
    assert body["status"] == "queued"
    assert body["escalation"] == "distress"
    assert body["replies"][0]["topic"] == "emergency"
    assert gateway.rasa.received == []


async def test_emergency_reply_shows_contacts_of_the_country_the_person_names(
    gateway: App, user_id: str
) -> None:
    """Someone in South Africa gets the South African hotline in the emergency reply."""
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages",
            json=message(user_id, "socorro estou em joanesburgo e nao me deixam sair"),
        )
    body = response.json()
    assert body["escalation"] == "distress"
    assert "0800 222 777" in body["replies"][0]["text"]


async def test_while_queued_messages_are_kept_for_the_caseworker_not_sent_to_rasa(
    gateway: App, user_id: str
) -> None:
    """After escalation, what the person writes is stored and Rasa never sees it."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "I want to talk to a person"))
        before = count_messages(gateway)
        response = await client.post(
            "/api/web/messages", json=message(user_id, "are you there? what are warning signs")
        )
        third = await client.post("/api/web/messages", json=message(user_id, "hello?"))
    body = response.json()
    assert body["status"] == "queued" and body["escalation"] == "request"
    assert [r["topic"] for r in body["replies"]] == ["waiting"]
    assert third.json()["replies"] == []  # acknowledged once, not on every message
    assert gateway.rasa.received == []
    assert count_messages(gateway) == before + 3  # two inbound + one waiting reply


async def test_a_request_that_turns_into_distress_is_upgraded(gateway: App, user_id: str) -> None:
    """A queued request for a person becomes a distress case when danger is reported."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "quero falar com uma pessoa"))
        response = await client.post(
            "/api/web/messages", json=message(user_id, "eles vao me matar, socorro")
        )
    body = response.json()
    assert body["escalation"] == "distress"
    assert body["replies"][0]["topic"] == "emergency"


async def test_model_distress_score_escalates_even_when_another_intent_wins(
    gateway: App, user_id: str
) -> None:
    """Recall first: a likely-distress message the phrases miss still escalates."""
    gateway.rasa.distress_score = 0.45
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", json=message(user_id, "the boss keeps everything and the door")
        )
    assert response.json()["escalation"] == "distress"


async def test_text_starting_with_a_slash_is_not_passed_to_rasa_as_an_intent(
    gateway: App, user_id: str
) -> None:
    """`/distress` typed by a person reaches Rasa as plain words, never as an intent."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "/restart the bot"))
        await client.post("/api/web/messages", json=message(user_id, "//request_human"))
    sent = [m["message"] for m in gateway.rasa.received]
    assert sent == ["restart the bot", "request_human"]


async def test_buttons_are_sent_to_rasa_as_their_intent(gateway: App, user_id: str) -> None:
    """A button payload that is a topic reaches Rasa as that intent (gateway-made)."""
    gateway.rasa.route = lambda text: text.lstrip("/")
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", json=message(user_id, payload="job_offer_check")
        )
    assert gateway.rasa.received[0]["message"] == "/job_offer_check"
    assert response.json()["replies"][0]["topic"] == "job_offer_check"


async def test_unknown_button_payload_gets_the_fallback(gateway: App, user_id: str) -> None:
    """A payload we never sent (forged or stale) is answered kindly, not passed on."""
    async with gateway.client() as client:
        response = await client.post("/api/web/messages", json=message(user_id, payload="/x{}"))
    assert response.json()["replies"][0]["topic"] == "fallback"
    assert gateway.rasa.received == []


async def test_engine_down_gives_the_unavailable_reply_and_keeps_the_message(
    gateway: App, user_id: str
) -> None:
    """If Rasa is down the person is told so, with help contacts; their message is kept."""
    gateway.rasa.up = False
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", json=message(user_id, "como preparar minha viagem para joburg")
        )
    body = response.json()
    assert body["replies"][0]["topic"] == "unavailable"
    assert body["status"] == "bot"
    assert count_messages(gateway) == 3  # the person's message, the reply, the notice


@pytest.mark.parametrize("topic", ["help_contacts", "delete_data", "welcome"])
async def test_buttons_and_commands_work_with_the_engine_down(
    gateway: App, user_id: str, topic: str
) -> None:
    """Help numbers, erasure and the menu need no understanding: they answer with Rasa down."""
    gateway.rasa.up = False
    async with gateway.client() as client:
        response = await client.post("/api/web/messages", json=message(user_id, payload=topic))
    assert response.json()["replies"][0]["topic"] == topic


async def test_language_is_sticky_for_short_messages(gateway: App, user_id: str) -> None:
    """ "ok", "sim" and "SOS"-like short words do not flip the conversation language."""
    async with gateway.client() as client:
        first = await client.post(
            "/api/web/messages",
            json=message(
                user_id, "ola, quero saber como viajar com seguranca para a africa do sul"
            ),
        )
        languages = [first.json()["language"]]
        for text in ("ok", "sim", "hmm", "no"):
            response = await client.post("/api/web/messages", json=message(user_id, text))
            languages.append(response.json()["language"])
    assert languages == ["pt"] * 5


async def test_a_full_sentence_in_another_language_switches(gateway: App, user_id: str) -> None:
    """Writing clearly in another language moves the conversation to it."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "hello, how are you doing"))
        response = await client.post(
            "/api/web/messages",
            json=message(user_id, "quiero saber cuales son las señales de la trata de personas"),
        )
    assert response.json()["language"] == "es"


async def test_explicit_language_switch_by_words_and_by_button(gateway: App, user_id: str) -> None:
    """ "em português" switches at once; so does the lang:es button."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "hi there"))
        by_words = await client.post("/api/web/messages", json=message(user_id, "em português"))
        by_button = await client.post("/api/web/messages", json=message(user_id, payload="lang:es"))
        after = await client.post("/api/web/messages", json=message(user_id, "ok"))
    assert by_words.json()["language"] == "pt"
    assert by_words.json()["replies"][0]["topic"] == "language_set"
    assert by_button.json()["language"] == "es"
    assert after.json()["language"] == "es"


async def test_delete_asks_then_erases_everything(gateway: App, user_id: str) -> None:
    """`delete` asks to confirm; confirming erases the person and every message."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "what are warning signs"))
        asked = await client.post("/api/web/messages", json=message(user_id, "delete"))
        payloads = [b["payload"] for b in asked.json()["replies"][0]["buttons"]]
        done = await client.post(
            "/api/web/messages", json=message(user_id, payload="delete:confirm")
        )
        history = await client.get("/api/web/messages", params={"user_id": user_id})
    assert asked.json()["replies"][0]["topic"] == "delete_data"
    assert "delete:confirm" in payloads
    assert done.json()["replies"][0]["topic"] == "delete_done"
    assert done.json()["status"] == "closed"
    assert count_messages(gateway) == 0
    assert history.json()["messages"] == []


async def test_get_returns_only_messages_after_the_given_id(gateway: App, user_id: str) -> None:
    """Polling with `after` returns what was sent later, in order, never the person's own."""
    async with gateway.client() as client:
        first = await client.post("/api/web/messages", json=message(user_id, "hello"))
        ids = [r["id"] for r in first.json()["replies"]]
        await client.post("/api/web/messages", json=message(user_id, "what is trafficking"))
        later = await client.get(
            "/api/web/messages", params={"user_id": user_id, "after": str(ids[-1])}
        )
    messages = later.json()["messages"]
    assert messages and all(m["id"] > ids[-1] for m in messages)
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    assert all(m["author"] == "bot" for m in messages)


async def test_the_same_user_id_keeps_one_stable_conversation(gateway: App, user_id: str) -> None:
    """The conversation id does not change between messages."""
    async with gateway.client() as client:
        a = await client.post("/api/web/messages", json=message(user_id, "hello"))
        b = await client.post("/api/web/messages", json=message(user_id, "documents"))
    assert a.json()["conversation_id"] == b.json()["conversation_id"]


async def test_no_message_text_reaches_the_logs(
    gateway: App, user_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What a person writes is never logged, even on escalation or engine failure."""
    secret = "my name is Amina Zulu and my number is 0821234567, they took my passport"
    gateway.rasa.up = False
    with caplog.at_level("DEBUG"):
        async with gateway.client() as client:
            await client.post("/api/web/messages", json=message(user_id, secret))
            await client.post("/api/web/messages", json=message(user_id, "Amina here again"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "escalated" in logged
    assert "Amina" not in logged and "0821234567" not in logged and user_id not in logged


def test_settings_fail_fast_without_secrets() -> None:
    """No secret has a default: a missing SECRET_KEY stops start-up with its name."""
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings({"RASA_TOKEN": "r" * 20})
    with pytest.raises(SettingsError, match="RASA_TOKEN"):
        load_settings({"SECRET_KEY": "s" * 40})
    with pytest.raises(SettingsError, match="too short"):
        load_settings({"SECRET_KEY": "short", "RASA_TOKEN": "r" * 20})


async def test_danger_reported_while_with_a_caseworker_upgrades_to_distress(
    gateway: App, user_id: str
) -> None:
    """A person already talking to a caseworker who reports danger gets the emergency reply."""
    from sqlalchemy import create_engine, update

    from bot.db.models import Conversation
    from bot.db.session import sync_url

    async with gateway.client() as client:
        first = await client.post("/api/web/messages", json=message(user_id, "talk to a person"))
        engine = create_engine(sync_url(gateway.settings.database_url))
        with engine.begin() as conn:  # a caseworker claims it (the console is issue 4)
            conn.execute(update(Conversation).values(status="human"))
        response = await client.post(
            "/api/web/messages", json=message(user_id, "my boss beats me and locked me in")
        )
    body = response.json()
    assert first.json()["escalation"] == "request"
    assert response.status_code == 200
    assert (body["status"], body["escalation"]) == ("human", "distress")
    assert body["replies"][0]["topic"] == "emergency"


async def test_half_an_emoji_or_a_nul_character_is_cleaned_not_lost(
    gateway: App, user_id: str
) -> None:
    """A lone surrogate (an emoji cut by a client) or NUL never turns a message into a 500."""
    raw = b'{"user_id": "' + user_id.encode() + b'", "text": "help me \\ud83d and \\u0000 now"}'
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", content=raw, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200
    assert response.json()["escalation"] == "distress"
    assert count_messages(gateway) >= 2


async def test_slashes_and_spaces_cannot_smuggle_an_intent_to_rasa(
    gateway: App, user_id: str
) -> None:
    """ "/ /restart" reaches Rasa as "restart", never as a command."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(user_id, "/ /restart"))
        await client.post("/api/web/messages", json=message(user_id, " / //request_human"))
    assert [m["message"] for m in gateway.rasa.received] == ["restart", "request_human"]


async def test_saying_you_do_not_speak_a_language_does_not_switch_to_it(
    gateway: App, user_id: str
) -> None:
    """ "no hablo inglés" keeps the conversation in Spanish."""
    async with gateway.client() as client:
        await client.post(
            "/api/web/messages", json=message(user_id, "hola, necesito informacion sobre visas")
        )
        response = await client.post("/api/web/messages", json=message(user_id, "no hablo inglés"))
    assert response.json()["language"] == "es"
    assert response.json()["replies"][0]["topic"] != "language_set"


async def test_erasure_also_clears_the_engines_copy(gateway: App, user_id: str) -> None:
    """Deleting asks Rasa to drop its in-memory tracker of the conversation too."""
    async with gateway.client() as client:
        first = await client.post("/api/web/messages", json=message(user_id, "hello"))
        await client.post("/api/web/messages", json=message(user_id, payload="delete:confirm"))
    assert gateway.rasa.forgotten == [first.json()["conversation_id"]]


async def test_without_any_valid_content_the_message_is_kept_and_503_returned(
    sqlite_url: str, content_copy: Path
) -> None:
    """A broken content tree at start-up never loses what a person sent."""
    from tests.factories import build_app

    (content_copy / "topics/welcome/en.yml").write_text("text: [broken\n")
    app = build_app(sqlite_url, content_copy)
    async with app.client() as client:
        response = await client.post("/api/web/messages", json=message("p-x", "help"))
    assert response.status_code == 503
    assert "saved" in response.json()["error"]
    assert app.count(Message) == 1
