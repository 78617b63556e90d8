"""HTTP client for the Rasa engine: the token-protected REST channel and health checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/rota/webhook"


class EngineUnavailable(RuntimeError):
    """Rasa did not answer, or answered with something unusable."""


@dataclass(frozen=True)
class EngineReply:
    """One reply Rasa produced: the topic the gateway rendered for it."""

    topic: str
    language: str
    text: str
    buttons: list[dict[str, str]]
    distress_score: float = 0.0
    request_score: float = 0.0


class RasaEngine:
    """Talks to the Rasa server over HTTP with the shared bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=2.0),
            transport=transport,
        )
        self._token = token

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any]
    ) -> list[EngineReply]:
        """Send one user message; return the replies (rendered by our NLG endpoint)."""
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        try:
            response = await self._client.post(WEBHOOK_PATH, json=body)
            response.raise_for_status()
            messages = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa engine unavailable: %s", type(exc).__name__)
            raise EngineUnavailable(type(exc).__name__) from exc
        if not isinstance(messages, list):
            raise EngineUnavailable("unexpected response shape")
        replies: list[EngineReply] = []
        for message in messages:
            custom = message.get("custom") if isinstance(message, dict) else None
            if not isinstance(custom, dict) or "topic" not in custom:
                log.warning("rasa engine returned a message without a topic; ignored")
                continue
            raw_scores = custom.get("scores")
            scores: dict[str, Any] = raw_scores if isinstance(raw_scores, dict) else {}
            replies.append(
                EngineReply(
                    topic=str(custom["topic"]),
                    language=str(custom.get("language", "")),
                    text=str(custom.get("text", "")),
                    buttons=list(custom.get("buttons") or []),
                    distress_score=float(scores.get("distress", 0.0)),
                    request_score=float(scores.get("request_human", 0.0)),
                )
            )
        return replies

    async def forget(self, conversation_id: str) -> bool:
        """Erase Rasa's copy of a conversation: replace its tracker with no events.

        Rasa's own SQL tracker store only appends; production runs
        rasa_project/stores/erasable.py, where a shorter tracker replaces the stored rows.
        """
        try:
            response = await self._client.put(
                f"/conversations/{conversation_id}/tracker/events",
                params={"token": self._token},
                json=[],
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning(
                "could not erase the engine's copy of a conversation: %s", type(exc).__name__
            )
            return False
        return True

    async def ready(self) -> tuple[bool, str]:
        """Whether the engine answers and has a model loaded, with a reason if not."""
        try:
            response = await self._client.get("/status", params={"token": self._token})
        except httpx.HTTPError as exc:
            return False, f"rasa engine unreachable ({type(exc).__name__})"
        if response.status_code != 200:
            return False, f"rasa engine status {response.status_code}"
        try:
            model = response.json().get("model_id") or response.json().get("fingerprint")
        except ValueError:
            return False, "rasa engine sent a malformed status"
        if not model:
            return False, "rasa engine has no model loaded"
        return True, "ok"
