"""The console's content pages: translation status, checker messages and a topic preview.

Read-only, and open to every console role; editors see nothing else. The text comes from
the running app's ContentStore, which each page asks to look for changed files first, so
an edit shows on the next page load; while the files on disk have errors the last good
version stays in force.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.content.model import ContentProblem, ContentSnapshot
from bot.content.preview import TopicPreview, preview
from bot.content.store import ContentNotLoaded, ContentStore
from bot.content.translations import Cell, Status, translation_table
from bot.staff_sessions import Session

Render = Callable[..., HTMLResponse]
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "web": "Web chat"}


@dataclass(frozen=True)
class Message:
    """One checker message as the pages show it."""

    text: str
    warning: bool


def content_store(request: Request) -> ContentStore:
    """The running app's content (the one the bot answers from)."""
    store = request.app.state.components.content
    if not isinstance(store, ContentStore):
        raise TypeError("the app has no content store")
    return store


def messages(store: ContentStore, problems: Iterable[ContentProblem]) -> list[Message]:
    """Checker messages as `file:line: message`, errors first, then warnings."""
    ordered = sorted(problems, key=lambda p: (p.warning, p.shown_path(store.root), p.line))
    return [Message(p.format(store.root), p.warning) for p in ordered]


def language_name(snapshot: ContentSnapshot, code: str) -> str:
    """A language's own name (`Português`), or its code if the content does not list it."""
    info = snapshot.languages.get(code)
    return info.name if info else code


def cell_label(cell: Cell | None, snapshot: ContentSnapshot) -> str:
    """What a status cell says, e.g. `outdated` or `fallback: shown in English`."""
    if cell is None:
        return "unknown"
    if cell.status is Status.FALLBACK and cell.shown_in:
        return f"fallback: shown in {language_name(snapshot, cell.shown_in)}"
    return str(cell.status)


def preview_link(topic: str, language: str, country: str | None = None) -> str:
    """The preview page's address."""
    link = f"/console/content/{quote(topic, safe='')}/{quote(language, safe='')}"
    return f"{link}?country={quote(country, safe='')}" if country else link


def preview_in_force(
    store: ContentStore, topic: str, language: str, country: str | None
) -> tuple[TopicPreview, ContentSnapshot]:
    """The preview and the snapshot it was made from; KeyError says what is unknown."""
    snapshot = store.latest()
    if country is not None and country not in snapshot.country_names:
        raise KeyError(f"There is no country {country!r} in countries.yml.")
    if topic not in snapshot.topics or language not in snapshot.languages:
        raise KeyError(f"There is no topic {topic!r} in language {language!r}.")
    # preview() takes the store's snapshot again: almost always this one, but a reload may
    # come in between, so the page looks things up in `snapshot` without assuming.
    return preview(store, topic, language, country), snapshot


class ContentPages:
    """The content pages, rendered with the console's templates and headers."""

    def __init__(self, render: Render, headers: Mapping[str, str]) -> None:
        self._render = render
        self._headers = dict(headers)

    async def status(self, request: Request, session: Session) -> Response:
        """Topics × languages, each cell linking to its preview, and the checker's messages."""
        store = content_store(request)
        try:
            snapshot = await asyncio.to_thread(store.latest)
        except ContentNotLoaded:
            return self._not_loaded(store, session, 200)
        found = store.problems
        table = translation_table(snapshot)
        rows = [
            (
                topic,
                [
                    (code, cells[code].status, cell_label(cells[code], snapshot))
                    for code in snapshot.languages
                ],
            )
            for topic, cells in table.items()
        ]
        return self._render(
            "content.html",
            staff=session,
            loaded=True,
            source_name=language_name(snapshot, snapshot.source_language),
            languages=snapshot.languages,
            rows=rows,
            messages=messages(store, found),
            disk_has_errors=any(not p.warning for p in found),
            link=preview_link,
        )

    async def show(self, request: Request, session: Session) -> Response:
        """The switch form's target: on to the preview of the chosen topic and language."""
        params = request.query_params
        topic, language = params.get("topic", ""), params.get("language", "")
        if not topic or not language:
            return RedirectResponse("/console/content", 303, headers=self._headers)
        link = preview_link(topic, language, params.get("country") or None)
        return RedirectResponse(link, 303, headers=self._headers)

    async def preview(self, request: Request, session: Session) -> Response:
        """One topic in one language as Telegram, WhatsApp and the web chat show it."""
        store = content_store(request)
        topic = request.path_params["topic"]
        language = request.path_params["language"]
        country = request.query_params.get("country") or None
        try:
            shown, snapshot = await asyncio.to_thread(
                preview_in_force, store, topic, language, country
            )
        except ContentNotLoaded:
            return self._not_loaded(store, session, 503)
        except KeyError as exc:
            return self._render("not_found.html", 404, staff=session, reason=exc.args[0])
        answer = snapshot.answers.get((topic, shown.shown_language))
        cell = translation_table(snapshot).get(topic, {}).get(language)
        return self._render(
            "content_preview.html",
            staff=session,
            p=shown,
            channel_names=CHANNEL_NAMES,
            language_name=language_name(snapshot, language),
            shown_name=language_name(snapshot, shown.shown_language),
            translation=cell_label(cell, snapshot),
            translation_class=str(cell.status) if cell else "",
            topics=sorted(snapshot.topics),
            languages=snapshot.languages,
            countries=sorted(snapshot.country_names),
            own_text=frozenset(answer.by_country) if answer else frozenset(),
            messages=messages(store, shown.problems),
            link=preview_link,
        )

    def _not_loaded(self, store: ContentStore, session: Session, status: int) -> HTMLResponse:
        """No valid content was ever loaded: only the checker's messages can be shown."""
        found = store.problems
        return self._render(
            "content.html",
            status,
            staff=session,
            loaded=False,
            languages={},
            rows=[],
            messages=messages(store, found),
            disk_has_errors=True,
            link=preview_link,
        )
