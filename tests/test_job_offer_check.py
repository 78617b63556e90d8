"""The guided job-offer check through the web API (Rasa faked at its HTTP edge) and scoring."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.content.checks import GuidedCheck
from bot.content.loader import load_content
from bot.settings import PROJECT_ROOT
from tests.factories import App, build_app, message

pytestmark = pytest.mark.anyio

# The issue's case: a fee, the passport kept by the employer, and "keep it secret".
RISKY = {"fee": "yes", "documents": "yes", "secret": "yes"}


def the_check(content: Path) -> GuidedCheck:
    """The job-offer check as content/ defines it."""
    snapshot, problems = load_content(content)
    assert snapshot is not None, [p.format(content) for p in problems]
    return snapshot.checks["job_offer_check"]


def safe_answer(check: GuidedCheck, question_id: str) -> str:
    """The answer to a question that is not a red flag."""
    red = next(q.red for q in check.questions if q.id == question_id)
    return "no" if red == "yes" else "yes"


def answers_for(check: GuidedCheck, red: dict[str, str]) -> list[str]:
    """Answers in question order: the given ones, every other question answered safely."""
    return [red.get(q.id, safe_answer(check, q.id)) for q in check.questions]


@pytest.fixture
def app(sqlite_url: str, content_copy: Path) -> App:
    """The gateway; Rasa (faked) reads every typed message as a job-offer question."""
    built = build_app(sqlite_url, content_copy)
    built.rasa.route = lambda said: said[1:] if said.startswith("/") else "job_offer_check"
    return built


async def say(client: httpx.AsyncClient, user: str, **body: str) -> dict[str, Any]:
    """One message through the web API; the response body."""
    response = await client.post("/api/web/messages", json=message(user, **body))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- scoring, driven by content -----------------------------------------------------------


def test_the_shipped_check_scores_the_issues_case_high() -> None:
    """Fee + passport kept + secrecy, everything else safe: high, those three flags only."""
    check = the_check(PROJECT_ROOT / "content")
    answers = dict(zip([q.id for q in check.questions], answers_for(check, RISKY), strict=True))
    score, flags = check.score(answers)
    assert check.level(score) == "high"
    assert set(flags) == set(RISKY)


@pytest.mark.parametrize(
    ("red", "level"),
    [({}, "low"), ({"online_only": "yes"}, "not high")],
)
def test_safe_or_mild_offers_are_not_high(red: dict[str, str], level: str) -> None:
    """All safe answers are low risk; one mild flag alone never makes a high result."""
    check = the_check(PROJECT_ROOT / "content")
    answers = dict(zip([q.id for q in check.questions], answers_for(check, red), strict=True))
    result = check.level(check.score(answers)[0])
    assert result == level if level != "not high" else result != "high"


def test_dont_know_everywhere_is_not_low() -> None:
    """Not knowing anything about an offer is itself a reason to be careful."""
    check = the_check(PROJECT_ROOT / "content")
    score, flags = check.score({q.id: "unsure" for q in check.questions})
    assert check.level(score) != "low" and flags == []


def test_weights_and_thresholds_come_from_the_content_file(content_copy: Path) -> None:
    """An editor raising the high threshold turns the same answers into a medium result."""
    path = content_copy / "checks/job_offer/check.yml"
    check = the_check(content_copy)
    answers = dict(zip([q.id for q in check.questions], answers_for(check, RISKY), strict=True))
    score, _ = check.score(answers)
    text = path.read_text()
    high_line = next(line for line in text.splitlines() if line.strip().startswith("high:"))
    path.write_text(text.replace(high_line, f"  high: {score + 100}", 1))
    changed = the_check(content_copy)
    assert changed.level(changed.score(answers)[0]) == "medium"


def test_a_broken_check_file_is_reported_with_its_line(content_copy: Path) -> None:
    """A question without words in Spanish, or a red answer that is not yes/no, is an error."""
    (content_copy / "checks/job_offer/check.yml").write_text(
        (PROJECT_ROOT / "tests/data/content/broken_check/check.yml").read_text()
    )
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    messages = [p.format(content_copy) for p in problems if not p.warning]
    assert any(
        m.startswith("content/checks/job_offer/check.yml:") and '`red:` is "yes" or "no"' in m
        for m in messages
    )
    assert any(
        m.startswith("content/checks/job_offer/es.yml:") and "questions" in m and "visa_cost" in m
        for m in messages
    )


# --- the conversation ------------------------------------------------------------------------


async def run_check(
    client: httpx.AsyncClient, user: str, answers: list[str]
) -> list[dict[str, Any]]:
    """Answer in order with payloads that name no question (as a typed answer would)."""
    return [await say(client, user, payload=f"check:{answer}") for answer in answers]


async def test_a_risky_offer_gets_a_high_result_with_its_flags_and_help(app: App) -> None:
    """Nine questions by button; the result names the three flags, offers a person, helps."""
    check = the_check(app.settings.content_dir)
    words = check.words["en"]
    async with app.client() as client:
        first = await say(client, "p1", text="they offer me a job in dubai, is it real?")
        opening = first["replies"][0]
        assert opening["topic"] == "job_offer_check"
        assert opening["text"].startswith(words.intro)
        assert words.questions[check.questions[0].id] in opening["text"]
        first_id = check.questions[0].id
        assert [b["payload"] for b in opening["buttons"]] == [
            f"check:yes:{first_id}",
            f"check:no:{first_id}",
            f"check:unsure:{first_id}",
            "check:stop",
        ]
        bodies = await run_check(client, "p1", answers_for(check, RISKY))
    for body, question in zip(bodies[:-1], check.questions[1:], strict=True):
        assert words.questions[question.id] in body["replies"][0]["text"]
    result, help_reply = bodies[-1]["replies"]
    assert result["text"].startswith(words.results["high"])
    flagged = result["text"].split(f"\n{words.red_flags}\n", 1)[1].splitlines()
    assert flagged == [f"• {words.flags[q]}" for q in ("fee", "documents", "secret")]
    assert [b["payload"] for b in result["buttons"]] == ["human_handoff"]
    assert help_reply["topic"] == "help_contacts"
    assert bodies[-1]["status"] == "bot"


async def test_typed_answers_work_in_portuguese_and_stop_leaves_the_check(app: App) -> None:
    """ "sim", "não", "não sei" answer; "parar" stops; asking again offers to continue."""
    check = the_check(app.settings.content_dir)
    words = check.words["pt"]
    async with app.client() as client:
        await say(client, "p2", text="recebi uma oferta de emprego na africa do sul, é verdade?")
        second = await say(client, "p2", text="sim")
        third = await say(client, "p2", text="não sei")
        stopped = await say(client, "p2", text="parar")
        back = await say(client, "p2", text="quero verificar a oferta de emprego")
        resumed = await say(client, "p2", payload="check:continue")
    assert words.questions[check.questions[1].id] in second["replies"][0]["text"]
    assert words.questions[check.questions[2].id] in third["replies"][0]["text"]
    assert stopped["replies"][0]["text"] == words.stopped
    assert back["replies"][0]["text"] == words.resume
    assert [b["payload"] for b in back["replies"][0]["buttons"]] == [
        "check:continue",
        "check:restart",
    ]
    progress = words.progress.replace("{n}", "3").replace("{total}", str(len(check.questions)))
    assert resumed["replies"][0]["text"].startswith(progress)


async def test_another_question_mid_check_is_answered_and_the_check_waits(app: App) -> None:
    """A different question pauses the check; "yes" afterwards is a message, not an answer."""
    check = the_check(app.settings.content_dir)
    app.rasa.route = lambda said: (
        said[1:] if said.startswith("/") else "job_offer_check" if "offer" in said else "rights"
    )
    async with app.client() as client:
        await say(client, "p3", text="is this job offer real?")
        other = await say(client, "p3", text="what are my rights at work?")
        after = await say(client, "p3", text="yes")
        again = await say(client, "p3", text="check my job offer")
        restarted = await say(client, "p3", payload="check:restart")
    assert other["replies"][0]["topic"] == "rights"
    assert after["replies"][0]["topic"] == "rights"  # went to the engine, not the check
    assert again["replies"][0]["text"] == check.words["en"].resume or again["replies"][0][
        "text"
    ].startswith(check.words["en"].intro)
    assert restarted["replies"][0]["text"].startswith(check.words["en"].intro)


async def test_distress_in_the_middle_of_the_check_escalates_at_once(app: App) -> None:
    """Danger beats the check: the emergency reply, a caseworker queued, the check set aside."""
    async with app.client() as client:
        await say(client, "p4", text="me ofrecen trabajo en Estados Unidos, es real?")
        await say(client, "p4", payload="check:no")
        body = await say(client, "p4", text="ayuda me tienen encerrada y no me dejan salir")
    assert body["status"] == "queued" and body["escalation"] == "distress"
    assert body["replies"][0]["topic"] == "emergency"


async def test_the_result_gives_help_contacts_for_the_persons_country(app: App) -> None:
    """Someone who named Mexico gets Mexico's numbers after the result."""
    check = the_check(app.settings.content_dir)
    async with app.client() as client:
        await say(client, "p5", text="me ofrecen trabajo en México, pero piden dinero, es real?")
        bodies = await run_check(client, "p5", answers_for(check, RISKY))
    help_reply = bodies[-1]["replies"][-1]
    assert help_reply["topic"] == "help_contacts"
    assert "800 5533 000" in help_reply["text"]


