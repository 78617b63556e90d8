"""The safety path: a distress message to the answer that says `queued` with the emergency reply."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import APP_PATH, new_sender
from bot.content.model import ContentSnapshot
from bot.safety import SafetyKind, check_message

# The issue's own examples, always among the texts (the phrase list must catch them).
EXAMPLES = ("me tiraram o passaporte e não me deixam sair", "they took my passport and lock me in")


def distress_texts(snapshot: ContentSnapshot, candidates: Sequence[str]) -> list[str]:
    """The issue's examples and the candidates that content/safety's distress phrases catch."""
    caught = [
        text
        for text in dict.fromkeys([*EXAMPLES, *candidates])
        if (hit := check_message(text, snapshot.distress, snapshot.request_human)) is not None
        and hit.kind == SafetyKind.DISTRESS
    ]
    missing = [e for e in EXAMPLES if e not in caught]
    if missing:
        raise RuntimeError(f"{len(missing)} of the issue's distress examples are not caught")
    return caught


def escalated(data: Any) -> bool:
    """Whether an answer is the safety path's: status queued with an `emergency` reply."""
    return (
        isinstance(data, dict)
        and data.get("status") == "queued"
        and any(r.get("topic") == "emergency" for r in data.get("replies") or [])
    )


@dataclass
class SafetyRun:
    """Latencies of distress messages answered by the safety path, and those that were not."""

    latencies_ms: list[float] = field(default_factory=list)
    missed: int = 0


def safety_path(base_url: str, texts: Sequence[str], count: int) -> SafetyRun:
    """Send `count` distress messages, each the first message of a new person, one at a time."""
    run = SafetyRun()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for text in itertools.islice(itertools.cycle(texts), count):
            t0 = time.perf_counter()
            response = client.post(APP_PATH, json={"user_id": new_sender(), "text": text})
            ms = (time.perf_counter() - t0) * 1e3
            if response.status_code == 200 and escalated(response.json()):
                run.latencies_ms.append(ms)
            else:
                run.missed += 1
    return run
