"""Immutable content types: answers, buttons, problems and a loaded snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.safety import PhraseMatcher


@dataclass(frozen=True)
class Button:
    """A reply button: what the person sees and the payload sent back."""

    title: str
    payload: str


@dataclass(frozen=True)
class Answer:
    """One answer file: a topic in one language, with optional per-country texts."""

    topic: str
    language: str
    text: str
    buttons: tuple[Button, ...]
    by_country: dict[str, str]
    path: Path
    by_channel: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """The text a person will read, with the topic and language it came from."""

    topic: str
    language: str
    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class ContentProblem:
    """A problem in a content file, phrased for an editor: where, what, and the fix."""

    path: Path
    line: int
    message: str

    def format(self, root: Path) -> str:
        """Render as `file:line: message` relative to the content root's parent."""
        try:
            shown = self.path.relative_to(root.parent)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.message}"


@dataclass(frozen=True)
class LanguageInfo:
    """A language the bot writes: its own name, names people type, and its fallback."""

    code: str
    name: str
    names: tuple[str, ...]
    complete: bool
    fallback: str | None


@dataclass(frozen=True)
class TelegramProfile:
    """The bot's public face on Telegram in one language (content/channels.yml)."""

    name: str
    short_description: str
    description: str
    commands: dict[str, str]


@dataclass(frozen=True)
class ChannelWords:
    """Per-channel words that are not answers: Telegram profiles, WhatsApp's option hint."""

    telegram: dict[str, TelegramProfile] = field(default_factory=dict)
    numbered_hint: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CannedReply:
    """A reply caseworkers can send from the console, in every complete language."""

    id: str
    title: str
    texts: dict[str, str]


@dataclass(frozen=True)
class ContentSnapshot:
    """Everything loaded from content/ at one moment; replaced whole on reload."""

    answers: dict[tuple[str, str], Answer]
    languages: dict[str, LanguageInfo]
    country_names: dict[str, tuple[str, ...]]
    distress: PhraseMatcher
    request_human: PhraseMatcher
    commands: dict[str, str]
    fingerprint: str = field(default="")
    channels: ChannelWords = field(default_factory=ChannelWords)
    canned: dict[str, CannedReply] = field(default_factory=dict)
