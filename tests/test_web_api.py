"""Bad input to the web API gets a clear 4xx and stores nothing (contracts: web channel)."""

from __future__ import annotations

import logging

import pytest

from bot.db.models import Conversation, Message, Person
from tests.factories import App, message

pytestmark = pytest.mark.anyio


def stored_rows(app: App) -> int:
    """People, conversations and messages stored, all together."""
    return app.count(Person, Conversation, Message)


BAD_BODIES = [
    pytest.param(b"{not json", 400, "not valid JSON", id="invalid-json"),
    pytest.param(b"[1, 2]", 400, "JSON object", id="not-an-object"),
    pytest.param(b'"hello"', 400, "JSON object", id="a-string"),
    pytest.param(b'{"text": "hi"}', 422, "user_id", id="no-user-id"),
    pytest.param(b'{"user_id": "", "text": "hi"}', 422, "user_id", id="empty-user-id"),
    pytest.param(b'{"user_id": "' + b"u" * 129 + b'", "text": "hi"}', 422, "user_id", id="long-id"),
    pytest.param(b'{"user_id": 42, "text": "hi"}', 422, "user_id", id="numeric-user-id"),
    pytest.param(b'{"user_id": "u1"}', 422, "exactly one of text or payload", id="no-text"),
    pytest.param(b'{"user_id": "u1", "text": ""}', 422, "text is empty", id="empty-text"),
    pytest.param(b'{"user_id": "u1", "text": "   \\n "}', 422, "text is empty", id="blank-text"),
    pytest.param(
        b'{"user_id": "u1", "text": "' + b"a" * 4097 + b'"}', 422, "longer than", id="long-text"
    ),
    pytest.param(b'{"user_id": "u1", "text": ["hi"]}', 422, "text must be a string", id="list"),
    pytest.param(b'{"user_id": "u1", "text": null}', 422, "exactly one", id="null-text"),
    pytest.param(b'{"user_id": "u1", "payload": 7}', 422, "payload must be a string", id="num"),
    pytest.param(
        b'{"user_id": "u1", "text": "hi", "payload": "welcome"}', 422, "exactly one", id="both"
    ),
    pytest.param(b'{"user_id": "u1", "txt": "hi"}', 422, "unknown field", id="typo-field"),
    pytest.param(b'{"user_id": "u1", "text": "' + b"a" * 20000 + b'"}', 413, "larger", id="huge"),
    pytest.param(b"[" * 5000 + b"]" * 5000, 400, "not valid JSON", id="deeply-nested"),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD_BODIES)
async def test_bad_post_bodies_are_refused_clearly_and_store_nothing(
    gateway: App, body: bytes, status: int, says: str
) -> None:
    """Each malformed body gets its own explanation and leaves no trace."""
    async with gateway.client() as client:
        response = await client.post(
            "/api/web/messages", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert says in response.json()["error"]
    assert stored_rows(gateway) == 0
    assert gateway.rasa.received == []


async def test_a_non_json_content_type_is_refused(gateway: App) -> None:
    """A form post is told to send JSON."""
    async with gateway.client() as client:
        response = await client.post("/api/web/messages", data={"user_id": "u", "text": "hi"})
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": "u1", "after": "-1"}, "after"),
        ({"user_id": "u1", "after": "abc"}, "after"),
        ({"user_id": "x" * 129}, "user_id"),
        ({"user_id": "u1", "after": "²"}, "after"),
        ({"user_id": "u1", "after": "9" * 30}, "after"),
    ],
)
async def test_bad_get_parameters_are_refused(
    gateway: App, params: dict[str, str], says: str
) -> None:
    """Polling without a user id or with a bad `after` is a 422 that names the parameter."""
    async with gateway.client() as client:
        response = await client.get("/api/web/messages", params=params)
    assert response.status_code == 422
    assert says in response.json()["error"]


async def test_polling_for_an_unknown_person_reveals_nothing(gateway: App) -> None:
    """An id that never wrote gets an empty list, not an error that confirms anything."""
    async with gateway.client() as client:
        response = await client.get("/api/web/messages", params={"user_id": "nobody"})
    assert response.status_code == 200
    assert response.json() == {"conversation_id": None, "status": None, "messages": []}


async def test_health_and_readiness(gateway: App) -> None:
    """With Rasa down a replica stays ready (it still stores and answers later) but says so.

    Only `?engine=required` (what start-up tools wait for) is 503 with the reason.
    """
    async with gateway.client() as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json() == {"status": "ready", "engine": "ok"}
        gateway.rasa.up = False
        still_ready = await client.get("/readyz")
        not_ready = await client.get("/readyz?engine=required")
    assert still_ready.status_code == 200
    assert "rasa" in still_ready.json()["engine"]
    assert not_ready.status_code == 503
    assert "rasa" in not_ready.json()["reason"]


async def test_metrics_are_exposed_without_message_text(gateway: App) -> None:
    """/metrics counts messages and escalations; it never holds what people wrote."""
    async with gateway.client() as client:
        await client.post(
            "/api/web/messages", json={"user_id": "m1", "text": "help me please, im scared"}
        )
        metrics = (await client.get("/metrics")).text
    assert "rota_messages_total" in metrics
    assert 'rota_escalations_total{reason="distress",source="phrase"}' in metrics
    assert "scared" not in metrics


async def test_metrics_show_the_outage_backlog_and_engine_errors(gateway: App) -> None:
    """With Rasa down, /metrics counts the engine error and the conversation waiting for it."""
    gateway.rasa.up = False
    async with gateway.client() as client:
        before = sample((await client.get("/metrics")).text, "rota_engine_errors_total")
        await client.post("/api/web/messages", json={"user_id": "m2", "text": "como tirar visto"})
        metrics = (await client.get("/metrics")).text
    assert sample(metrics, "rota_engine_errors_total") == before + 1
    assert sample(metrics, "rota_engine_backlog") == 1
    assert sample(metrics, "rota_outbox_depth") == 0  # the web chat fetches its replies
    for name in ("rota_handle_seconds_bucket", "rota_queue_wait_seconds_bucket"):
        assert name in metrics


async def test_a_reply_the_engine_lost_is_counted_and_logged_without_the_text(
    gateway: App, caplog: pytest.LogCaptureFixture
) -> None:
    """When Rasa takes a message but answers with nothing, the person is asked to say it
    another way, and the operator sees it in /metrics and the log (which holds no words)."""
    gateway.rasa.renders = False
    words = "o meu contrato de trabalho tem uma cláusula estranha"
    async with gateway.client() as client:
        before = sample((await client.get("/metrics")).text, "rota_engine_no_reply_total")
        with caplog.at_level(logging.WARNING, logger="bot.decisions"):
            answer = await client.post("/api/web/messages", json=message("m3", words))
        metrics = (await client.get("/metrics")).text
    assert answer.status_code == 200
    assert answer.json()["replies"][0]["topic"] == "fallback"
    assert sample(metrics, "rota_engine_no_reply_total") == before + 1
    assert "no reply" in caplog.text
    assert "contrato" not in caplog.text


def sample(exposition: str, name: str) -> float:
    """The value of an unlabelled sample in a Prometheus exposition (0 if absent)."""
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_the_demo_chat_page_is_served(gateway: App) -> None:
    """`/` serves the chat page and its script, no framework needed."""
    async with gateway.client() as client:
        page = await client.get("/")
        script = await client.get("/static/chat.js")
    assert page.status_code == 200 and '<form id="send"' in page.text
    assert script.status_code == 200 and "/api/web/messages" in script.text
