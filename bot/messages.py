"""The neutral message types every channel adapter speaks with the core."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from bot.content.model import Button

# The most a person can send in one message on any channel (all of it is stored).
MAX_TEXT_LENGTH = 65_536
MAX_USER_ID_LENGTH = 128
MAX_PAYLOAD_LENGTH = 64
MAX_PROVIDER_ID_LENGTH = 128
# Kinds of message that carry no text we can read; their content is never stored.
MEDIA_KINDS = frozenset(
    {"voice", "audio", "photo", "video", "document", "sticker", "location", "contact", "other"}
)


class InboundError(ValueError):
    """An inbound message is malformed; the text says what is wrong."""


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Drop NUL and control characters; replace halves of emoji split by a client."""
    text = _SURROGATES.sub("\ufffd", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


@dataclass(frozen=True)
class InboundMessage:
    """What a person sent, on any channel: text typed, a button's payload, or only media.

    `provider_id` is the provider's delivery id (Telegram update, Twilio MessageSid):
    a message delivered twice is handled once. `group` marks a message from a group
    chat (answered with a notice, never stored). `language_hint` is the language the
    person's app is set to, used only when the text says nothing. `country_hint` is the
    country of the person's phone number (WhatsApp), used until they name a country.
    """

    channel: str
    channel_user_id: str
    text: str | None = None
    payload: str | None = None
    media: str | None = None
    provider_id: str | None = None
    provider_message_id: str | None = None
    language_hint: str | None = None
    country_hint: str | None = None
    group: bool = False

    def __post_init__(self) -> None:
        """Clean what no database or detector can hold; refuse what the core cannot handle."""
        for name in ("channel_user_id", "text", "payload", "media", "provider_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                # Adapters parse provider JSON leniently (PTB keeps a list as a button's data).
                raise InboundError(f"{name} must be text")
        if self.text is not None:
            object.__setattr__(self, "text", clean_text(self.text))
        if not self.channel_user_id or len(self.channel_user_id) > MAX_USER_ID_LENGTH:
            raise InboundError(f"user_id must be 1-{MAX_USER_ID_LENGTH} characters")
        if self.media is not None and self.media not in MEDIA_KINDS:
            raise InboundError(f"unknown media kind {self.media!r}")
        if self.text is not None and self.payload is not None:
            raise InboundError("send exactly one of text or payload")
        if self.text is None and self.payload is None and self.media is None:
            raise InboundError("send exactly one of text or payload")
        if self.provider_id is not None and not (
            0 < len(self.provider_id) <= MAX_PROVIDER_ID_LENGTH
        ):
            raise InboundError(f"provider id must be 1-{MAX_PROVIDER_ID_LENGTH} characters")
        if self.text is not None:
            if not self.text.strip():
                raise InboundError("text is empty")
            if len(self.text) > MAX_TEXT_LENGTH:
                raise InboundError(f"text is longer than {MAX_TEXT_LENGTH} characters")
        if self.payload is not None and not (0 < len(self.payload) <= MAX_PAYLOAD_LENGTH):
            raise InboundError(f"payload must be 1-{MAX_PAYLOAD_LENGTH} characters")


@dataclass(frozen=True)
class Reply:
    """A message sent to the person, as stored (id) and as channels show it."""

    id: int | None
    text: str
    topic: str | None
    language: str
    buttons: tuple[Button, ...] = ()
    author: str = "bot"
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What the core did with one inbound message."""

    conversation_id: str
    status: str
    escalation: str | None
    language: str
    replies: list[Reply] = field(default_factory=list)
    # True when this was a redelivery of a message already handled: nothing to send.
    duplicate: bool = False
    # After an erasure: provider ids of the chat's messages and when each was sent,
    # so a channel that can delete them on the person's phone may do so.
    erased_messages: tuple[tuple[str, dt.datetime], ...] = ()
    # The replies are not stored, so not queued (a group notice, an erasure's
    # confirmation): the channel sends them itself. Stored replies go via the outbox.
    unsaved: bool = False
