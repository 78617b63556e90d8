"""Which country a message mentions, from the names editors keep in content/countries.yml."""

from __future__ import annotations

from bot.text import fold


def mentioned_country(text: str, names: dict[str, tuple[str, ...]]) -> str | None:
    """The country named in a text (the longest name wins), or None."""
    padded = f" {fold(text)} "
    best: tuple[int, str] | None = None
    for code, code_names in names.items():
        for name in code_names:
            folded = fold(name)
            if folded and f" {folded} " in padded and (best is None or len(folded) > best[0]):
                best = (len(folded), code)
    return best[1] if best else None
