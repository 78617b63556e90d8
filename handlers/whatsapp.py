"""The WhatsApp channel on Twilio: signed webhooks in, REST API out, delivery statuses kept.

Replies are sent with `Client.messages.create_async` (not only as TwiML), so a
caseworker can answer later. Buttons become numbered options (the core maps a
reply "2" back to the second option). A free-form message is not attempted more
than 24 hours after the person's last message; a configured template is used
instead, or the reason is recorded for the console.

After a person's erasure the confirmation is sent and Twilio is asked to delete every
message of the conversation (the person's MessageSids and our replies' sids, the
confirmation's too). Twilio refuses to delete a message it has not finished with (error
20009, for about a minute after it was sent or received): those are asked again later, in
the background, until DELETE_RETRY_SECONDS runs out. Only counts are logged, never a sid.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot import metrics
from bot.chunks import split_text
from bot.content.store import ContentStore
from bot.content.views import whatsapp_body
from bot.core import ConversationService
from bot.delivery import DeliveryService
from bot.messages import (
    MAX_PAYLOAD_LENGTH,
    MAX_TEXT_LENGTH,
    InboundError,
    InboundMessage,
    Reply,
    clean_text,
)
from bot.senders import OUTSIDE_WINDOW, TEMPLATE_SENT, SentPart
from bot.settings import Settings
from bot.spool import InboundSpool
from handlers.bodies import BodyTooLarge, read_capped
from handlers.whatsapp_signature import MAX_FORM_BYTES, verified_form

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
MAX_BODY_CHARS = 1600
REPLY_WINDOW = dt.timedelta(hours=24)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Waits before asking Twilio again to delete what it could not delete yet (error 20009).
DELETE_RETRY_SECONDS = (60.0, 120.0, 300.0, 600.0, 1200.0)
TWILIO_NOT_FINISHED = 20009
KNOWN_STATUSES = frozenset(
    {"accepted", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered"}
)


# Country calling codes whose people most likely write Portuguese or Spanish. WhatsApp
# gives no app language, so the number is the only hint for a first message without text.
CALLING_CODE_LANGUAGES: dict[str, str] = {
    "258": "pt",
    "244": "pt",
    "238": "pt",
    "245": "pt",
    "239": "pt",
    "351": "pt",
    "55": "pt",
    "52": "es",
    "502": "es",
    "503": "es",
    "504": "es",
    "505": "es",
    "506": "es",
    "507": "es",
    "57": "es",
    "58": "es",
    "51": "es",
    "593": "es",
    "591": "es",
    "56": "es",
    "54": "es",
    "595": "es",
    "598": "es",
    "53": "es",
    "34": "es",
}


# The country of a number, for help contacts that fit where the person is (the core uses
# it until the person names a country). +1 is read as the United States.
CALLING_CODE_COUNTRIES: dict[str, str] = {
    "258": "MZ",
    "27": "ZA",
    "52": "MX",
    "1": "US",
    "351": "PT",
    "502": "GT",
    "503": "SV",
    "504": "HN",
}


def by_calling_code(sender: str, table: dict[str, str]) -> str | None:
    """The table's value for a WhatsApp number's calling code (the longest code wins)."""
    digits = sender.removeprefix("whatsapp:").removeprefix("+")
    for length in (3, 2, 1):
        value = table.get(digits[:length])
        if value is not None:
            return value
    return None


def country_hint(sender: str) -> str | None:
    """The country of a WhatsApp number from its calling code."""
    return by_calling_code(sender, CALLING_CODE_COUNTRIES)


def language_hint(sender: str) -> str | None:
    """The language a WhatsApp number's country most likely writes."""
    return by_calling_code(sender, CALLING_CODE_LANGUAGES)


def media_kind(form: ImmutableMultiDict[str, str]) -> str | None:
    """What a WhatsApp message carries besides text (None for plain text)."""
    if form.get("Latitude") or form.get("MessageType") == "location":
        return "location"
    count = (form.get("NumMedia", "0") or "0").strip()
    if count.isascii() and count.isdigit() and int(count) > 0:
        content_type = form.get("MediaContentType0", "")
        for prefix, kind in (("audio/", "voice"), ("image/", "photo"), ("video/", "video")):
            if content_type.startswith(prefix):
                return kind
        if "vcard" in content_type:
            return "contact"
        return "document"
    if form.get("MessageType") not in (None, "", "text", "button", "interactive"):
        return "other"
    return None


