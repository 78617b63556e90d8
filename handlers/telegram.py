"""The Telegram channel on python-telegram-bot: verified webhook (or polling), sending, deletion.

PTB's custom-webhook pattern: the Application is built with `updater(None)` and our
ASGI app owns HTTP. Unlike PTB's example, the update is handled before the webhook
answers 200, so an update is stored before Telegram stops retrying it. Without
`PUBLIC_URL` (a laptop), the same handling runs from PTB's long polling instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot import metrics
from bot.chunks import split_text
from bot.content.store import ContentStore
from bot.core import ConversationService
from bot.delivery import DeliveryService
from bot.messages import InboundError, Reply
from bot.senders import SentPart
from bot.settings import Settings
from handlers.bodies import BodyTooLarge, read_capped
from handlers.telegram_profile import apply_profile
from handlers.telegram_updates import ALLOWED_UPDATES, CHANNEL, Translated, translate

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
MAX_UPDATE_BYTES = 1_000_000
MAX_MESSAGE_CHARS = 4096
# The Bot API deletes messages only while they are younger than 48 hours.
DELETE_WINDOW = dt.timedelta(hours=48)
DELETE_BATCH = 100
SETUP_RETRY_SECONDS = 30.0


class TelegramSender:
    """Sends replies as Telegram messages: inline keyboards, split at 4,096 characters."""

    channel = CHANNEL
    reply_window: dt.timedelta | None = None

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self._application = application

    async def send(
        self, address: str, reply: Reply, outside_window: bool, skip: int = 0
    ) -> AsyncIterator[SentPart]:
        """Send one reply from part `skip` on; buttons go with its last part.

        Flood control and network trouble give a "retry" part (the outbox tries again
        after Telegram's retry_after); a refusal gives a failed part.
        """
        chat_id = int(address)
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.title, callback_data=b.payload)] for b in reply.buttons]
            )
            if reply.buttons
            else None
        )
        parts = split_text(reply.text, MAX_MESSAGE_CHARS)
        for index, text in enumerate(parts):
            if index < skip:
                continue
            last = index == len(parts) - 1
            try:
                sent = await self._application.bot.send_message(
                    chat_id=chat_id, text=text, reply_markup=markup if last else None
                )
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
                yield SentPart("retry", reason="rate_limited", retry_after=seconds)
                return
            except Forbidden:
                yield SentPart("failed", reason="blocked_by_person")
                return
            except (BadRequest, ChatMigrated, InvalidToken, Conflict):
                # Refusals (PTB makes BadRequest a NetworkError): trying again cannot help.
                yield SentPart("failed", reason="rejected_by_telegram")
                return
            except (TimedOut, NetworkError) as exc:
                yield SentPart("retry", reason=type(exc).__name__[:64])
                return
            except TelegramError:
                yield SentPart("failed", reason="rejected_by_telegram")
                return
            yield SentPart("sent", provider_message_id=str(sent.message_id))


class TelegramChannel:
    """Owns the PTB Application: start-up registration, webhook, polling and deletion."""

    def __init__(
        self,
        settings: Settings,
        service: ConversationService,
        delivery: DeliveryService,
        content: ContentStore,
    ) -> None:
        assert settings.telegram_bot_token is not None
        self._settings = settings
        self._service = service
        self._delivery = delivery
        self._content = content
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_url)
            .rate_limiter(AIORateLimiter(max_retries=0))
            # A send that times out is sent again (it may have arrived): wait long enough.
            .read_timeout(15)
            .write_timeout(15)
        )
        if not settings.telegram_polling:
            builder = builder.updater(None)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_polled_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application)
        delivery.register(self.sender)
        self._ready = asyncio.Event()
        self._initialized = False
        self._setup_task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether set-up with Telegram finished (the webhook answers 503 until then)."""
        return self._ready.is_set()

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Connect to Telegram (retrying in the background if it cannot be reached)."""
        self._setup_task = asyncio.create_task(self._setup_until_done())

    async def stop(self) -> None:
        """Stop polling and close connections; a registered webhook stays (updates queue up)."""
        if self._setup_task is not None:
            self._setup_task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._setup_task
        if self._initialized:
            updater = self.application.updater
            if updater is not None and updater.running:
                await updater.stop()
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
            self._initialized = False
            self._ready.clear()

    async def _setup_until_done(self) -> None:
        """Initialize, register the webhook (or start polling) and the bot's profile."""
        while True:
            try:
                await self._setup()
                return
            except InvalidToken:
                log.error(
                    "Telegram refused TELEGRAM_BOT_TOKEN; fix it and restart (web still works)"
                )
                return
            except (TelegramError, OSError) as exc:
                log.warning(
                    "Telegram set-up failed (%s); retrying in %.0f s",
                    type(exc).__name__,
                    SETUP_RETRY_SECONDS,
                )
                await asyncio.sleep(SETUP_RETRY_SECONDS)

    async def _setup(self) -> None:
        """One attempt at connecting to Telegram."""
        if not self._initialized:
            await self.application.initialize()
            self._initialized = True
        bot = self.application.bot
        if self._settings.telegram_polling:
            updater = self.application.updater
            assert updater is not None
            await updater.start_polling(
                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False
            )
            await self.application.start()
            log.info("Telegram: long polling (no PUBLIC_URL)")
        else:
            await bot.set_webhook(
                url=f"{self._settings.public_url}{WEBHOOK_PATH}",
                secret_token=self._settings.telegram_webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("Telegram: webhook registered")
        self._ready.set()
        await self._apply_profile()

    async def _apply_profile(self) -> None:
        """Set the bot's name, descriptions and command menu from content/channels.yml."""
        try:
            profiles = self._content.current().channels.telegram
        except Exception:  # content not loaded: keep what Telegram has
            log.warning("Telegram profile not applied: content is not loaded")
            return
        await apply_profile(self.application.bot, profiles, self._settings.default_language)

    # --- inbound ------------------------------------------------------------

    def routes(self) -> list[Route]:
        """The webhook route."""
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        """Verify the secret token, then parse, store and answer one update."""
        expected = self._settings.telegram_webhook_secret
        if self._settings.telegram_polling or expected is None:
            return JSONResponse({"error": "the Telegram webhook is off (polling)"}, 404)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            metrics.WEBHOOK_REJECTED.labels(CHANNEL).inc()
            return JSONResponse({"error": "forbidden"}, status_code=403)
        if not self._ready.is_set():
            return JSONResponse({"error": "not connected to Telegram yet"}, status_code=503)
        try:
            body = await read_capped(request, MAX_UPDATE_BYTES)
        except BodyTooLarge:
            return JSONResponse({"error": "update too large"}, status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, self.application.bot)
        except Exception:
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        try:
            await self.process(update)
        except SQLAlchemyError as exc:
            log.error("Telegram update not stored (%s); Telegram will retry", type(exc).__name__)
            return JSONResponse({"error": "try again"}, status_code=503)
        return Response(status_code=200)

    async def _on_polled_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Polling delivers updates here; the same handling as the webhook."""
        await self.process(update)

    async def _on_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failure by kind only (never the update, which holds the person's words)."""
        log.error("Telegram update failed: %s", type(context.error).__name__)

    async def process(self, update: Update) -> None:
        """Translate and hand to the core (which queues the replies); notices go directly."""
        username = self.application.bot.username if self._initialized else None
        try:
            translated = translate(update, username)
        except InboundError:
            translated = None
        except (AttributeError, TypeError, ValueError) as exc:
            # PTB builds objects without checking field types: a signed update with (say)
            # a caption that is not a string is malformed, and nothing Telegram sends.
            log.warning("malformed Telegram update ignored: %s", type(exc).__name__)
            translated = None
        if translated is None:
            return
        if translated.callback_query_id is not None:
            self._background(self._answer_callback(translated.callback_query_id))
        if translated.inbound is None:
            return
        outcome = await self._service.handle(translated.inbound)
        if outcome.duplicate:
            return
        if not outcome.unsaved:
            return  # the core queued the replies in the outbox; its worker sends them
        if outcome.erased_messages:
            self._background(
                self._erase_then_confirm(translated, outcome.erased_messages, outcome.replies)
            )
        else:
            self._delivery.dispatch(CHANNEL, str(translated.chat_id), outcome.replies)

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work after the webhook answered, tracked so shutdown waits for it."""
        self._delivery.background(coroutine)

    async def _answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner on the person's phone."""
        try:
            await self.application.bot.answer_callback_query(query_id)
        except TelegramError as exc:
            log.info("callback query not answered: %s", type(exc).__name__)

    async def _erase_then_confirm(
        self,
        translated: Translated,
        erased: tuple[tuple[str, dt.datetime], ...],
        replies: list[Reply],
    ) -> None:
        """Delete the chat's recent messages on the phone too, then confirm the erasure."""
        cutoff = dt.datetime.now(dt.UTC) - DELETE_WINDOW
        ids = sorted({int(pid) for pid, sent_at in erased if sent_at > cutoff and pid.isdigit()})
        for start in range(0, len(ids), DELETE_BATCH):
            try:
                await self.application.bot.delete_messages(
                    translated.chat_id, ids[start : start + DELETE_BATCH]
                )
            except TelegramError as exc:
                log.warning("Telegram messages not deleted: %s", type(exc).__name__)
        await self._delivery.deliver(CHANNEL, str(translated.chat_id), replies)
