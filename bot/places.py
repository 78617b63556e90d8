"""Which country a message mentions, from the names editors keep in content/countries.yml."""

from __future__ import annotations

from bot.text import fold

# "de"/"do"/"da" mean "from" only after words like these ("soy de Honduras", "vim do
# Brasil", "pasaporte de Mozambique"), not inside a place name ("Ciudad de México").
ORIGIN_VERBS = frozenset(
    {"soy", "sou", "vengo", "venho", "vim", "vine", "venimos", "somos", "sali", "sai"}
    | {"pasaporte", "passaporte", "nacionalidad", "nacionalidade", "ciudadano", "cidadao"}
)
OF_WORDS = frozenset({"de", "do", "da", "dos", "das", "del"})


def _is_origin(before: list[str]) -> bool:
    """Whether the words before a name introduce where someone comes from."""
    if before[-1:] == ["from"]:
        return True
    return len(before) >= 2 and before[-1] in OF_WORDS and before[-2] in ORIGIN_VERBS


def mentioned_country(text: str, names: dict[str, tuple[str, ...]]) -> str | None:
    """The country named in a text, or None.

    With several countries named, one not introduced as an origin ("from", "soy de") wins
    over one that is; among those, the one named last (where someone is going or now is),
    then the longest name.
    """
    padded = f" {fold(text)} "
    best: tuple[int, int, int, str] | None = None
    for code, folded in _folded_names(names):
        needle = f" {folded} "
        at = padded.rfind(needle)
        if at < 0:
            continue
        origin = _is_origin(padded[:at].split())
        rank = (0 if origin else 1, at + len(needle), len(folded), code)
        if best is None or rank[:3] > best[:3]:
            best = rank
    return best[3] if best else None


_FOLDED: dict[int, tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]] = {}


def _folded_names(names: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(code, folded name) pairs of a names table, folded once per table (not per message)."""
    cached = _FOLDED.get(id(names))
    if cached is None or cached[0] is not names:
        pairs = [(code, fold(name)) for code, code_names in names.items() for name in code_names]
        cached = (names, [(code, folded) for code, folded in pairs if folded])
        if len(_FOLDED) > 8:  # old content snapshots: let them go
            _FOLDED.clear()
        _FOLDED[id(names)] = cached
    return cached[1]
