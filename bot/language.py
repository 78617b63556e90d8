"""Which language to answer in: offline detection plus a sticky conversation language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lingua import Language, LanguageDetectorBuilder

from bot.text import fold, letter_count

_LINGUA: Final[dict[str, Language]] = {
    "en": Language.ENGLISH,
    "pt": Language.PORTUGUESE,
    "es": Language.SPANISH,
}

# Below these, a message is too short to say anything about its language.
MIN_LETTERS_FIRST: Final = 2
MIN_LETTERS_SWITCH: Final = 12
MIN_WORDS_SWITCH: Final = 3
# How sure detection must be to leave the conversation's current language.
SWITCH_CONFIDENCE: Final = 0.80


@dataclass(frozen=True)
class Guess:
    """A detected language and how confident the detector is (0–1)."""

    language: str | None
    confidence: float


class LanguageDetector:
    """Offline language detection restricted to the languages we write."""

    def __init__(self, languages: tuple[str, ...] = ("en", "pt", "es")) -> None:
        self._codes = {_LINGUA[code]: code for code in languages}
        self._detector = (
            LanguageDetectorBuilder.from_languages(*self._codes)
            .with_preloaded_language_models()
            .build()
        )

    def guess(self, text: str) -> Guess:
        """The most likely language of a text, with its confidence."""
        if letter_count(text) < MIN_LETTERS_FIRST:
            return Guess(None, 0.0)
        values = self._detector.compute_language_confidence_values(text)
        if not values:
            return Guess(None, 0.0)
        top = values[0]
        return Guess(self._codes.get(top.language), float(top.value))

    def choose(self, text: str, current: str | None, default: str) -> str:
        """The language to answer in: sticky unless the message clearly is another one."""
        guess = self.guess(text)
        if current is None:
            return guess.language or default
        if guess.language is None or guess.language == current:
            return current
        long_enough = (
            letter_count(text) >= MIN_LETTERS_SWITCH and len(fold(text).split()) >= MIN_WORDS_SWITCH
        )
        if long_enough and guess.confidence >= SWITCH_CONFIDENCE:
            return guess.language
        return current


def named_language(text: str, names: dict[str, tuple[str, ...]]) -> str | None:
    """The language a message names ("em português", "in english"), if exactly one."""
    words = f" {fold(text)} "
    found = {
        code
        for code, code_names in names.items()
        if any(f" {fold(name)} " in words for name in code_names if fold(name))
    }
    return found.pop() if len(found) == 1 else None