async def test_a_result_offers_a_person_and_the_button_escalates(app: App) -> None:
    """Pressing "talk to a person" on a high result queues the conversation for a caseworker."""
    check = the_check(app.settings.content_dir)
    async with app.client() as client:
        await say(client, "p6", text="job offer abroad, is it safe?")
        await run_check(client, "p6", answers_for(check, RISKY))
        handed = await say(client, "p6", payload="human_handoff")
    assert handed["status"] == "queued" and handed["escalation"] == "request"


async def test_a_partial_language_runs_the_check_in_its_fallback(
    sqlite_url: str, content_copy: Path
) -> None:
    """French has no check words: the check runs in English, the fallback."""
    shutil.copytree(PROJECT_ROOT / "tests/data/content/french", content_copy, dirs_exist_ok=True)
    app = build_app(sqlite_url, content_copy)
    app.rasa.route = lambda said: said[1:] if said.startswith("/") else "job_offer_check"
    check = the_check(content_copy)
    async with app.client() as client:
        await say(client, "p7", text="français")
        body = await say(client, "p7", payload="job_offer_check")
    assert body["replies"][0]["text"].startswith(check.words["en"].intro)


async def test_an_old_questions_button_brings_back_the_open_question(app: App) -> None:
    """Pressing question 1's "no" again at question 3 records nothing and asks question 3."""
    check = the_check(app.settings.content_dir)
    first, third = check.questions[0].id, check.questions[2].id
    async with app.client() as client:
        await say(client, "p8", text="is this job offer real?")
        await say(client, "p8", payload=f"check:yes:{first}")
        await say(client, "p8", payload=f"check:no:{check.questions[1].id}")
        again = await say(client, "p8", payload=f"check:no:{first}")
    question = again["replies"][0]
    assert check.words["en"].questions[third] in question["text"]
    assert question["buttons"][0]["payload"] == f"check:yes:{third}"


