"""The web channel: `POST/GET /api/web/messages` (also the local demo chat's API)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.core import ConversationService
from bot.messages import InboundError, InboundMessage, Outcome, Reply
from bot.ratelimit import person_key
from handlers.security import limiter_of, retry_after

CHANNEL = "web"
MAX_BODY_BYTES = 16_384
ALLOWED_FIELDS = {"user_id", "text", "payload"}
MAX_WEB_TEXT = 4096


def error(message: str, status: int = 422) -> JSONResponse:
    """A 4xx answer that says what is wrong."""
    return JSONResponse({"error": message}, status_code=status)


def reply_json(reply: Reply) -> dict[str, Any]:
    """One reply as the web API shows it."""
    return {
        "id": reply.id,
        "text": reply.text,
        "topic": reply.topic,
        "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
    }


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The contract's 200 answer for a posted message."""
    return {
        "conversation_id": outcome.conversation_id,
        "status": outcome.status,
        "escalation": outcome.escalation,
        "language": outcome.language,
        "replies": [reply_json(r) for r in outcome.replies],
    }


def parse_inbound(raw: bytes) -> InboundMessage | JSONResponse:
    """Validate a posted body into an InboundMessage, or the error to answer with."""
    if len(raw) > MAX_BODY_BYTES:
        return error(f"the body is larger than {MAX_BODY_BYTES} bytes", 413)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return error("the body is not valid JSON", 400)
    if not isinstance(body, dict):
        return error("the body must be a JSON object with user_id and text (or payload)", 400)
    unknown = sorted(set(body) - ALLOWED_FIELDS)
    if unknown:
        return error(f"unknown field(s): {', '.join(unknown)}; allowed: user_id, text, payload")
    user_id = body.get("user_id")
    if not isinstance(user_id, str):
        return error("user_id is required and must be a string")
    text, payload = body.get("text"), body.get("payload")
    if text is not None and not isinstance(text, str):
        return error("text must be a string")
    if payload is not None and not isinstance(payload, str):
        return error("payload must be a string")
    if text is not None and len(text) > MAX_WEB_TEXT:
        return error(f"text is longer than {MAX_WEB_TEXT} characters")
    try:
        return InboundMessage(channel=CHANNEL, channel_user_id=user_id, text=text, payload=payload)
    except InboundError as exc:
        return error(str(exc))


async def person_throttled(request: Request, inbound: InboundMessage) -> JSONResponse | None:
    """The 429 (nothing stored) for a person over RATE_LIMIT_PER_PERSON, else None."""
    limiter = limiter_of(request)
    if limiter is None:
        return None
    key = person_key(CHANNEL, inbound.channel_user_id)
    wait = await limiter.hit(key)
    if wait is None:
        return None
    seconds = retry_after(wait)
    return JSONResponse(
        {
            "error": f"too many messages: at most {limiter.limit(key)} a minute per person; "
            f"try again in {seconds} seconds"
        },
        status_code=429,
        headers={"Retry-After": seconds},
    )


def web_routes(service: ConversationService) -> list[Route]:
    """Routes of the web channel, bound to the core service."""

    async def post_message(request: Request) -> JSONResponse:
        """Take one message from a person and answer it."""
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type:
            return error("send the body as application/json", 415)
        inbound = parse_inbound(await request.body())
        if isinstance(inbound, JSONResponse):
            return inbound
        throttled = await person_throttled(request, inbound)
        if throttled is not None:
            return throttled
        outcome = await service.handle(inbound)
        return JSONResponse(outcome_json(outcome))

    async def get_messages(request: Request) -> JSONResponse:
        """Messages sent to a person after a given message id."""
        user_id = request.query_params.get("user_id", "")
        if not 0 < len(user_id) <= 128:
            return error("user_id is required (1-128 characters)")
        after_raw = request.query_params.get("after", "0")
        if not (after_raw.isascii() and after_raw.isdigit() and len(after_raw) <= 18):
            return error("after must be a message id (a whole number, 0 or more)")
        conversation, replies = await service.messages_after(CHANNEL, user_id, int(after_raw))
        return JSONResponse(
            {
                "conversation_id": conversation.id if conversation else None,
                "status": conversation.status if conversation else None,
                "messages": [
                    {
                        **reply_json(r),
                        "author": r.author,
                        "created_at": r.created_at.isoformat() if r.created_at else None,
                    }
                    for r in replies
                ],
            }
        )

    return [
        Route("/api/web/messages", post_message, methods=["POST"]),
        Route("/api/web/messages", get_messages, methods=["GET"]),
    ]
