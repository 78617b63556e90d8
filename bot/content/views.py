"""How an answer looks on each channel: WhatsApp's numbered options and every channel's limit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.content.model import Button

# The most characters one message may have: Telegram's Bot API and Twilio's WhatsApp API.
CHANNEL_LIMITS: dict[str, int] = {"telegram": 4096, "whatsapp": 1600, "web": 4096}
# Longer than this is hard to read on a phone: the checker warns (it is not an error).
READABLE_CHARS = 1000


def whatsapp_body(text: str, buttons: Sequence[Button], hint: str) -> str:
    """The text WhatsApp shows: the buttons as numbered options under a short hint."""
    if not buttons:
        return text
    options = "\n".join(f"{n}. {b.title}" for n, b in enumerate(buttons, start=1))
    return f"{text}\n\n{hint}\n{options}" if hint else f"{text}\n\n{options}"
