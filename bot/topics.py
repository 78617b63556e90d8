"""Topic ids (stable, from the contracts) and how Rasa intents map onto them."""

from __future__ import annotations

from typing import Final

# Topics that Rasa can predict directly: the intent name equals the topic id.
INTENT_TOPICS: Final[tuple[str, ...]] = (
    "welcome",
    "language",
    "privacy",
    "delete_data",
    "safe_migration",
    "documents",
    "job_offer_check",
    "warning_signs",
    "trafficking_info",
    "rights",
    "help_contacts",
    "destination_info",
    "blue_heart",
    "goodbye",
)

# Intents whose answer is a differently named topic.
INTENT_TO_TOPIC: Final[dict[str, str]] = {
    **{topic: topic for topic in INTENT_TOPICS},
    "distress": "emergency",
    "request_human": "human_handoff",
    "out_of_scope": "fallback",
    "nlu_fallback": "fallback",
}

# Replies the core sends on its own (never predicted by Rasa).
CORE_TOPICS: Final[tuple[str, ...]] = (
    "human_handoff",
    "emergency",
    "fallback",
    "privacy_notice",
    "language_set",
    "delete_done",
    "delete_cancelled",
    "waiting",
    "unavailable",
    "text_only",
    "group_chat",
    "handoff_resolved",
    "unclaimed",
    "destination_other",
)

# Every topic that must exist in every complete language.
ALL_TOPICS: Final[tuple[str, ...]] = INTENT_TOPICS + tuple(
    t for t in CORE_TOPICS if t not in INTENT_TOPICS
)

# Topics whose reply starts a handoff, and the escalation reason each one means.
ESCALATING_TOPICS: Final[dict[str, str]] = {"emergency": "distress", "human_handoff": "request"}


def topic_for_response(response_name: str, topics: frozenset[str]) -> str | None:
    """Map a Rasa response name such as `utter_warning_signs` to one of the known topics."""
    topic = response_name.removeprefix("utter_")
    return topic if topic in topics else None
