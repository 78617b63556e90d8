"""The HTTP test doubles behave like Telegram and Twilio for the real client libraries."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, RetryAfter
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from tests.fakes.server import ServerThread
from tests.fakes.telegram_api import BOT_USER, FakeTelegram, running_fake_telegram
from tests.fakes.twilio_api import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    FakeTwilio,
    running_fake_twilio,
)

DATA = Path(__file__).parent / "data"
TELEGRAM_FILES = sorted((DATA / "telegram").glob("*.json"))
TWILIO_FILES = sorted((DATA / "twilio").glob("*.json"))
USER = "whatsapp:+258840000001"
SANDBOX = "whatsapp:+14155238886"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def telegram_server() -> Iterator[FakeTelegram]:
    with running_fake_telegram() as fake:
        yield fake


@pytest.fixture
def telegram(telegram_server: FakeTelegram) -> FakeTelegram:
    """The shared fake Bot API, emptied for this test."""
    telegram_server.clear()
    return telegram_server


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot("123:ABC", base_url=telegram.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_server: FakeTwilio) -> FakeTwilio:
    """The shared fake Twilio API, emptied for this test."""
    twilio_server.clear()
    return twilio_server


def twilio_client(fake: FakeTwilio, token: str = TEST_AUTH_TOKEN) -> Client:
    client = Client(TEST_ACCOUNT_SID, token)
    client.api.base_url = fake.url
    return client


# --- ServerThread --------------------------------------------------------------


def test_server_thread_serves_on_localhost_and_stops() -> None:
    """The helper serves an app on 127.0.0.1 and releases the port when stopped."""

    async def hello(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    server = ServerThread(Starlette(routes=[Route("/", hello)]))
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url).text == "hello"
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=1)


# --- FakeTelegram --------------------------------------------------------------


@pytest.mark.anyio
async def test_telegram_initialize_gets_the_test_bot_user(telegram: FakeTelegram, bot: Bot) -> None:
    """PTB's initialize calls getMe and learns the fake bot's identity."""
    assert bot.username == BOT_USER["username"]
    assert bot.id == BOT_USER["id"]
    [call] = telegram.calls_to("getMe")
    assert call.token == "123:ABC"


@pytest.mark.anyio
async def test_telegram_records_decoded_parameters(telegram: FakeTelegram, bot: Bot) -> None:
    """Form-encoded parameters are recorded as Python values (ints, dicts, lists, strings)."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Sinais", callback_data="warning")]])
    sent = await bot.send_message(chat_id=42, text="42", reply_markup=keyboard)
    assert await bot.delete_messages(42, [1, 2]) is True

    [send] = telegram.calls_to("sendMessage")
    assert send.params == {
        "chat_id": 42,
        "text": "42",
        "reply_markup": {"inline_keyboard": [[{"text": "Sinais", "callback_data": "warning"}]]},
    }
    [delete] = telegram.calls_to("deleteMessages")
    assert delete.params == {"chat_id": 42, "message_ids": [1, 2]}
    assert sent.chat_id == 42
    assert sent.text == "42"
    assert sent.reply_markup == keyboard


@pytest.mark.anyio
async def test_telegram_message_ids_count_up_from_1000() -> None:
    """A new fake numbers the messages it is sent 1000, 1001, ..."""
    with FakeTelegram() as fresh:
        async with Bot("123:ABC", base_url=fresh.base_url) as fresh_bot:
            first = await fresh_bot.send_message(chat_id=5550001, text="um")
            second = await fresh_bot.send_message(chat_id=5550001, text="dois")
    assert (first.message_id, second.message_id) == (1000, 1001)


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_telegram_injected_429_raises_retry_after(telegram: FakeTelegram, bot: Bot) -> None:
    """A 429 answer with parameters.retry_after makes PTB raise RetryAfter; the attempt is kept."""
    telegram.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(chat_id=42, text="olá")
    # an int today (deprecated), a timedelta with PTB_TIMEDELTA=1 or PTB 23
    assert raised.value.retry_after in (3, timedelta(seconds=3))
    await bot.send_message(chat_id=42, text="olá")
    assert [call.failed for call in telegram.calls_to("sendMessage")] == [True, False]


@pytest.mark.anyio
async def test_telegram_injected_400_raises_bad_request(telegram: FakeTelegram, bot: Bot) -> None:
    """A non-429 failure answers that status and description; PTB raises BadRequest."""
    telegram.fail_next(
        "deleteMessage", 1, status=400, description="Bad Request: message to delete not found"
    )
    with pytest.raises(BadRequest, match="not found"):
        await bot.delete_message(chat_id=42, message_id=7)
    assert await bot.delete_message(chat_id=42, message_id=7) is True