def inbound_from_form(form: ImmutableMultiDict[str, str]) -> InboundMessage | None:
    """The neutral message for one incoming WhatsApp message, or None if it is not one."""
    sender = form.get("From", "")
    sid = form.get("MessageSid", "")
    if not sender.startswith("whatsapp:") or not sid:
        return None
    media = media_kind(form)
    body = form.get("Body", "")[:MAX_TEXT_LENGTH]
    payload = form.get("ButtonPayload") or None
    if payload is not None and len(payload) > MAX_PAYLOAD_LENGTH:
        payload = None  # not one of ours: read the button's words instead
    # Only invisible characters (controls the core would drop) is no text: "only text" reply.
    readable = clean_text(body).strip()
    text = body if readable and media not in ("location", "contact") else None
    return InboundMessage(
        channel=CHANNEL,
        channel_user_id=sender,
        text=None if payload else text,
        payload=payload,
        media=(media or "other") if text is None and payload is None else None,
        provider_id=f"{CHANNEL}:{sid}",
        provider_message_id=sid,
        language_hint=language_hint(sender),
        country_hint=country_hint(sender),
    )


class WhatsAppSender:
    """Sends replies through Twilio's Messages API, numbered options for buttons."""

    channel = CHANNEL
    reply_window: dt.timedelta | None = REPLY_WINDOW

    def __init__(self, settings: Settings, content: ContentStore) -> None:
        self._settings = settings
        self._content = content
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    async def open(self) -> None:
        """Create the pooled async HTTP client (needs a running event loop)."""
        self._http = AsyncTwilioHttpClient(timeout=15)
        self._client = Client(
            self._settings.twilio_account_sid,
            self._settings.twilio_auth_token,
            http_client=self._http,
        )
        self._client.api.base_url = self._settings.twilio_api_url

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.close()

    def body(self, reply: Reply) -> str:
        """The reply as WhatsApp shows it: options numbered under a short hint."""
        if not reply.buttons:
            return reply.text
        try:
            hint = self._content.current().channels.numbered_hint.get(reply.language, "")
        except Exception:
            hint = ""
        return whatsapp_body(reply.text, reply.buttons, hint)

    async def send(
        self, address: str, reply: Reply, outside_window: bool, skip: int = 0
    ) -> AsyncIterator[SentPart]:
        """Send one reply from part `skip` on; outside the 24-hour window only a template."""
        assert self._client is not None, "WhatsAppSender.open() was not called"
        callback = (
            f"{self._settings.public_url}{STATUS_PATH}" if self._settings.public_url else None
        )
        common: dict[str, str] = {"to": address, "from_": self._settings.twilio_whatsapp_from or ""}
        if callback:
            common["status_callback"] = callback
        if outside_window:
            if skip:
                return  # the template went already
            template = self._settings.twilio_template_content_sid
            if template is None:
                yield SentPart("not_sent", reason=OUTSIDE_WINDOW)
            else:
                part = await self._create(**common, content_sid=template)
                yield dataclasses.replace(part, reason=part.reason or TEMPLATE_SENT)
            return
        for text in split_text(self.body(reply), MAX_BODY_CHARS)[skip:]:
            part = await self._create(**common, body=text)
            yield part
            if part.status in ("failed", "retry"):
                return

    async def _create(self, **fields: str) -> SentPart:
        """One Messages API call, its refusal kept as a failed part with Twilio's code."""
        assert self._client is not None
        try:
            message = await self._client.messages.create_async(**fields)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                # Too many requests, or Twilio in trouble: nothing was sent, try again.
                return SentPart("retry", error_code=str(exc.code or exc.status), reason="busy")
            return SentPart("failed", error_code=str(exc.code or exc.status), reason="rejected")
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            return SentPart("retry", reason=type(exc).__name__[:64])
        return SentPart(str(message.status or "queued"), provider_message_id=message.sid)

    async def delete(self, sid: str) -> str:
        """Ask Twilio to delete one message: "deleted", "gone", "retry" or "refused"."""
        assert self._client is not None, "WhatsAppSender.open() was not called"
        try:
            await self._client.messages(sid).delete_async()
        except TwilioRestException as exc:
            if exc.status == 404:
                return "gone"
            if exc.code == TWILIO_NOT_FINISHED or exc.status == 429 or exc.status >= 500:
                return "retry"
            return "refused"
        except (OSError, aiohttp.ClientError, TimeoutError):
            return "retry"
        return "deleted"


