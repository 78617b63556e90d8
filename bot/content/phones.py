"""Finding phone numbers in answer text, so only confirmed ones reach a person."""

from __future__ import annotations

import re

from bot.text import fold

_RUN = re.compile(r"(?<![\w.,/])\+?\d(?:[\d \-]*\d)?(?![\w]|[.,/]\d)")
_KEYWORD = re.compile(
    r"(call|ligue|liga|ligar|llama|llamar|marca|marque|numero|number|linha|linea|line|"
    r"tel|telefone|telefono|whatsapp|sms|text|texto|tty|hotline|emergenc\w*|denuncia\w*)"
    r"\W{0,3}(?:\w+\W{1,3}){0,2}$",
    re.IGNORECASE,
)


def digits(number: str) -> str:
    """Only the digits of a number, for comparing numbers written differently."""
    return re.sub(r"\D", "", number)


def _is_year(run: str) -> bool:
    """Whether a run is a four-digit year like 2009."""
    return len(run) == 4 and run.isdigit() and 1900 <= int(run) <= 2099


def phone_numbers(text: str, known: frozenset[str] = frozenset()) -> list[str]:
    """Every run in a text that reads as a phone number.

    A run of five or more digits is a number; a run of three or four digits is
    one when it is a known number (`known`: digits only) or a calling word
    (call, ligue, llama, línea, …) stands just before it.
    """
    found: list[str] = []
    for match in _RUN.finditer(text):
        run = match.group().strip(" -")
        count = len(digits(run))
        after = text[match.end() : match.end() + 1]
        if count < 3 or _is_year(run) or after in ("+", "%"):
            continue
        if count >= 5 or digits(run) in known:
            found.append(run)
            continue
        before = text[max(0, match.start() - 40) : match.start()]

        if _KEYWORD.search(fold(before) + " "):
            found.append(run)
    return found
