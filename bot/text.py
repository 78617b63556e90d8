"""Text normalisation shared by safety phrases, country and language-name matching."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase, strip accents and turn every run of non-letters into one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped).strip()


def letter_count(text: str) -> int:
    """Count the letters in a text (any script)."""
    return sum(1 for ch in text if ch.isalpha())
