"""The job-offer check, destinations and help by country through the real Rasa engine."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from bot.content.checks import GuidedCheck
from bot.content.loader import load_content
from tools.stack import Stack

LANGUAGES = {
    "en": {
        "offer": "I got a job offer in South Africa, how can I know if it is real?",
        "stop": "stop",
        "again": "check my offer",
        "help_number": "0800 222 777",
        "distress": "help they locked me in the house and took my passport",
    },
    "pt": {
        "offer": "recebi uma oferta de emprego na África do Sul, como sei se é verdadeira?",
        "stop": "parar",
        "again": "verificar oferta",
        "help_number": "0800 222 777",
        "distress": "socorro estou trancada e nao me deixam sair",
    },
    "es": {
        "offer": "me ofrecieron un trabajo en Estados Unidos, cómo sé si es real?",
        "stop": "salir",
        "again": "revisar oferta",
        "help_number": "1-888-373-7888",
        "distress": "ayuda me tienen encerrada y no me dejan salir",
    },
}
RISKY = {"fee": "yes", "documents": "yes", "secret": "yes"}


def the_check(stack: Stack) -> GuidedCheck:
    """The job-offer check from the content the running gateway serves."""
    snapshot, _ = load_content(stack.log_dir / "content")
    assert snapshot is not None
    return snapshot.checks["job_offer_check"]


def send(stack: Stack, user: str, **body: str) -> dict[str, Any]:
    """One message to the running gateway; the response body."""
    response = httpx.post(
        f"{stack.base_url}/api/web/messages", json={"user_id": user, **body}, timeout=30
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def risky_answers(check: GuidedCheck) -> list[str]:
    """Fee, passport kept and secrecy; every other question answered safely."""
    safe = {q.id: "no" if q.red == "yes" else "yes" for q in check.questions}
    return [RISKY.get(q.id, safe[q.id]) for q in check.questions]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_a_risky_offer_is_rated_high_with_its_three_flags_and_local_help(
    stack: Stack, language: str
) -> None:
    """The engine opens the check from the person's own words; the result fits their country."""
    said = LANGUAGES[language]
    check = the_check(stack)
    words = check.words[language]
    user = f"offer-{language}-{secrets.token_hex(4)}"
    opening = send(stack, user, text=said["offer"])
    assert opening["language"] == language
    assert opening["replies"][0]["topic"] == "job_offer_check"
    assert opening["replies"][0]["text"].startswith(words.intro)
    for answer in risky_answers(check):
        body = send(stack, user, payload=f"check:{answer}")
    result, help_reply = body["replies"]
    assert result["text"].startswith(words.results["high"])
    flags = result["text"].split(f"\n{words.red_flags}\n", 1)[1].splitlines()
    assert flags == [f"• {words.flags[q]}" for q in ("fee", "documents", "secret")]
    assert [b["payload"] for b in result["buttons"]] == ["human_handoff"]
    assert help_reply["topic"] == "help_contacts" and said["help_number"] in help_reply["text"]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_stop_leaves_the_check_and_it_can_be_continued(stack: Stack, language: str) -> None:
    """ "stop"/"parar"/"salir" leave the check; asking again offers to continue at question 3."""
    said = LANGUAGES[language]
    check = the_check(stack)
    words = check.words[language]
    user = f"stop-{language}-{secrets.token_hex(4)}"
    send(stack, user, text=said["offer"])
    send(stack, user, payload="check:no")
    send(stack, user, payload="check:yes")
    stopped = send(stack, user, text=said["stop"])
    assert stopped["replies"][0]["text"] == words.stopped
    back = send(stack, user, text=said["again"])
    assert back["replies"][0]["text"] == words.resume
    resumed = send(stack, user, payload="check:continue")
    progress = words.progress.replace("{n}", "3").replace("{total}", str(len(check.questions)))
    assert resumed["replies"][0]["text"].startswith(progress)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_distress_in_the_middle_of_the_check_escalates(stack: Stack, language: str) -> None:
    """A cry for help between two questions goes to a caseworker at once."""
    said = LANGUAGES[language]
    user = f"danger-{language}-{secrets.token_hex(4)}"
    send(stack, user, text=said["offer"])
    send(stack, user, payload="check:yes")
    body = send(stack, user, text=said["distress"])
    assert body["status"] == "queued" and body["escalation"] == "distress"
    assert body["replies"][0]["topic"] == "emergency"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "what should I prepare so my family can find me if something goes wrong abroad",
            "safety_plan",
        ),
        ("o que devo preparar para a minha família saber onde estou quando viajar", "safety_plan"),
        ("qué debo preparar para que mi familia sepa dónde estoy cuando me vaya", "safety_plan"),
        ("what do I need to know before moving to Dubai", "destination_other"),
    ],
)
def test_the_engine_answers_the_new_guidance_topics(stack: Stack, text: str, topic: str) -> None:
    """The safety plan (taught only by editors' examples) and unknown destinations."""
    body = send(stack, f"topic-{secrets.token_hex(4)}", text=text)
    assert body["replies"][0]["topic"] == topic
