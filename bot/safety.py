"""Distress and ask-for-a-person detection from editor-maintained phrases, before Rasa.

Phrases live in content/safety/<language>.yml. Every language's phrases are
checked on every message: a person in danger may write in any language.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.text import fold

_WORD = "[a-z0-9]"
_STAR = "*"
_WILDCARD = f"(?:{_WORD}+ ){{0,3}}"


class SafetyKind(StrEnum):
    """Why a message escalates."""

    DISTRESS = "distress"
    REQUEST = "request"


def phrase_pattern(phrase: str) -> str:
    """Turn an editor phrase (`*` = up to three words, `word*` = any ending) into a regex."""
    pieces: list[str] = []
    for token in phrase.split():
        if token == _STAR:
            pieces.append(_WILDCARD)
            continue
        stem = fold(token.rstrip(_STAR))
        if not stem:
            continue
        tail = f"{_WORD}*" if token.endswith(_STAR) else ""
        pieces.extend(
            f"{re.escape(word)}{tail if i == len(stem.split()) - 1 else ''} "
            for i, word in enumerate(stem.split())
        )
    return " " + "".join(pieces)


def has_words(phrase: str) -> bool:
    """Whether a phrase has at least one real word (not only wildcards)."""
    words = (token for token in phrase.split() if token != _STAR)
    return any(fold(token.rstrip(_STAR)) for token in words)


# An "alone" phrase fires only in a short message: the phrase and at most this
# many other words (none for a one-word phrase), not asked as a question
# ("help me!" yes, "can you help me find a visa?" no).
ALONE_EXTRA_WORDS = 2


@functools.lru_cache(maxsize=16384)
def _phrase_regex(phrase: str) -> re.Pattern[str]:
    """One phrase's compiled regex, kept across content reloads (phrases rarely change)."""
    return re.compile(phrase_pattern(phrase))


@functools.lru_cache(maxsize=32)
def _joined_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Several phrase regexes as one alternation, kept across content reloads."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))


class _PhraseSet:
    """Phrases compiled into one regex, plus each on its own to name the match."""

    def __init__(self, phrases: list[str]) -> None:
        # Longest first, so a cry is matched whole ("help me" before "help").
        self.phrases = sorted((p for p in phrases if has_words(p)), key=len, reverse=True)
        # Compiling ~4,000 regexes took half of a content load: each is compiled once.
        self.patterns = [_phrase_regex(p) for p in self.phrases]
        self.regex = (
            _joined_regex(tuple(p.pattern for p in self.patterns)) if self.patterns else None
        )

    def search(self, padded: str) -> re.Match[str] | None:
        """The first match in space-padded folded text."""
        return self.regex.search(padded) if self.regex is not None else None

    def name(self, padded: str) -> str:
        """Which phrase matched (call only after `search` found something)."""
        for phrase, pattern in zip(self.phrases, self.patterns, strict=True):
            if pattern.search(padded):
                return phrase
        return ""  # pragma: no cover - the joined regex matched, so one part does


class PhraseMatcher:
    """Matches folded text against phrases anywhere, and "alone" phrases in short messages."""

    def __init__(self, phrases: list[str], alone: list[str] | None = None) -> None:
        self._anywhere = _PhraseSet(phrases)
        self._alone = _PhraseSet(alone or [])

    def __len__(self) -> int:
        """Number of usable phrases."""
        return len(self._anywhere.phrases) + len(self._alone.phrases)

    def search(self, text: str) -> str | None:
        """Return the phrase found in the text, or None."""
        folded = fold(text)
        padded = f" {folded} "
        if self._anywhere.search(padded) is not None:
            return self._anywhere.name(padded)
        if self._alone.search(padded) is None or text.rstrip().endswith("?"):
            return None
        first = self._alone.name(padded)
        # Words covered by short cries ("help me please, im scared" is two cries and
        # one other word); the rest must be few for the message to count as a cry.
        covered, longest, remaining = 0, 0, padded
        while (match := self._alone.search(remaining)) is not None:
            words = len(match.group().split())
            covered, longest = covered + words, max(longest, words)
            remaining = f"{remaining[: match.start()]} {remaining[match.end() :]}"
        # A one-word cry ("help", "socorro") must stand alone: "help numbers" and
        # "emergency contacts" are questions, "HELP" and "help help" are cries.
        allowed = ALONE_EXTRA_WORDS if longest > 1 else 0
        extra = len(folded.split()) - covered
        return first if extra <= allowed else None


@dataclass(frozen=True)
class SafetyHit:
    """A message matched a safety phrase of this kind."""

    kind: SafetyKind
    phrase: str


def check_message(text: str, distress: PhraseMatcher, request: PhraseMatcher) -> SafetyHit | None:
    """Check a message for distress first, then for a request for a person."""
    phrase = distress.search(text)
    if phrase is not None:
        return SafetyHit(SafetyKind.DISTRESS, phrase)
    phrase = request.search(text)
    if phrase is not None:
        return SafetyHit(SafetyKind.REQUEST, phrase)
    return None
