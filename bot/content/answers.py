"""Reading one answer file: its texts, placeholders, numbers, lengths, buttons and examples."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content.contacts import PLACEHOLDER, Registry, fill, placeholder_fix
from bot.content.model import Answer, Button
from bot.content.phones import digits, phone_numbers
from bot.content.translations import HASH_CHARS, words_hash
from bot.content.views import CHANNEL_LIMITS, READABLE_CHARS, whatsapp_body
from bot.content.yamlfile import LineDict, LineList, line_of, text_line_of
from bot.text import fold

ANSWER_KEYS = (
    "text",
    "buttons",
    "by_country",
    "channels",
    "examples",
    "sources",
    "checked",
    "reviewed",
    "translated_from",
)
CHANNELS_WITH_TEXTS = ("telegram", "whatsapp", "web")
MAX_BUTTONS = 4
MAX_TITLE = 24
MAX_EXAMPLE = 200
STATIC_PAYLOADS = {"delete:confirm", "delete:cancel"}

Report = Callable[..., None]


@dataclass(frozen=True)
class AnswerContext:
    """What an answer file is checked against: the other content files' facts."""

    countries: dict[str, tuple[str, ...]]
    languages: frozenset[str]
    topics: frozenset[str]
    engine_topics: frozenset[str]
    registry: Registry
    numbered_hint: dict[str, str]
    preview_chars: int
    preview_words: frozenset[str]


def valid_payload(
    payload: str,
    countries: dict[str, tuple[str, ...]] | None,
    topics: frozenset[str],
    languages: frozenset[str],
) -> bool:
    """Whether a button payload is one the core understands."""
    kind, _, value = payload.partition(":")
    if not value:
        return payload in topics
    if kind == "lang":
        return value in languages
    if kind == "country":
        return len(value) == 2 and value.isupper() and (countries is None or value in countries)
    return payload in STATIC_PAYLOADS


