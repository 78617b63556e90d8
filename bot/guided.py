"""Guided checks in a conversation: ask the questions one by one, score, and explain the result.

The state lives in `conversations.guided_check` as
`{"check": "job_offer", "step": 3, "answers": {"fee": "yes", ...}, "paused": false}`.
A person answers with buttons (`check:yes|no|unsure|stop`), WhatsApp numbers (mapped to
those buttons by the core) or typed words from the check's word lists. Anything else pauses
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


def is_check_payload(payload: str | None) -> bool:
    """Whether a button payload belongs to a guided check."""
    return (
        payload is not None
        and payload.removeprefix(PAYLOAD_PREFIX) in CHOICES
        and (payload.startswith(PAYLOAD_PREFIX))
    )


def active_check(state: dict[str, Any] | None, snapshot: ContentSnapshot) -> GuidedCheck | None:
    """The check a stored state belongs to, if it still exists and the state still fits it."""
    if not isinstance(state, dict):
        return None
    for check in snapshot.checks.values():
        if check.id == state.get("check"):
            step = state.get("step")
            answers = state.get("answers")
            fits = isinstance(step, int) and 0 <= step < len(check.questions)
            return check if fits and isinstance(answers, dict) else None
    return None


def words_for(
    check: GuidedCheck, language: str, snapshot: ContentSnapshot
) -> tuple[CheckWords, str]:
    """The check's words in a language, or in its fallback language; and that language."""
    chosen = language
    seen: set[str] = set()
    while chosen not in check.words:
        seen.add(chosen)
        info = snapshot.languages.get(chosen)
        chosen = info.fallback if info and info.fallback else snapshot.source_language
        if chosen in seen:
            break
    return check.words[chosen], chosen


class Guide:
    """Runs one check for one conversation in one language."""

    def __init__(self, check: GuidedCheck, snapshot: ContentSnapshot, language: str) -> None:
        self.check = check
        self.words, self.language = words_for(check, language, snapshot)

    def fresh(self) -> dict[str, Any]:
        """A new check's state: first question, nothing answered."""
        return {"check": self.check.id, "step": 0, "answers": {}, "paused": False}

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
        step = int(state["step"])
        question = self.check.questions[step]
        progress = self.words.progress.replace("{n}", str(step + 1)).replace(
            "{total}", str(len(self.check.questions))
        )
        text = f"{progress}\n{self.words.questions[question.id]}"
        if intro:
            text = f"{self.words.intro}\n\n{text}"
        buttons = tuple(
            Button(self.words.answers[kind], f"{PAYLOAD_PREFIX}{kind}")
            for kind in (*ANSWERS, "stop")
        )
        return self._reply(text, buttons)

    def choose(self, state: dict[str, Any] | None, choice: str) -> Turn:
        """Apply a button or typed answer: yes, no, unsure, stop, continue or restart."""
        if choice == "restart" or state is None:
            return self.start() if choice != "stop" else self.stop(None)
        if choice == "stop":
            return self.stop(state)
        if choice == "continue":
            resumed = {**state, "paused": False}
            return Turn(replies=[self.question(resumed)], state=resumed)
        step = int(state["step"])
        question = self.check.questions[step]
        answers = {**state["answers"], question.id: choice}
        if step + 1 < len(self.check.questions):
            following = {**state, "step": step + 1, "answers": answers, "paused": False}
            return Turn(replies=[self.question(following)], state=following)
        return self.result(answers)

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
