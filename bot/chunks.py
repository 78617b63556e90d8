"""Split long texts for channels with a length limit, at sentence or line boundaries."""

from __future__ import annotations

import re

_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])\s+"),
    re.compile(r"\s+"),
)


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, cut at the latest paragraph, line, sentence or space."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = 0
        for pattern in _BREAKS:
            ends = [m for m in pattern.finditer(window) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1].start()
                # A break too early would make many tiny parts: only accept it past a third.
                if cut >= limit // 3:
                    break
                cut = 0
        if cut == 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
