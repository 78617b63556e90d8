"""Time for an answer-file edit to show in the web API's replies (no retrain, no restart)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import APP_PATH, new_sender
from bench.training import edit_answer

TOPIC = "blue_heart"  # a button payload: always this topic, through Rasa and our NLG
POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 30.0


def topic_reply(client: httpx.Client) -> dict[str, Any]:
    """Press the topic's button as a new person; the reply of that topic."""
    response = client.post(APP_PATH, json={"user_id": new_sender(), "payload": TOPIC})
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    for reply in data.get("replies") or []:
        if reply.get("topic") == TOPIC:
            reply["language"] = data.get("language")
            return dict(reply)
    raise RuntimeError(f"pressing {TOPIC} gave no {TOPIC} reply")


def edit_visible_seconds(base_url: str, content_dir: Path) -> float:
    """Edit the answer the stack renders, then poll until a reply carries the new text."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        language = topic_reply(client)["language"]
        marker = f"[edit {secrets.token_hex(4)}]"
        edit_answer(content_dir / "topics" / TOPIC / f"{language}.yml", marker)
        began = time.perf_counter()
        while time.perf_counter() - began < GIVE_UP_SECONDS:
            if marker in str(topic_reply(client).get("text", "")):
                return time.perf_counter() - began
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"the edit did not show within {GIVE_UP_SECONDS:.0f} s")