async def test_questions_reordered_mid_check_skip_none(app: App) -> None:
    """An editor moves the last question first while a check is open: it is still asked."""
    check = the_check(app.settings.content_dir)
    path = app.settings.content_dir / "checks/job_offer/check.yml"
    async with app.client() as client:
        await say(client, "p9", text="is this job offer real?")
        await say(client, "p9", payload="check:no")
        text = path.read_text()
        last = check.questions[-1]
        block = f'  - id: {last.id}\n    red: "{last.red}"\n    weight: {last.weight:g}\n'
        assert block in text
        path.write_text(text.replace(block, "").replace("questions:\n", "questions:\n" + block))
        reload_content(app)
        asked = await say(client, "p9", payload="check:continue")
    assert check.words["en"].questions[last.id] in asked["replies"][0]["text"]
    assert asked["replies"][0]["buttons"][0]["payload"] == f"check:yes:{last.id}"


async def test_switching_language_mid_check_asks_the_open_question_again(app: App) -> None:
    """ "em português" in the middle: confirmed, and question 2 comes again in Portuguese."""
    check = the_check(app.settings.content_dir)
    async with app.client() as client:
        await say(client, "p10", text="is this job offer real?")
        await say(client, "p10", payload="check:no")
        switched = await say(client, "p10", text="em português")
    topics = [r["topic"] for r in switched["replies"]]
    assert topics == ["language_set", "job_offer_check"]
    assert check.words["pt"].questions[check.questions[1].id] in switched["replies"][1]["text"]


def reload_content(app: App) -> None:
    """Make the running app pick up a content edit at once."""
    app.app.state.components.content.reload()


def test_a_check_words_file_is_also_checked_against_its_schema(content_copy: Path) -> None:
    """An unknown key in a check's words file (read twice while loading) still gets its line."""
    path = content_copy / "checks/job_offer/pt.yml"
    path.write_text(path.read_text() + "colour: blue\n")
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    [problem] = [p for p in problems if not p.warning]
    assert problem.path == path and "unknown key 'colour'" in problem.message
    assert path.read_text().splitlines()[problem.line - 1] == "colour: blue"
