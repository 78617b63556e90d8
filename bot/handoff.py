"""Conversation status and the named transitions between them (the handoff state machine).

```mermaid
stateDiagram-v2
    [*] --> bot
    bot --> queued: escalate
    queued --> queued: escalate (a request becomes distress)
    human --> human: escalate (danger reported while with a caseworker)
    queued --> human: claim
    human --> human: transfer
    human --> bot: resolve
    queued --> bot: resolve
    bot --> closed: close
    queued --> closed: close
    human --> closed: close
    closed --> bot: reopen
    closed --> queued: escalate
```
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Status(StrEnum):
    """Who is answering the conversation."""

    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    CLOSED = "closed"


class Escalation(StrEnum):
    """Why a conversation went to a person."""

    DISTRESS = "distress"
    REQUEST = "request"


class Transition(StrEnum):
    """Named events that move a conversation between statuses."""

    ESCALATE = "escalate"
    CLAIM = "claim"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


# The only allowed moves: transition -> {from status: to status}.
TRANSITIONS: Final[dict[Transition, dict[Status, Status]]] = {
    Transition.ESCALATE: {
        Status.BOT: Status.QUEUED,
        Status.QUEUED: Status.QUEUED,
        Status.HUMAN: Status.HUMAN,
        Status.CLOSED: Status.QUEUED,
    },
    Transition.CLAIM: {Status.QUEUED: Status.HUMAN},
    Transition.TRANSFER: {Status.HUMAN: Status.HUMAN},
    Transition.RESOLVE: {Status.HUMAN: Status.BOT, Status.QUEUED: Status.BOT},
    Transition.CLOSE: {
        Status.BOT: Status.CLOSED,
        Status.QUEUED: Status.CLOSED,
        Status.HUMAN: Status.CLOSED,
    },
    Transition.REOPEN: {Status.CLOSED: Status.BOT},
}

# Statuses in which the person's messages go to a caseworker, not to Rasa.
WITH_CASEWORKER: Final[frozenset[Status]] = frozenset({Status.QUEUED, Status.HUMAN})


class InvalidTransition(ValueError):
    """A transition was asked for from a status that does not allow it."""


def next_status(current: Status, transition: Transition) -> Status:
    """The status after a transition, or InvalidTransition if it is not allowed."""
    allowed = TRANSITIONS[transition]
    if current not in allowed:
        raise InvalidTransition(f"cannot {transition.value} a conversation that is {current.value}")
    return allowed[current]


def merge_escalation(current: Escalation | None, new: Escalation) -> Escalation:
    """Distress outranks a request: a queued request that turns into distress is upgraded."""
    if Escalation.DISTRESS in (current, new):
        return Escalation.DISTRESS
    return new
