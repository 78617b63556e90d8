"""The NLG endpoint Rasa calls: token-checked, renders the topic from content/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import App

pytestmark = pytest.mark.anyio
TRACKER = Path(__file__).parent / "data" / "rasa" / "nlg_request.json"


def nlg_request(response: str, language: str, country: str | None) -> dict[str, Any]:
    """A recorded Rasa 3.6 NLG request with the response and render context replaced."""
    body: dict[str, Any] = json.loads(TRACKER.read_text())
    body["response"] = response
    for event in body["tracker"]["events"]:
        if event["event"] == "user":
            event["metadata"] = {"language": language, "country": country}
    return body


async def test_nlg_renders_the_answer_file_in_the_conversation_language(gateway: App) -> None:
    """utter_help_contacts for a Spanish speaker in Mexico is the es file's MX text."""
    token = gateway.settings.rasa_token
    async with gateway.client() as client:
        response = await client.post(
            f"/nlg?token={token}", json=nlg_request("utter_help_contacts", "es", "MX")
        )
    custom = response.json()["custom"]
    assert custom["topic"] == "help_contacts" and custom["language"] == "es"
    assert "800 5533 000" in custom["text"]
    assert custom["scores"]["distress"] == pytest.approx(0.02)


async def test_nlg_refuses_a_caller_without_the_token(gateway: App) -> None:
    """Only the engine, holding the shared token, may ask for renders."""
    async with gateway.client() as client:
        missing = await client.post("/nlg", json=nlg_request("utter_welcome", "en", None))
        wrong = await client.post("/nlg?token=nope", json=nlg_request("utter_welcome", "en", None))
    assert missing.status_code == 401 and wrong.status_code == 401


async def test_nlg_answers_an_unknown_response_with_the_fallback(gateway: App) -> None:
    """A response name with no topic never leaves the person without words."""
    token = gateway.settings.rasa_token
    async with gateway.client() as client:
        response = await client.post(
            f"/nlg?token={token}", json=nlg_request("utter_nonexistent", "pt", None)
        )
    assert response.json()["custom"]["topic"] == "fallback"
