"""The NLG endpoint Rasa calls for every reply: renders the topic from content/.

Rasa sends `{"response": "utter_<topic>", "tracker": {...}}`; we answer with
`{"custom": {"topic", "language", "text", "buttons"}}` so the gateway receives
the topic id with the words (see bot/engine.py).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.core import ConversationService
from bot.settings import Settings
from bot.topics import topic_for_response

log = logging.getLogger(__name__)


def _render_context(
    tracker: dict[str, Any], default_language: str, languages: frozenset[str]
) -> tuple[str, str | None, str | None]:
    """Language, country and channel the gateway attached to the newest user message."""
    metadata: dict[str, Any] = {}
    for event in reversed(tracker.get("events") or []):
        if isinstance(event, dict) and event.get("event") == "user":
            metadata = event.get("metadata") or {}
            break
    language = metadata.get("language")
    if language not in languages:
        language = default_language
    country = metadata.get("country")
    channel = metadata.get("channel")
    return (
        str(language),
        str(country) if isinstance(country, str) else None,
        str(channel) if isinstance(channel, str) else None,
    )


def _nlu_scores(tracker: dict[str, Any]) -> dict[str, float]:
    """How likely the newest message is distress or a request for a person, per the model."""
    latest = tracker.get("latest_message") or {}
    scores = {"distress": 0.0, "request_human": 0.0}
    for entry in latest.get("intent_ranking") or []:
        if isinstance(entry, dict) and entry.get("name") in scores:
            scores[str(entry["name"])] = float(entry.get("confidence") or 0.0)
    return scores


def make_nlg_endpoint(settings: Settings, service: ConversationService) -> Any:
    """Build the Starlette endpoint, bound to the shared engine token."""
    expected = settings.rasa_token.encode()

    async def nlg(request: Request) -> JSONResponse:
        """Render the response Rasa asks for."""
        supplied = request.query_params.get("token", "").encode()
        if not hmac.compare_digest(supplied, expected):
            return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("response"), str):
            return JSONResponse({"error": "`response` is required"}, status_code=400)
        snapshot = service.content.current()
        topic = topic_for_response(body["response"], snapshot.topics)
        if topic is None:
            log.error("rasa asked for an unknown response; answering with fallback")
            topic = "fallback"
        tracker = body.get("tracker") if isinstance(body.get("tracker"), dict) else {}
        language, country, channel = _render_context(
            tracker or {}, settings.default_language, frozenset(snapshot.languages)
        )
        reply = service.render(topic, language, country, channel)
        return JSONResponse(
            {
                "custom": {
                    "topic": reply.topic,
                    "language": reply.language,
                    "text": reply.text,
                    "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
                    "scores": _nlu_scores(tracker or {}),
                }
            }
        )

    return nlg
