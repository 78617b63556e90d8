"""Which language to answer in: offline detection plus a sticky conversation language.

Two offline detectors vote: lingua (general language models, restricted to our
languages) and a small naive Bayes model of character n-grams learned from the
way people write to this bot (the NLU examples: no accents, "vc", "q", "xq").
On the team's evaluation set the vote gets the language of over 99% of first
messages right in each language, where lingua alone gets 89% of the Portuguese
ones (see README, "Language").
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml
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


_NON_LETTERS = re.compile(r"[\W\d_]+")


def _features(text: str) -> list[str]:
    """Character 1-4-grams and whole words of a lowercased text."""
    padded = f" {_NON_LETTERS.sub(' ', text.casefold()).strip()} "
    grams = [padded[i : i + n] for n in (1, 2, 3, 4) for i in range(len(padded) - n + 1)]
    return grams + ["w:" + word for word in padded.split()]


class ChatStyleModel:
    """Naive Bayes over character n-grams, learned from example messages per language."""

    def __init__(self, samples: dict[str, list[str]]) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._totals: dict[str, int] = {}
        vocabulary: set[str] = set()
        for language, texts in samples.items():
            counts: Counter[str] = Counter()
            for text in texts:
                counts.update(_features(text))
            self._counts[language] = counts
            self._totals[language] = sum(counts.values())
            vocabulary.update(counts)
        self._vocabulary_size = max(len(vocabulary), 1)

    def posterior(self, text: str) -> dict[str, float]:
        """Probability of each language for a text (equal priors)."""
        features = _features(text)
        logs: dict[str, float] = {}
        for language, counts in self._counts.items():
            denominator = self._totals[language] + 0.5 * self._vocabulary_size
            logs[language] = sum(math.log((counts[f] + 0.5) / denominator) for f in features)
        if not logs:
            return {}
        top = max(logs.values())
        weights = {language: math.exp(value - top) for language, value in logs.items()}
        total = sum(weights.values())
        return {language: weight / total for language, weight in weights.items()}


def load_chat_samples(nlu_dir: Path) -> dict[str, list[str]]:
    """Example messages per language from Rasa's NLU files (`<language>.yml`)."""
    samples: dict[str, list[str]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        texts = [
            line.strip()[2:]
            for block in data.get("nlu") or []
            for line in str(block.get("examples", "")).splitlines()
            if line.strip().startswith("- ")
        ]
        if texts:
            samples[path.stem] = texts
    return samples


class LanguageDetector:
    """Offline language detection restricted to the languages we write."""

    def __init__(
        self,
        languages: tuple[str, ...] = ("en", "pt", "es"),
        samples: dict[str, list[str]] | None = None,
    ) -> None:
        self._codes = {_LINGUA[code]: code for code in languages}
        self._detector = (
            LanguageDetectorBuilder.from_languages(*self._codes)
            .with_preloaded_language_models()
            .with_low_accuracy_mode()  # trigram models only: 13 MB instead of 98 MB
            .build()
        )
        usable = {k: v for k, v in (samples or {}).items() if k in languages}
        self._style = ChatStyleModel(usable) if len(usable) == len(languages) else None

    def guess(self, text: str) -> Guess:
        """The most likely language of a text, with its confidence (0–1)."""
        if letter_count(text) < MIN_LETTERS_FIRST:
            return Guess(None, 0.0)
        values = {
            self._codes[v.language]: float(v.value)
            for v in self._detector.compute_language_confidence_values(text)
            if v.language in self._codes
        }
        if not values:
            return Guess(None, 0.0)
        if self._style is None:
            best = max(values, key=values.__getitem__)
            return Guess(best, values[best])
        style = self._style.posterior(text)
        # Geometric mean of the two detectors' probabilities, renormalised.
        votes = {
            code: math.sqrt(max(style.get(code, 0.0), 1e-9) * max(values.get(code, 0.0), 1e-3))
            for code in self._codes.values()
        }
        total = sum(votes.values())
        best = max(votes, key=votes.__getitem__)
        return Guess(best, votes[best] / total if total else 0.0)

    def choose(self, text: str, current: str | None, default: str) -> str:
        """The language to answer in: sticky unless the message clearly is another one."""
        guess = self.guess(text[:2000])  # the start of a long message tells as much
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


# Words that turn "I speak X" into "I don't speak X" when they come just before.
_NEGATIONS: Final = frozenset({"no", "not", "nao", "n", "dont", "t", "never", "nunca", "ni", "nem"})


def named_language(text: str, names: dict[str, tuple[str, ...]]) -> str | None:
    """The language a message asks for ("em português", "in english"), if exactly one.

    A name after a negation ("no hablo inglés", "não falo inglês") is not a request.
    """
    words = fold(text).split()
    found: set[str] = set()
    for code, code_names in names.items():
        for name in code_names:
            name_words = fold(name).split()
            size = len(name_words)
            for start in range(len(words) - size + 1):
                if words[start : start + size] != name_words:
                    continue
                if not _NEGATIONS.intersection(words[max(0, start - 3) : start]):
                    found.add(code)
    return found.pop() if len(found) == 1 else None


@functools.cache
def detector_for(nlu_dir: Path) -> LanguageDetector:
    """One detector per process (loading lingua's models takes about a second)."""
    return LanguageDetector(samples=load_chat_samples(nlu_dir))