@pytest.mark.anyio
async def test_telegram_queued_update_is_delivered_once(telegram: FakeTelegram, bot: Bot) -> None:
    """getUpdates hands out queued updates once, then answers an empty list quickly."""
    telegram.queue_update(load(DATA / "telegram" / "text.json"))
    [update] = await bot.get_updates(timeout=5)
    assert update.message is not None
    assert update.message.text is not None
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "pt"

    started = time.monotonic()
    assert await bot.get_updates(timeout=5) == ()
    assert time.monotonic() - started < 2


@pytest.mark.anyio
async def test_telegram_polling_application_answers_a_queued_update(
    telegram: FakeTelegram,
) -> None:
    """A polling PTB Application receives a queued update and its reply is recorded."""

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"eco: {update.message.text}")

    app = Application.builder().token("123:ABC").base_url(telegram.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        telegram.queue_update(load(DATA / "telegram" / "text.json"))
        [reply] = await telegram.wait_for_async("sendMessage", timeout=5)
        await app.updater.stop()
        await app.stop()
    assert reply.params["chat_id"] == 5550001
    assert reply.params["text"].startswith("eco: Olá")
    assert "deleteWebhook" in [call.method for call in telegram.calls]


@pytest.mark.anyio
async def test_telegram_webhook_is_stored(telegram: FakeTelegram, bot: Bot) -> None:
    """setWebhook, getWebhookInfo and deleteWebhook share the stored URL."""
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.set_webhook("https://bot.example.org/telegram", secret_token="s3cret")
    assert telegram.webhook_url == "https://bot.example.org/telegram"
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/telegram"
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


@pytest.mark.anyio
async def test_telegram_profile_texts_are_stored_per_language(bot: Bot) -> None:
    """What set* stores per language_code, get* returns; other languages keep defaults."""
    await bot.set_my_name("Rota Segura PT", language_code="pt")
    await bot.set_my_description("Informação para migrar com segurança.", language_code="pt")
    await bot.set_my_short_description("Migrar com segurança", language_code="pt")
    assert (await bot.get_my_name(language_code="pt")).name == "Rota Segura PT"
    assert (await bot.get_my_name()).name == "Rota Segura"
    assert (
        await bot.get_my_description(language_code="pt")
    ).description == "Informação para migrar com segurança."
    assert (await bot.get_my_short_description(language_code="pt")).short_description == (
        "Migrar com segurança"
    )
    assert (await bot.get_my_description(language_code="en")).description == ""


@pytest.mark.anyio
async def test_telegram_other_methods_answer_true(telegram: FakeTelegram, bot: Bot) -> None:
    """Methods without a dedicated answer succeed, and are recorded."""
    assert await bot.answer_callback_query("2386109562839254117")
    assert await bot.send_chat_action(chat_id=42, action="typing")
    assert await bot.leave_chat(chat_id=-4012345678)
    assert [call.method for call in telegram.calls] == [
        "getMe",
        "answerCallbackQuery",
        "sendChatAction",
        "leaveChat",
    ]


@pytest.mark.anyio
async def test_telegram_uploads_arrive_as_multipart_files(telegram: FakeTelegram, bot: Bot) -> None:
    """A file upload is recorded under Call.files, other fields still decoded."""
    await bot.send_photo(chat_id=42, photo=io.BytesIO(b"\x89PNG\r\n\x1a\n"), caption="42")
    [call] = telegram.calls_to("sendPhoto")
    assert call.params == {"chat_id": 42, "caption": "42"}
    assert call.files == {"photo": b"\x89PNG\r\n\x1a\n"}


@pytest.mark.anyio
async def test_telegram_wait_for_async_sees_calls(telegram: FakeTelegram, bot: Bot) -> None:
    """wait_for_async returns once enough calls of the method were recorded."""
    await bot.send_message(chat_id=42, text="olá")
    [call] = await telegram.wait_for_async("sendMessage", timeout=1)
    assert call.params["text"] == "olá"


def test_telegram_wait_for_times_out_naming_the_recorded_calls(telegram: FakeTelegram) -> None:
    """A timed-out wait_for fails listing the methods that were called."""
    httpx.post(f"{telegram.base_url}123:ABC/getMe")
    with pytest.raises(AssertionError, match=r"sendMessage.*\[getMe\]"):
        telegram.wait_for("sendMessage", timeout=0.05)
    assert [call.method for call in telegram.wait_for("getMe")] == ["getMe"]


def test_telegram_also_accepts_json_bodies(telegram: FakeTelegram) -> None:
    """A JSON request body (as other clients send) is recorded as is."""
    response = httpx.post(
        f"{telegram.base_url}999:XYZ/sendMessage", json={"chat_id": 7, "text": "olá"}
    )
    assert response.json()["result"]["chat"] == {"id": 7, "type": "private"}
    [call] = telegram.calls_to("sendMessage")
    assert call.params == {"chat_id": 7, "text": "olá"}
    assert call.token == "999:XYZ"


@pytest.mark.parametrize("path", TELEGRAM_FILES, ids=[p.stem for p in TELEGRAM_FILES])
def test_recorded_telegram_updates_parse(path: Path) -> None:
    """Every recorded Update parses with PTB and carries the content its name says."""
    update = Update.de_json(load(path), Bot("123:ABC"))
    assert update.update_id > 0
    assert update.effective_chat is not None
    assert update.effective_user is not None or update.channel_post is not None


def test_recorded_telegram_updates_have_distinct_ids() -> None:
    """No two recorded updates share an update_id."""
    ids = [load(path)["update_id"] for path in TELEGRAM_FILES]
    assert len(TELEGRAM_FILES) == 15
    assert len(set(ids)) == len(ids)


# --- FakeTwilio ----------------------------------------------------------------


def test_twilio_sync_client_sends_and_is_recorded(twilio: FakeTwilio) -> None:
    """The real twilio Client posts form data with basic auth; the fake answers a resource."""
    message = twilio_client(twilio).messages.create(
        to=USER, from_=SANDBOX, body="olá", status_callback="https://bot.example.org/status"
    )
    assert message.sid is not None
    assert message.sid.startswith("SM")
    assert len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == USER
    assert message.date_created is not None
    [sent] = twilio.wait_for(1)
    assert sent.auth_ok
    assert sent.sid == message.sid
    assert sent.account_sid == TEST_ACCOUNT_SID
    assert sent.params == {
        "To": USER,
        "From": SANDBOX,
        "Body": "olá",
        "StatusCallback": "https://bot.example.org/status",
    }


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:.*(BasicAuth|'auth' parameter).*:DeprecationWarning")
async def test_twilio_async_client_sends_templates(twilio: FakeTwilio) -> None:
    """create_async through AsyncTwilioHttpClient reaches the fake too."""
    http_client = AsyncTwilioHttpClient()
    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, http_client=http_client)
    client.api.base_url = twilio.url
    try:
        message = await client.messages.create_async(
            to=USER, from_=SANDBOX, content_sid="HX" + "1" * 32, content_variables='{"1": "Ana"}'
        )
    finally:
        await http_client.close()
    [sent] = await twilio.wait_for_async(1)
    assert sent.sid == message.sid
    assert sent.params["ContentVariables"] == '{"1": "Ana"}'


