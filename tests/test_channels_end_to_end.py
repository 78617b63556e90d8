"""End to end on Telegram and WhatsApp: the real Rasa engine and gateway processes, the
providers' servers replaced by local recording ones (Bot API, Twilio REST)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.channel_kit import (
    PUBLIC_URL,
    TELEGRAM_SECRET,
    form_body,
    sign,
    telegram_update,
    twilio_form,
)
from tests.factories import shown_texts
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.twilio_api import TEST_AUTH_TOKEN, FakeTwilio, Sent
from tools.stack import Stack

pytestmark = pytest.mark.e2e
CONVERSATIONS = yaml.safe_load((Path(__file__).parent / "data/conversations.yml").read_text())


def said(language: str, topic: str) -> str:
    """A first message of the end-to-end table that Rasa maps to this topic."""
    return next(line["text"] for line in CONVERSATIONS[language] if line["topic"] == topic)


def answers(stack: Stack, topic: str, language: str, channel: str) -> set[str]:
    """Every text a topic's answer file can show on a channel (default, countries, channel)."""
    return shown_texts(stack.log_dir / "content", topic, language, channel)


def wait_until(check: Any, timeout: float = 30.0) -> Any:
    """Poll until `check()` returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("nothing arrived in time")


# --- Telegram ---------------------------------------------------------------


def telegram_text(chat_id: int, text: str, language_code: str) -> dict[str, Any]:
    """A private-chat text update from a new person."""
    update = telegram_update("text", update_id=secrets.randbelow(2**31))
    update["message"]["text"] = text
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat_id
    update["message"]["from"]["language_code"] = language_code
    return update


def to_chat(fake: FakeTelegram, chat_id: int, count: int) -> list[Call]:
    """Wait for `count` messages sent to one chat."""

    def sent() -> list[Call]:
        calls = [
            c
            for c in fake.calls_to("sendMessage")
            if c.params["chat_id"] == chat_id and not c.failed
        ]
        return calls if len(calls) >= count else []

    return list(wait_until(sent))


def post_telegram(stack: Stack, update: dict[str, Any], secret: str = TELEGRAM_SECRET) -> int:
    response = httpx.post(
        f"{stack.base_url}/webhooks/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        timeout=30,
    )
    return response.status_code


@pytest.mark.parametrize(("language", "topic"), [("pt", "warning_signs"), ("es", "welcome")])
def test_telegram_message_is_understood_and_answered_in_its_language(
    stack: Stack, stack_telegram: FakeTelegram, language: str, topic: str
) -> None:
    """A Telegram message goes through Rasa and comes back from the right answer file."""
    chat = 10_000_000 + secrets.randbelow(10**6)
    assert post_telegram(stack, telegram_text(chat, said(language, topic), language)) == 200
    first = to_chat(stack_telegram, chat, 2)[0]
    assert first.params["text"] in answers(stack, topic, language, "telegram")


def test_telegram_buttons_work_through_the_engine(
    stack: Stack, stack_telegram: FakeTelegram
) -> None:
    """Pressing an inline button of a reply opens that button's topic, in the same language."""
    chat = 20_000_000 + secrets.randbelow(10**6)
    assert post_telegram(stack, telegram_text(chat, said("pt", "welcome"), "pt")) == 200
    menu = to_chat(stack_telegram, chat, 2)[0]
    button = menu.params["reply_markup"]["inline_keyboard"][1][0]
    press = telegram_update("callback_query", update_id=secrets.randbelow(2**31))
    press["callback_query"]["data"] = button["callback_data"]
    press["callback_query"]["message"]["chat"]["id"] = chat
    press["callback_query"]["from"]["id"] = chat
    assert post_telegram(stack, press) == 200
    answer = to_chat(stack_telegram, chat, 3)[-1]
    assert answer.params["text"] in answers(stack, button["callback_data"], "pt", "telegram")


