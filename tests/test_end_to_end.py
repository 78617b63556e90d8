"""End to end: the real Rasa engine and the gateway, talking over HTTP, in three languages."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import httpx
import pytest
import yaml

from bot.topics import ALL_TOPICS, INTENT_TOPICS
from tests.factories import shown_texts
from tools.stack import Stack

pytestmark = pytest.mark.e2e
CONVERSATIONS = yaml.safe_load((Path(__file__).parent / "data/conversations.yml").read_text())
CASES = [
    pytest.param(language, text, topic, id=f"{language}-{topic}")
    for language, lines in CONVERSATIONS.items()
    for text, topic in ((line["text"], line["topic"]) for line in lines)
]
ESCALATION = {"emergency": ("queued", "distress"), "human_handoff": ("queued", "request")}


def post(stack: Stack, user: str, text: str | None = None, payload: str | None = None) -> dict:  # type: ignore[type-arg]
    body = {
        "user_id": user,
        **({"text": text} if text else {}),
        **({"payload": payload} if payload else {}),
    }
    response = httpx.post(f"{stack.base_url}/api/web/messages", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def answer_texts(stack: Stack, topic: str, language: str) -> list[str]:
    """Every text a topic may open with: its answer file's, or its guided check's first question."""
    return sorted(shown_texts(content_dir(stack), topic, language))


def content_dir(stack: Stack) -> Path:
    return stack.log_dir / "content"


def test_the_conversations_cover_every_topic_in_every_language() -> None:
    """The table below really exercises every topic Rasa can reach, in en, pt and es."""
    reachable = set(INTENT_TOPICS) | {"fallback", "human_handoff", "emergency"}
    for lines in CONVERSATIONS.values():
        assert {line["topic"] for line in lines} == reachable
    assert reachable <= set(ALL_TOPICS)


@pytest.mark.parametrize(("language", "text", "topic"), CASES)
def test_first_messages_get_the_right_topic_in_their_language(
    stack: Stack, language: str, text: str, topic: str
) -> None:
    """A new person's first message is understood, answered in kind, from content/."""
    body = post(stack, f"e2e-{secrets.token_hex(6)}", text)
    first = body["replies"][0]
    assert first["topic"] == topic
    assert body["language"] == language
    assert first["text"] in answer_texts(stack, topic, language)
    assert (body["status"], body["escalation"]) == ESCALATION.get(topic, ("bot", None))


def test_a_conversation_switches_language_and_stays(stack: Stack) -> None:
    """English, then an explicit switch to Portuguese, then Spanish by writing it."""
    user = f"e2e-{secrets.token_hex(6)}"
    first = post(stack, user, "hi, what are the signs of human trafficking?")
    switched = post(stack, user, "em português por favor")
    stays = post(stack, user, "ok")
    answered = post(stack, user, "como me preparar para emigrar com seguranca")
    spanish = post(
        stack, user, "ahora quiero saber cuales son mis derechos como trabajador migrante"
    )
    assert first["language"] == "en"
    assert switched["language"] == "pt" and switched["replies"][0]["topic"] == "language_set"
    assert stays["language"] == "pt"
    assert answered["replies"][0]["topic"] == "safe_migration"
    assert answered["replies"][0]["text"] in answer_texts(stack, "safe_migration", "pt")
    assert spanish["language"] == "es" and spanish["replies"][0]["topic"] == "rights"


def test_buttons_work_end_to_end(stack: Stack) -> None:
    """The welcome's buttons lead to their topics through Rasa."""
    user = f"e2e-{secrets.token_hex(6)}"
    welcome = post(stack, user, "hola")
    button = welcome["replies"][0]["buttons"][0]
    pressed = post(stack, user, payload=button["payload"])
    assert pressed["replies"][0]["topic"] == button["payload"]
    assert pressed["language"] == "es"


def test_after_escalation_rasa_is_not_consulted(stack: Stack) -> None:
    """A queued person's questions are kept for the caseworker, not answered by the bot."""
    user = f"e2e-{secrets.token_hex(6)}"
    post(stack, user, "quero falar com uma pessoa")
    later = post(stack, user, "quais sao os sinais de trafico de pessoas")
    assert later["status"] == "queued"
    assert [r["topic"] for r in later["replies"]] == ["waiting"]


def test_an_answer_edit_reaches_the_next_reply_without_retraining(stack: Stack) -> None:
    """Hot reload through the whole path: the gateway's watcher loads the new file within 2 s."""
    path = content_dir(stack) / "topics/blue_heart/en.yml"
    original = path.read_text()
    data = yaml.safe_load(original)
    data["text"] = "Edited by an editor: the Blue Heart stands with victims of trafficking."
    try:
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        stamp = time.time() + 2
        os.utime(path, (stamp, stamp))
        edited = time.monotonic()
        seen: list[str] = []
        while time.monotonic() - edited < 2 and data["text"] not in seen:
            body = post(stack, f"e2e-{secrets.token_hex(6)}", "what is the blue heart campaign")
            seen.append(body["replies"][0]["text"])
            time.sleep(0.1)
        assert seen[-1] == data["text"], "the edit did not show within 2 s"
    finally:
        path.write_text(original)
        os.utime(path, (time.time() + 4, time.time() + 4))


def test_the_engine_refuses_callers_without_the_token(stack: Stack) -> None:
    """Rasa's channel and API answer 401 without the shared token; with it, they work."""
    webhook = f"{stack.rasa_url}/webhooks/rota/webhook"
    body = {"sender": "x", "message": "hi"}
    assert httpx.post(webhook, json=body, timeout=10).status_code == 401
    assert (
        httpx.post(
            webhook, json=body, headers={"Authorization": "Bearer wrong"}, timeout=10
        ).status_code
        == 401
    )
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    assert (
        httpx.get(
            f"{stack.rasa_url}/status", params={"token": stack.rasa_token}, timeout=10
        ).status_code
        == 200
    )


def test_the_engine_listens_on_loopback_only(stack: Stack) -> None:
    """Rasa is bound to 127.0.0.1, never to an outside interface."""
    port = int(stack.rasa_url.rsplit(":", 1)[1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                listening.append(address)
    assert listening == ["0100007F"]


def test_readiness_reports_ready_with_the_engine_up(stack: Stack) -> None:
    """With content, database and engine up, /readyz says ready and the engine is ok."""
    ready = httpx.get(f"{stack.base_url}/readyz?engine=required", timeout=10)
    assert ready.json() == {"status": "ready", "engine": "ok"}


def test_erasure_removes_the_conversation_from_the_engine_too(stack: Stack) -> None:
    """After "delete" and confirming, Rasa's tracker holds none of the person's words."""
    user = f"e2e-{secrets.token_hex(6)}"
    first = post(stack, user, "my name is Ana, what are the warning signs of trafficking")
    conversation = first["conversation_id"]
    tracker_url = f"{stack.rasa_url}/conversations/{conversation}/tracker"
    params = {"token": stack.rasa_token}
    before = httpx.get(tracker_url, params=params, timeout=10).json()
    assert any(e.get("text", "").startswith("my name is Ana") for e in before["events"])
    post(stack, user, "delete")
    done = post(stack, user, payload="delete:confirm")
    after = httpx.get(tracker_url, params=params, timeout=10).json()
    assert done["replies"][0]["topic"] == "delete_done"
    assert not any("Ana" in (e.get("text") or "") for e in after["events"])
