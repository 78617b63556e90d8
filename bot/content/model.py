"""Immutable content types: answers, buttons, problems and a loaded snapshot."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.content.checks import GuidedCheck
    from bot.safety import PhraseMatcher


@dataclass(frozen=True)
class Button:
    """A reply button: what the person sees and the payload sent back."""

    title: str
    payload: str


@dataclass(frozen=True)
class Answer:
    """One answer file: a topic in one language, with optional per-country texts.

    Texts are stored with their `{contact:ID}` placeholders already replaced by numbers.
    """

    topic: str
    language: str
    text: str
    buttons: tuple[Button, ...]
    by_country: dict[str, str]
    path: Path
    by_channel: dict[str, str] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    words_hash: str = ""
    translated_from: str | None = None


@dataclass(frozen=True)
class Rendered:
    """The text a person will read, with the topic and language it came from."""

    topic: str
    language: str
    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class ContentProblem:
    """A problem in a content file, phrased for an editor: where, what, and the fix.

    An error keeps the whole edit out of use; a warning is shown but changes nothing.
    """

    path: Path
    line: int
    message: str
    warning: bool = False

    def shown_path(self, root: Path) -> str:
        """The file's path relative to the content root's parent (`content/...`)."""
        try:
            return str(self.path.relative_to(root.parent))
        except ValueError:
            return str(self.path)

    def format(self, root: Path) -> str:
        """Render as `file:line: message` (`file:line: warning: message` for a warning)."""
        kind = "warning: " if self.warning else ""
        return f"{self.shown_path(root)}:{self.line}: {kind}{self.message}"


@dataclass(frozen=True)
class Contact:
    """A help contact from contacts.yml, referenced by id from answers as `{contact:ID}`."""

    id: str
    number: str
    country: str
    kind: str
    name: str
    operator: str
    hours: str
    languages: tuple[str, ...]
    source: str
    checked: dt.date


@dataclass(frozen=True)
class LanguageInfo:
    """A language the bot writes: its own name, names people type, and its fallback."""

    code: str
    name: str
    names: tuple[str, ...]
    complete: bool
    fallback: str | None
    fallback_note: str = ""


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
    topics: frozenset[str] = field(default_factory=frozenset)
    engine_topics: frozenset[str] = field(default_factory=frozenset)
    contacts: dict[str, Contact] = field(default_factory=dict)
    source_language: str = "en"
    warnings: tuple[ContentProblem, ...] = ()
    checks: dict[str, GuidedCheck] = field(default_factory=dict)
    # Countries people name that we have no facts for (destination_other answers them).
    elsewhere_names: tuple[str, ...] = ()

    @functools.cached_property
    def place_names(self) -> dict[str, tuple[str, ...]]:
        """Country names plus the uncovered ones under "elsewhere", built once per snapshot."""
        return {**self.country_names, "elsewhere": self.elsewhere_names}

    def language_chain(self, language: str) -> tuple[str, ...]:
        """The language, then where its missing texts come from: its fallback, the source."""
        info = self.languages.get(language)
        chain = [language]
        if info is not None and info.fallback:
            chain.append(info.fallback)
        return tuple(dict.fromkeys([*chain, self.source_language]))