class AnswerReader:
    """Checks one answer file and builds its Answer; every fault goes to `report`."""

    def __init__(self, context: AnswerContext, report: Report) -> None:
        self.context = context
        self.report = report

    def read(self, data: Any, path: Path, topic: str, language: str) -> Answer | None:
        """The answer in one file, or None when it cannot be used."""
        if not isinstance(data, LineDict):
            self.report(path, 1, "an answer file must start with `text: |` (see content/README.md)")
            return None
        for key in data:
            if key == "contacts":
                self.report(
                    path,
                    line_of(data, key),
                    "`contacts:` lists are gone: numbers live in content/contacts.yml and an "
                    "answer writes {contact:ID}; delete this list",
                )
            elif key not in ANSWER_KEYS:
                self.report(
                    path,
                    line_of(data, key),
                    f"unknown key {key!r}; allowed keys are {', '.join(ANSWER_KEYS)}",
                )
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            self.report(
                path, line_of(data, "text"), "`text:` is missing or empty; write the answer"
            )
            return None
        raw: dict[str, tuple[str, int]] = {"": (text, text_line_of(data, "text"))}
        raw.update(self._country_texts(path, data))
        raw.update(self._channel_texts(path, data))
        filled = {
            where: (self._fill(path, line, body), line) for where, (body, line) in raw.items()
        }
        buttons = self._buttons(path, data)
        hint = self.context.numbered_hint.get(language, "")
        own = {w[8:] for w in filled if w.startswith("channel:")}
        for where, (body, line) in filled.items():
            self._check_text(path, line, where, body.strip(), buttons, hint, own)
        has_facts = any(w.startswith("country:") or "{contact:" in b for w, (b, _) in raw.items())
        self._check_facts(path, data, has_facts)
        examples = self._examples(path, data, topic)
        translated_from = self._translated_from(path, data)
        return Answer(
            topic=topic,
            language=language,
            text=filled[""][0].strip(),
            buttons=buttons,
            by_country={
                w[8:]: b.strip() for w, (b, _) in filled.items() if w.startswith("country:")
            },
            path=path,
            by_channel={
                w[8:]: b.strip() for w, (b, _) in filled.items() if w.startswith("channel:")
            },
            examples=examples,
            words_hash=words_hash(data),
            translated_from=translated_from,
        )

    # --- texts ----------------------------------------------------------------

    def _country_texts(self, path: Path, data: LineDict) -> dict[str, tuple[str, int]]:
        """`by_country:` texts keyed `country:XX`."""
        result: dict[str, tuple[str, int]] = {}
        table = data.get("by_country")
        if table is None:
            return result
        if not isinstance(table, LineDict):
            self.report(path, line_of(data, "by_country"), "`by_country:` must map codes to texts")
            return result
        countries = self.context.countries
        for code, variant in table.items():
            line = line_of(table, code)
            if code not in countries:
                self.report(
                    path,
                    line,
                    f"unknown country {code!r}; use one of {', '.join(sorted(countries))}",
                )
            elif not isinstance(variant, str) or not variant.strip():
                self.report(path, line, f"the text for {code} is empty")
            else:
                result[f"country:{code}"] = (variant, text_line_of(table, code))
        return result

    def _channel_texts(self, path: Path, data: LineDict) -> dict[str, tuple[str, int]]:
        """`channels:` texts keyed `channel:NAME`, where Telegram and WhatsApp must differ."""
        raw = data.get("channels")
        result: dict[str, tuple[str, int]] = {}
        if raw is None:
            return result
        if "by_country" in data:
            self.report(
                path,
                line_of(data, "channels"),
                "use `by_country:` or `channels:` in one file, not both: a channel's text "
                "would hide the country texts (and their numbers); move one into the other",
            )
        if not isinstance(raw, LineDict):
            self.report(
                path,
                line_of(data, "channels"),
                "`channels:` must map telegram/whatsapp/web to `text: |` blocks",
            )
            return result
        for channel, variant in raw.items():
            line = line_of(raw, channel)
            if channel not in CHANNELS_WITH_TEXTS:
                self.report(
                    path, line, f"unknown channel {channel!r}; use {', '.join(CHANNELS_WITH_TEXTS)}"
                )
                continue
            body = variant.get("text") if isinstance(variant, LineDict) else None
            if not isinstance(body, str) or not body.strip():
                self.report(path, line, f"the {channel} variant needs a `text: |` block")
                continue
            extra = sorted(set(variant) - {"text"})
            if extra:
                self.report(
                    path, line, f"the {channel} variant may only have `text:`; remove {extra}"
                )
            result[f"channel:{channel}"] = (body, text_line_of(variant, "text"))
        return result

    def _fill(self, path: Path, line: int, body: str) -> str:
        """Replace placeholders; refuse typed numbers and placeholders that name nothing."""
        registry = self.context.registry
        for number, at in _numbers_with_lines(body, line, registry.known_digits):
            key = digits(number)
            by_number = [c.id for c in registry.contacts.values() if digits(c.number) == key]
            if key in registry.blocked:
                fix = f"must not be used: {registry.blocked[key]}; remove it"
            elif by_number:
                fix = (
                    "is typed into the answer; write "
                    + " or ".join(f"{{contact:{cid}}}" for cid in by_number)
                    + " instead, so the number is kept in one place (content/contacts.yml)"
                )
            else:
                fix = (
                    "is not in content/contacts.yml; a number reaches a person only once the "
                    "facts sheet confirms it and contacts.yml lists it; then write {contact:ID}"
                )
            self.report(path, at, f"{number} {fix}")
        text, unknown = fill(body, registry.contacts)
        for placeholder in unknown:
            at = line + body[: body.index(placeholder)].count("\n")
            self.report(path, at, placeholder_fix(placeholder, registry.contacts))
        return text

    def _check_text(
        self,
        path: Path,
        line: int,
        where: str,
        body: str,
        buttons: tuple[Button, ...],
        hint: str,
        own_texts: set[str],
    ) -> None:
        """Lengths per channel (WhatsApp with its numbered options) and the lock-screen words.

        A channel with its own text under `channels:` is measured on that text only.
        """
        shown = f" ({where.replace(':', ' ')})" if where else ""
        self.check_preview(path, line, shown, body)
        channel = where[8:] if where.startswith("channel:") else None
        for name, limit in CHANNEL_LIMITS.items():
            if channel is not None and channel != name:
                continue
            if channel is None and name in own_texts:
                continue
            rendered = whatsapp_body(body, buttons, hint) if name == "whatsapp" else body
            if len(rendered) > limit:
                extra = " with its numbered options" if name == "whatsapp" and buttons else ""
                self.report(
                    path,
                    line,
                    f"the text{shown} is {len(rendered)} characters on {name}{extra}; "
                    f"{name} allows {limit}. Shorten it, give {name} its own shorter text "
                    "under `channels:`, or split the topic",
                )
        if len(body) > READABLE_CHARS:
            self.report(
                path,
                line,
                f"the text{shown} has {len(body)} characters; over {READABLE_CHARS} is hard to "
                "read on a phone: consider shortening it",
                warning=True,
            )

    def check_preview(self, path: Path, line: int, shown: str, body: str) -> None:
        """No listed word in the first characters a lock screen shows."""
        words = self.context.preview_words
        chars = self.context.preview_chars
        if not words:
            return
        head = fold(body[:chars])
        found = sorted(w for w in words if re.search(rf"\b{re.escape(w)}\b", head))
        if found:
            self.report(
                path,
                line,
                f"the text{shown} has {', '.join(repr(w) for w in found)} in its first {chars} "
                "characters, which a locked phone's notification shows to whoever holds it; "
                "start with neutral words and name it later",
            )

    def _check_facts(self, path: Path, data: LineDict, has_facts: bool) -> None:
        """Answers with numbers or country facts say where they come from and when checked."""
        if has_facts and ("sources" not in data or "checked" not in data):
            self.report(path, 1, "facts need `sources:` and `checked:` (the date you checked)")
        if "checked" in data and not _is_date(data["checked"]):
            self.report(path, line_of(data, "checked"), "`checked:` must be a date like 2026-11-26")
        reviewed = data.get("reviewed")
        if reviewed is not None and (
            not isinstance(reviewed, LineDict)
            or not isinstance(reviewed.get("by"), str)
            or not _is_date(reviewed.get("at"))
            or set(reviewed) - {"by", "at"}
        ):
            self.report(
                path,
                line_of(data, "reviewed"),
                "`reviewed:` needs `by:` (who reviewed it) and `at:` (a date like 2026-11-26)",
            )

    # --- buttons, examples, translations ----------------------------------------

    def _buttons(self, path: Path, data: LineDict) -> tuple[Button, ...]:
        """Check and build the buttons of an answer."""
        raw = data.get("buttons")
        if raw is None:
            return ()
        if not isinstance(raw, LineList):
            self.report(path, line_of(data, "buttons"), "`buttons:` must be a list")
            return ()
        if len(raw) > MAX_BUTTONS:
            self.report(
                path, raw.line, f"at most {MAX_BUTTONS} buttons; remove {len(raw) - MAX_BUTTONS}"
            )
        buttons: list[Button] = []
        for index, entry in enumerate(raw):
            line = line_of(raw, index)
            title = entry.get("title") if isinstance(entry, LineDict) else None
            payload = entry.get("payload") if isinstance(entry, LineDict) else None
            if not isinstance(title, str) or not title.strip():
                self.report(path, line, "a button needs a `title:`")
                continue
            if len(title) > MAX_TITLE:
                self.report(path, line, f"button title {title!r} is over {MAX_TITLE} characters")
            context = self.context
            if not valid_payload(
                str(payload), context.countries, context.topics, context.languages
            ):
                self.report(
                    path,
                    line,
                    f"button payload {payload!r} points nowhere: use a topic id (a folder in "
                    "content/topics), lang:xx, country:XX, delete:confirm or delete:cancel",
                )
                continue
            buttons.append(Button(title.strip(), str(payload)))
        return tuple(buttons)

    def _examples(self, path: Path, data: LineDict, topic: str) -> tuple[str, ...]:
        """Questions people ask for this topic, which `make train` teaches the engine."""
        raw = data.get("examples")
        if raw is None:
            return ()
        line = line_of(data, "examples")
        if topic not in self.context.engine_topics:
            self.report(
                path,
                line,
                f"{topic} is not answered by the language model, so it takes no `examples:` "
                "(distress and asking for a person are phrases in content/safety/<language>.yml); "
                "remove them",
            )
            return ()
        if not isinstance(raw, LineList):
            self.report(path, line, "`examples:` must be a list of questions, one per `- ` line")
            return ()
        seen: dict[str, int] = {}
        result: list[str] = []
        for index, example in enumerate(raw):
            where = line_of(raw, index)
            if not isinstance(example, str) or not example.strip():
                self.report(
                    path,
                    where,
                    "an example must be a question in words; if it has a "
                    "colon or starts with a symbol, put it in quotes",
                )
                continue
            if len(example) > MAX_EXAMPLE:
                self.report(path, where, f"an example is at most {MAX_EXAMPLE} characters")
                continue
            if example.strip().startswith("/"):
                self.report(path, where, "an example cannot start with / (that is a command)")
                continue
            if "\n" in example.strip() or "[" in example or "]" in example:
                self.report(
                    path,
                    where,
                    "an example is one line without [ or ] (the model reads brackets as "
                    "markup); write it on one `- ` line",
                )
                continue
            key = fold(example)
            if key in seen:
                self.report(path, where, f"this example repeats line {seen[key]}; remove one")
                continue
            seen[key] = where
            result.append(example.strip())
        return tuple(result)

    def _translated_from(self, path: Path, data: LineDict) -> str | None:
        """The source text's hash this translation was made from, if given."""
        value = data.get("translated_from")
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(rf"[0-9a-f]{{{HASH_CHARS}}}", value):
            self.report(
                path,
                line_of(data, "translated_from"),
                f"`translated_from:` is the {HASH_CHARS}-character hash that "
                "`make content-status` shows for the source text; copy it from there",
            )
            return None
        return value


def _is_date(value: Any) -> bool:
    """Whether a YAML value is a plain date (not a datetime or a string)."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _numbers_with_lines(body: str, first_line: int, known: frozenset[str]) -> list[tuple[str, int]]:
    """Every phone number typed in a text (placeholders aside), with the file line it is on."""
    found: list[tuple[str, int]] = []
    for offset, text_line in enumerate(body.split("\n")):
        for number in phone_numbers(PLACEHOLDER.sub(" contact ", text_line), known):
            found.append((number, first_line + offset))
    return found
