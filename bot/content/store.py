"""The live content: reloads on edit, keeps the last good version when an edit is broken.

In the gateway a background round (`look_for_edits`, every half second) stats the files
and reloads them in a worker thread, so a request never waits on the disk or a reload; a
store nobody watches (a command, a test) looks for edits itself when asked for content.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

from bot.content.loader import content_fingerprint, load_content
from bot.content.model import ContentProblem, ContentSnapshot, Rendered

log = logging.getLogger(__name__)


class ContentNotLoaded(RuntimeError):
    """No valid content has ever been loaded."""


class ContentStore:
    """Holds the current content snapshot and swaps it when the files change."""

    def __init__(self, root: Path, check_interval: float = 0.5) -> None:
        self.root = root
        self._interval = check_interval
        self._snapshot: ContentSnapshot | None = None
        self._problems: list[ContentProblem] = []
        self._seen_fingerprint = ""
        self._checked_at = 0.0
        self._lock = threading.RLock()
        self._watched = False
        self.reload()

    @property
    def interval(self) -> float:
        """Seconds between two looks for edits."""
        return self._interval

    @property
    def loaded(self) -> bool:
        """Whether some valid content is being served."""
        return self._snapshot is not None

    @property
    def problems(self) -> list[ContentProblem]:
        """Problems found by the last load attempt (empty when it was good)."""
        return list(self._problems)

    def reload(self) -> bool:
        """Load content/ now; keep the last good snapshot if the new one has problems."""
        with self._lock:
            fingerprint = content_fingerprint(self.root)
            snapshot, problems = load_content(self.root)
            self._seen_fingerprint = fingerprint
            self._checked_at = time.monotonic()
            self._problems = problems
            if snapshot is None:
                for problem in problems:
                    log.error(
                        "content problem, keeping the last good content: %s",
                        problem.format(self.root),
                    )
                return False
            if self._snapshot is not None:
                log.info("content reloaded (%d answers)", len(snapshot.answers))
            if snapshot.warnings:
                log.warning(
                    "content has %d warning(s); run make content-check to see them",
                    len(snapshot.warnings),
                )
            self._snapshot = snapshot
            return True

    def refresh(self) -> bool:
        """Reload if a file changed since the last look; whether it tried."""
        with self._lock:
            self._checked_at = time.monotonic()
            if content_fingerprint(self.root) == self._seen_fingerprint:
                return False
            self.reload()
            return True

    def latest(self) -> ContentSnapshot:
        """The files as they are now, for a page an editor reloads (blocking: use a thread)."""
        self.refresh()
        return self.current()

    async def look_for_edits(self) -> None:
        """One look for edits in a worker thread; from then on `current()` never reads files."""
        self._watched = True
        await asyncio.to_thread(self.refresh)

    def current(self) -> ContentSnapshot:
        """The snapshot to use now (an unwatched store first reloads if a file changed)."""
        if not self._watched and time.monotonic() - self._checked_at >= self._interval:
            self.refresh()
        if self._snapshot is None:
            raise ContentNotLoaded("content/ has problems and nothing valid was loaded")
        return self._snapshot

    def render(
        self, topic: str, language: str, country: str | None = None, channel: str | None = None
    ) -> Rendered:
        """The answer for a topic in a language, or in its fallback language saying so.

        A channel's own text (`channels:`) wins over a country's, which wins over the default.
        A partial language's missing topic is shown in its fallback language after the
        language's `fallback_note` (written in the language the person chose).
        """
        snapshot = self.current()
        found = [
            (code, snapshot.answers[(topic, code)])
            for code in snapshot.language_chain(language)
            if (topic, code) in snapshot.answers
        ]
        if not found:
            raise KeyError(f"no answer for topic {topic!r}")
        chosen, answer = found[0]
        text = answer.by_country.get(country, answer.text) if country else answer.text
        if channel is not None:
            text = answer.by_channel.get(channel, text)
        requested = snapshot.languages.get(language)
        if chosen != language and requested is not None and requested.fallback_note:
            text = f"{requested.fallback_note}\n\n{text}"
        return Rendered(topic=topic, language=chosen, text=text, buttons=answer.buttons)