def test_twilio_wrong_credentials_answer_401(twilio: FakeTwilio) -> None:
    """A wrong auth token is refused with Twilio's 20003 error, and recorded as such."""
    with pytest.raises(TwilioRestException) as raised:
        twilio_client(twilio, token="wrong").messages.create(to=USER, from_=SANDBOX, body="x")
    assert raised.value.status == 401
    assert raised.value.code == 20003
    [sent] = twilio.sent
    assert not sent.auth_ok
    assert twilio.accepted == []


@pytest.mark.parametrize(
    ("status", "code"), [(400, 63016), (429, 20429)], ids=["outside-window", "rate-limited"]
)
def test_twilio_injected_failures_raise_with_the_code(
    twilio: FakeTwilio, status: int, code: int
) -> None:
    """fail_next answers Twilio's error JSON; the library raises TwilioRestException."""
    twilio.fail_next(status=status, code=code, message="injected")
    client = twilio_client(twilio)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=USER, from_=SANDBOX, body="x")
    assert (raised.value.status, raised.value.code) == (status, code)
    client.messages.create(to=USER, from_=SANDBOX, body="x")
    assert [sent.status for sent in twilio.sent] == [status, 201]
    assert len(twilio.accepted) == 1


def test_twilio_default_failure_is_outside_the_window(twilio: FakeTwilio) -> None:
    """The default injected failure is 63016, the closed 24-hour session window."""
    twilio.fail_next()
    with pytest.raises(TwilioRestException) as raised:
        twilio_client(twilio).messages.create(to=USER, from_=SANDBOX, body="x")
    assert (raised.value.status, raised.value.code) == (400, 63016)
    assert "outside the allowed window" in raised.value.msg


def test_twilio_wait_for_times_out(twilio: FakeTwilio) -> None:
    """wait_for fails when fewer messages arrive than expected."""
    with pytest.raises(AssertionError, match="expected 1 message"):
        twilio.wait_for(1, timeout=0.05)


@pytest.mark.parametrize("path", TWILIO_FILES, ids=[p.stem for p in TWILIO_FILES])
def test_recorded_twilio_webhooks_are_flat_string_forms(path: Path) -> None:
    """Each recorded webhook is what Twilio form-posts: string fields for our test account."""
    data = load(path)
    assert all(isinstance(value, str) for value in data.values())
    assert data["AccountSid"] == TEST_ACCOUNT_SID
    assert data["MessageSid"][:2] in {"SM", "MM"}
    assert len(data["MessageSid"]) == 34
    assert data["From"].startswith("whatsapp:+")
    assert data["To"].startswith("whatsapp:+")
