"""Guided checks in a conversation: ask the questions one by one, score, and explain the result.

The state lives in `conversations.guided_check` as
`{"check": "job_offer", "answers": {"fee": "yes", ...}, "paused": false}`; the question
asked is the first one (in the content's current order) not answered yet, so an editor
reordering or adding questions mid-check never skips one. A person answers with buttons
(`check:yes:<question id>`, `check:stop`), WhatsApp numbers (mapped to those buttons by the
core) or typed words from the check's word lists; a button of an earlier question only
brings the current question back. Anything else pauses
the check and is answered as usual; asking for the check again offers to continue or restart.
Distress is decided before any of this (bot/core.py), so it escalates mid-check as anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.content.checks import ANSWERS, CheckWords, GuidedCheck
from bot.content.model import Button, ContentSnapshot
from bot.messages import Reply

PAYLOAD_PREFIX = "check:"
CHOICES = (*ANSWERS, "stop", "continue", "restart")
ESCALATION_TOPIC = "human_handoff"
RESULT_TOPICS = ("help_contacts",)


@dataclass
class Turn:
    """What one message does to a check: replies, topic answers after them, the new state."""

    replies: list[Reply] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    state: dict[str, Any] | None = None


def parse_payload(payload: str | None) -> tuple[str, str | None] | None:
    """`check:yes:fee` gives ("yes", "fee"), `check:stop` ("stop", None); else None."""
    if payload is None or not payload.startswith(PAYLOAD_PREFIX):
        return None
    choice, _, question = payload.removeprefix(PAYLOAD_PREFIX).partition(":")
    if choice not in CHOICES:
        return None
    return choice, question or None


def active_check(state: dict[str, Any] | None, snapshot: ContentSnapshot) -> GuidedCheck | None:
    """The check a stored state belongs to, while it exists and has a question left."""
    if not isinstance(state, dict) or not isinstance(state.get("answers"), dict):
        return None
    for check in snapshot.checks.values():
        if check.id == state.get("check"):
            left = any(q.id not in state["answers"] for q in check.questions)
            return check if left else None
    return None


def words_for(
    check: GuidedCheck, language: str, snapshot: ContentSnapshot
) -> tuple[CheckWords, str]:
    """The check's words in a language, or in its fallback language; and that language."""
    chosen = next(
        (code for code in snapshot.language_chain(language) if code in check.words), language
    )
    return check.words[chosen], chosen


class Guide:
    """Runs one check for one conversation in one language."""

    def __init__(self, check: GuidedCheck, snapshot: ContentSnapshot, language: str) -> None:
        self.check = check
        self.words, self.language = words_for(check, language, snapshot)

    def fresh(self) -> dict[str, Any]:
        """A new check's state: nothing answered."""
        return {"check": self.check.id, "answers": {}, "paused": False}

    def current(self, state: dict[str, Any]) -> int | None:
        """The index of the first question not answered yet (None when all are)."""
        answers = state["answers"]
        return next((n for n, q in enumerate(self.check.questions) if q.id not in answers), None)

    def start(self) -> Turn:
        """The introduction and the first question."""
        state = self.fresh()
        return Turn(replies=[self.question(state, intro=True)], state=state)

    def offer_resume(self, state: dict[str, Any]) -> Turn:
        """Offer to continue a check left half done, or to start it again."""
        paused = {**state, "paused": True}
        buttons = (
            Button(self.words.resume_answers["continue"], f"{PAYLOAD_PREFIX}continue"),
            Button(self.words.resume_answers["restart"], f"{PAYLOAD_PREFIX}restart"),
        )
        return Turn(replies=[self._reply(self.words.resume, buttons)], state=paused)

    def question(self, state: dict[str, Any], intro: bool = False) -> Reply:
        """The current question with its progress line and the answer buttons."""
        step = self.current(state) or 0
        question = self.check.questions[step]
        progress = self.words.progress.replace("{n}", str(step + 1)).replace(
            "{total}", str(len(self.check.questions))
        )
        text = f"{progress}\n{self.words.questions[question.id]}"
        if intro:
            text = f"{self.words.intro}\n\n{text}"
        answers = [
            Button(self.words.answers[kind], f"{PAYLOAD_PREFIX}{kind}:{question.id}")
            for kind in ANSWERS
        ]
        buttons = (*answers, Button(self.words.answers["stop"], f"{PAYLOAD_PREFIX}stop"))
        return self._reply(text, buttons)

    def choose(
        self, state: dict[str, Any] | None, choice: str, question_id: str | None = None
    ) -> Turn:
        """Apply a button or typed answer: yes, no, unsure, stop, continue or restart.

        An answer button of another question than the open one asks the open one again.
        """
        if choice == "restart" or state is None:
            return self.start() if choice != "stop" else self.stop(None)
        if choice == "stop":
            return self.stop(state)
        resumed = {**state, "paused": False}
        step = self.current(state)
        if choice == "continue" or step is None:
            return Turn(replies=[self.question(resumed)], state=resumed)
        question = self.check.questions[step]
        if question_id is not None and question_id != question.id:
            return Turn(replies=[self.question(resumed)], state=resumed)
        answered = {**resumed, "answers": {**state["answers"], question.id: choice}}
        if self.current(answered) is None:
            return self.result(answered["answers"])
        return Turn(replies=[self.question(answered)], state=answered)

    def stop(self, state: dict[str, Any] | None) -> Turn:
        """Leave the check (kept, so it can be continued later)."""
        kept = {**state, "paused": True} if state is not None else None
        return Turn(replies=[self._reply(self.words.stopped, ())], state=kept)

    def result(self, answers: dict[str, str]) -> Turn:
        """The risk level with each red flag in a line, then the help contacts."""
        score, flags = self.check.score(answers)
        level = self.check.level(score)
        text = self.words.results[level]
        if flags:
            lines = "\n".join(f"• {self.words.flags[flag]}" for flag in flags)
            text = f"{text}\n\n{self.words.red_flags}\n{lines}"
        buttons = (Button(self.words.offer_person, ESCALATION_TOPIC),) if level == "high" else ()
        return Turn(replies=[self._reply(text, buttons)], topics=list(RESULT_TOPICS), state=None)

    def typed(self, state: dict[str, Any], text: str) -> Turn | None:
        """A typed message during an open question: an answer or "stop", else None."""
        kind = self.words.understood(text)
        return self.choose(state, kind) if kind is not None else None

    def _reply(self, text: str, buttons: tuple[Button, ...]) -> Reply:
        """A reply from the check, under the topic that started it."""
        return Reply(
            id=None, text=text, topic=self.check.topic, language=self.language, buttons=buttons
        )