def test_telegram_distress_escalates_with_the_emergency_reply(
    stack: Stack, stack_telegram: FakeTelegram
) -> None:
    """A cry for help on Telegram gets the emergency reply, in Spanish, at once."""
    chat = 30_000_000 + secrets.randbelow(10**6)
    assert post_telegram(stack, telegram_text(chat, said("es", "emergency"), "es")) == 200
    (reply,) = to_chat(stack_telegram, chat, 1)
    assert reply.params["text"] in answers(stack, "emergency", "es", "telegram")


def test_telegram_redelivery_and_forgery_through_the_real_gateway(
    stack: Stack, stack_telegram: FakeTelegram
) -> None:
    """Three deliveries of one update: one answer. A forged one: 403 and no answer."""
    chat = 40_000_000 + secrets.randbelow(10**6)
    update = telegram_text(chat, said("en", "rights"), "en")
    assert post_telegram(stack, update, secret="not-the-secret-0000") == 403
    for _ in range(3):
        assert post_telegram(stack, update) == 200
    to_chat(stack_telegram, chat, 2)
    time.sleep(1.0)
    assert len(to_chat(stack_telegram, chat, 1)) == 2


# --- WhatsApp ---------------------------------------------------------------


def post_whatsapp(stack: Stack, params: dict[str, str]) -> int:
    url = f"{PUBLIC_URL}/webhooks/whatsapp"
    response = httpx.post(
        f"{stack.base_url}/webhooks/whatsapp",
        content=form_body(params),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(TEST_AUTH_TOKEN, url, params),
        },
        timeout=30,
    )
    return response.status_code


def whatsapp_text(number: str, text: str) -> dict[str, str]:
    """A WhatsApp message from a number, with a fresh MessageSid."""
    return twilio_form(
        "text",
        From=f"whatsapp:{number}",
        WaId=number[1:],
        Body=text,
        MessageSid="SM" + secrets.token_hex(16),
    )


def to_number(fake: FakeTwilio, number: str, count: int) -> list[Sent]:
    """Wait for `count` messages sent to one number."""

    def sent() -> list[Sent]:
        found = [s for s in fake.accepted if s.params.get("To") == f"whatsapp:{number}"]
        return found if len(found) >= count else []

    return list(wait_until(sent))


def body_text(body: str) -> str:
    """A WhatsApp body without its numbered options."""
    return body.split("\n\n")[0] if "\n1. " in body else body


@pytest.mark.parametrize(
    ("language", "number"), [("es", "+5215512345678"), ("pt", "+258841230000")]
)
def test_whatsapp_numbered_options_work_through_the_engine(
    stack: Stack, stack_twilio: FakeTwilio, language: str, number: str
) -> None:
    """Welcome comes back with numbered options; "1" opens the first option's topic."""
    number = number[:-4] + f"{secrets.randbelow(10**4):04d}"
    assert post_whatsapp(stack, whatsapp_text(number, said(language, "welcome"))) == 200
    menu = to_number(stack_twilio, number, 2)[0].params["Body"]
    welcome = answers(stack, "welcome", language, "whatsapp")
    assert any(menu.startswith(text) for text in welcome)
    first_option = yaml.safe_load(
        (stack.log_dir / "content/topics/welcome" / f"{language}.yml").read_text()
    )["buttons"][0]["payload"]
    assert "\n1. " in menu
    assert post_whatsapp(stack, whatsapp_text(number, "1")) == 200
    answer = to_number(stack_twilio, number, 3)[-1].params["Body"]
    assert any(
        answer.startswith(text) for text in answers(stack, first_option, language, "whatsapp")
    )


def test_whatsapp_message_delivered_three_times_is_answered_once(
    stack: Stack, stack_twilio: FakeTwilio
) -> None:
    """Twilio's redeliveries reach the real gateway and get no second answer."""
    number = f"+2588412{secrets.randbelow(10**5):05d}"
    params = whatsapp_text(number, said("pt", "rights"))
    for _ in range(3):
        assert post_whatsapp(stack, params) == 200
    to_number(stack_twilio, number, 2)
    time.sleep(1.0)
    sent = to_number(stack_twilio, number, 1)
    assert len(sent) == 2
    assert body_text(sent[0].params["Body"]) in answers(stack, "rights", "pt", "whatsapp")
