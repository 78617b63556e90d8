"""What an editor sees before a person does: a topic as each channel would show it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chunks import split_text
from bot.content.model import Button, ContentProblem, Rendered
from bot.content.store import ContentStore
from bot.content.views import CHANNEL_LIMITS, whatsapp_body
from bot.guided import Guide

PREVIEW_CHANNELS = ("telegram", "whatsapp", "web")


@dataclass(frozen=True)
class ChannelView:
    """One channel's rendering: the message parts as sent and the buttons it shows."""

    channel: str
    parts: tuple[str, ...]
    characters: int
    limit: int
    buttons: tuple[Button, ...]

    @property
    def over_limit(self) -> bool:
        """Whether the message needs more than one part on this channel."""
        return self.characters > self.limit


@dataclass(frozen=True)
class TopicPreview:
    """A topic in one language as every channel shows it, with the checker's messages."""

    topic: str
    language: str
    shown_language: str
    country: str | None
    views: tuple[ChannelView, ...]
    problems: tuple[ContentProblem, ...]
    disk_has_errors: bool


def channel_view(
    store: ContentStore, topic: str, language: str, country: str | None, channel: str
) -> tuple[ChannelView, str]:
    """One channel's view of a topic, and the language it is written in.

    A topic that opens a guided check shows what a person sees: the check's first question.
    """
    snapshot = store.current()
    check = snapshot.checks.get(topic)
    if check is not None:
        guide = Guide(check, snapshot, language)
        opening = guide.question(guide.fresh(), intro=True)
        rendered = Rendered(topic, opening.language, opening.text, opening.buttons)
    else:
        rendered = store.render(topic, language, country, channel)
    limit = CHANNEL_LIMITS[channel]
    if channel == "whatsapp":
        hint = snapshot.channels.numbered_hint.get(rendered.language, "")
        body = whatsapp_body(rendered.text, rendered.buttons, hint)
        buttons: tuple[Button, ...] = ()
    else:
        body = rendered.text
        buttons = rendered.buttons
    view = ChannelView(channel, tuple(split_text(body, limit)), len(body), limit, buttons)
    return view, rendered.language


def preview(
    store: ContentStore, topic: str, language: str, country: str | None = None
) -> TopicPreview:
    """The version in force of a topic, per channel, and the problems in its files on disk.

    Raises KeyError for a topic or language the content does not have.
    """
    snapshot = store.current()
    if topic not in snapshot.topics or language not in snapshot.languages:
        raise KeyError(f"no topic {topic!r} in language {language!r}")
    views = []
    shown = language
    for channel in PREVIEW_CHANNELS:
        view, shown = channel_view(store, topic, language, country, channel)
        views.append(view)
    folder = store.root / "topics" / topic
    problems = tuple(p for p in store.problems if p.path.parent == folder or p.path == folder)
    return TopicPreview(
        topic=topic,
        language=language,
        shown_language=shown,
        country=country,
        views=tuple(views),
        problems=problems,
        disk_has_errors=any(not p.warning for p in store.problems),
    )
