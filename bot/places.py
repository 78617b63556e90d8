"""Which country a message mentions, from the names editors keep in content/countries.yml."""

from __future__ import annotations

from bot.text import fold

# "from Mozambique", "de México": where someone comes from ranks below where they are or go.
ORIGIN_WORDS = frozenset({"from", "de", "do", "da", "dos", "das", "del"})


def mentioned_country(text: str, names: dict[str, tuple[str, ...]]) -> str | None:
    """The country named in a text, or None.

    With several countries named, one not introduced as an origin ("from", "de") wins over
    one that is; among equals, the longest name wins.
    """
    padded = f" {fold(text)} "
    best: tuple[int, int, str] | None = None
    for code, code_names in names.items():
        for name in code_names:
            folded = fold(name)
            at = padded.find(f" {folded} ") if folded else -1
            if at < 0:
                continue
            before = padded[:at].split()
            rank = (0 if before and before[-1] in ORIGIN_WORDS else 1, len(folded), code)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best else None
