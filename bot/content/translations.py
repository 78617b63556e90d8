"""Translation status: which topics each language has, and which are older than their source."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.content.model import ContentSnapshot
from bot.content.schema import plain

HASH_CHARS = 10
UNTRANSLATED = frozenset({"examples", "sources", "checked", "reviewed", "translated_from"})


class Status(enum.StrEnum):
    """Where one topic stands in one language."""

    COMPLETE = "complete"
    MISSING = "missing"
    OUTDATED = "outdated"
    FALLBACK = "fallback"


def words_hash(data: dict[str, Any]) -> str:
    """A short hash of the words a translator translates (texts and button titles).

    Examples, sources, dates and reviews are left out: changing them needs no new translation.
    Placeholders are hashed as written, so a contact's new number does not outdate anything.
    A file that is not an answer (a check's words) is hashed whole, less those same keys.
    """
    data = plain(data)  # keys as text: `NO:` (Norway) or `yes:` must not break the hash
    if "text" not in data:
        kept = {k: v for k, v in data.items() if k not in UNTRANSLATED}
        encoded = json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:HASH_CHARS]
    words = {
        "text": data.get("text"),
        "by_country": data.get("by_country"),
        "channels": data.get("channels"),
        "buttons": [
            (b.get("title"), b.get("payload")) if isinstance(b, dict) else b
            for b in data.get("buttons") or []
        ],
    }
    encoded = json.dumps(words, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:HASH_CHARS]


@dataclass(frozen=True)
class Cell:
    """One topic in one language: its status, and the language a person would read instead."""

    status: Status
    shown_in: str | None = None


def translation_table(snapshot: ContentSnapshot) -> dict[str, dict[str, Cell]]:
    """Topics × languages: complete, missing, outdated, or served in the fallback language."""
    source = snapshot.source_language
    table: dict[str, dict[str, Cell]] = {}
    for topic in sorted(snapshot.topics):
        row: dict[str, Cell] = {}
        original = snapshot.answers.get((topic, source))
        for code, info in snapshot.languages.items():
            answer = snapshot.answers.get((topic, code))
            if answer is None:
                fallback = info.fallback if not info.complete else None
                row[code] = Cell(Status.FALLBACK, fallback) if fallback else Cell(Status.MISSING)
            elif (
                code != source
                and original is not None
                and answer.translated_from != original.words_hash
            ):
                row[code] = Cell(Status.OUTDATED, code)
            else:
                row[code] = Cell(Status.COMPLETE, code)
        table[topic] = row
    return table


def translation_problem(given: str | None, source_hash: str, name: str, where: str) -> str | None:
    """What to tell an editor about a translation's `translated_from:`; None when it is current.

    `name` is the source language's name (English), `where` the source file as shown.
    """
    stamp = f"translated_from: {source_hash}"
    if given is None:
        return (
            f"this translation does not say which {name} text it was made from; once it "
            f"says what {where} says, add the line `{stamp}`"
        )
    if given != source_hash:
        return (
            f"outdated: {where} changed after this translation was made; update the "
            f"words to match it, then change the line to `{stamp}`"
        )
    return None