class WhatsAppChannel:
    """The two Twilio webhooks and the sender."""

    def __init__(
        self,
        settings: Settings,
        service: ConversationService,
        delivery: DeliveryService,
        content: ContentStore,
        spool: InboundSpool | None = None,
    ) -> None:
        assert settings.twilio_auth_token is not None
        self._spool = spool
        self._settings = settings
        self._auth_token = settings.twilio_auth_token
        self._service = service
        self._delivery = delivery
        self.sender = WhatsAppSender(settings, content)
        delivery.register(self.sender)
        self.delete_retry_seconds: Sequence[float] = DELETE_RETRY_SECONDS
        self._deleting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the Twilio HTTP client."""
        await self.sender.open()

    async def stop(self) -> None:
        """Stop deletions waiting to be retried; close the Twilio HTTP client."""
        for task in list(self._deleting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.sender.close()

    def routes(self) -> list[Route]:
        """The message and status webhooks."""
        return [
            Route(WEBHOOK_PATH, self.incoming, methods=["POST"]),
            Route(STATUS_PATH, self.status, methods=["POST"]),
        ]

    async def _verified(self, request: Request) -> ImmutableMultiDict[str, str] | None:
        """The signed form, or None (and a count of the refusal); large bodies are not read."""
        try:
            body = await read_capped(request, MAX_FORM_BYTES)
        except BodyTooLarge:
            body = None
        form = (
            verified_form(request, body, self._auth_token, self._settings.public_url)
            if body is not None
            else None
        )
        if form is None:
            metrics.WEBHOOK_REJECTED.labels(CHANNEL).inc()
        return form

    async def incoming(self, request: Request) -> Response:
        """A person's message: verify, store, answer through the REST API."""
        form = await self._verified(request)
        if form is None:
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            inbound = inbound_from_form(form)
        except InboundError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if inbound is None:
            return JSONResponse({"error": "not a WhatsApp message"}, status_code=400)
        try:
            outcome = await self._service.handle(inbound)
        except SQLAlchemyError as exc:
            # Twilio does not deliver a failed webhook again: keep the message in Redis.
            if self._spool is not None and await self._spool.put(inbound):
                log.warning("WhatsApp message spooled, database down (%s)", type(exc).__name__)
                return Response(EMPTY_TWIML, media_type="text/xml")
            log.error("WhatsApp message not stored (%s)", type(exc).__name__)
            return JSONResponse({"error": "try again"}, status_code=503)
        if outcome.erased_messages:
            # Erased: confirm, then have Twilio delete the conversation's messages too.
            self._delivery.background(
                self._confirm_then_delete(
                    inbound.channel_user_id,
                    outcome.replies,
                    [sid for sid, _sent_at in outcome.erased_messages],
                )
            )
        elif outcome.unsaved:  # stored replies are queued in the outbox by the core
            self._delivery.dispatch(CHANNEL, inbound.channel_user_id, outcome.replies)
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def _confirm_then_delete(
        self, address: str, replies: Sequence[Reply], sids: Sequence[str]
    ) -> None:
        """Send the erasure's confirmation, then ask Twilio to delete every message."""
        to_delete = list(dict.fromkeys(sids))
        for reply in replies:
            try:
                async for part in self.sender.send(address, reply, False):
                    metrics.DELIVERIES.labels(CHANNEL, part.status).inc()
                    if part.provider_message_id:
                        to_delete.append(part.provider_message_id)
            except Exception as exc:  # the deletions go ahead all the same
                log.error("sending on %s failed: %s", CHANNEL, type(exc).__name__)
        left = await self._delete_round(to_delete)
        if left:
            task = asyncio.create_task(self._delete_later(left))
            self._deleting.add(task)
            task.add_done_callback(self._deleting.discard)

    async def _delete_round(self, sids: Sequence[str]) -> list[str]:
        """Ask Twilio to delete each message once; the sids to ask again later."""
        again: list[str] = []
        counts = {"deleted": 0, "gone": 0, "refused": 0}
        for sid in sids:
            result = await self.sender.delete(sid)
            if result == "retry":
                again.append(sid)
            else:
                counts[result] += 1
        log.info(
            "erasure at Twilio: %d messages deleted, %d already gone, %d refused, %d to retry",
            counts["deleted"],
            counts["gone"],
            counts["refused"],
            len(again),
            extra={"count": counts["deleted"]},
        )
        return again

    async def _delete_later(self, sids: list[str]) -> None:
        """Ask again after each wait until Twilio deleted everything or the waits run out."""
        for wait in self.delete_retry_seconds:
            await asyncio.sleep(wait)
            sids = await self._delete_round(sids)
            if not sids:
                return
        log.warning("erasure at Twilio: %d messages could not be deleted", len(sids))

    async def status(self, request: Request) -> Response:
        """A delivery status report: keep it on the delivery it is about."""
        form = await self._verified(request)
        if form is None:
            return JSONResponse({"error": "forbidden"}, status_code=403)
        sid = form.get("MessageSid", "")
        status = form.get("MessageStatus", "")
        if not sid:
            return JSONResponse({"error": "not a message status"}, status_code=400)
        if status not in KNOWN_STATUSES:
            return Response(status_code=204)  # e.g. scheduled, canceled: nothing to keep
        await self._delivery.update_status(CHANNEL, sid, status, form.get("ErrorCode") or None)
        return Response(status_code=204)
