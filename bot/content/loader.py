"""Read content/ into a snapshot and report every problem as file:line with the fix."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.model import (
    Answer,
    Button,
    CannedReply,
    ChannelWords,
    ContentProblem,
    ContentSnapshot,
    LanguageInfo,
    TelegramProfile,
)
from bot.content.phones import digits, phone_numbers
from bot.content.yamlfile import LineDict, LineList, YamlError, line_of, load_yaml
from bot.safety import PhraseMatcher, has_words
from bot.settings import SUPPORTED_LANGUAGES
from bot.text import fold
from bot.topics import ALL_TOPICS

MAX_TEXT = 1000
MAX_BUTTONS = 4
MAX_TITLE = 24
ANSWER_KEYS = {"text", "buttons", "by_country", "channels", "sources", "checked", "contacts"}
# Channels an answer may have its own text for (same 1,000-character limit).
CHANNELS_WITH_TEXTS = ("telegram", "whatsapp", "web")
# The Telegram Bot API's limits for a bot's profile and command menu.
TELEGRAM_PROFILE_LIMITS = {"name": 64, "short_description": 120, "description": 512}
TELEGRAM_COMMANDS = ("start", "help", "language", "delete")
TELEGRAM_COMMAND_LIMIT = 256
MAX_NUMBERED_HINT = 60
MAX_CANNED_TITLE = 40
STATIC_PAYLOADS = {"delete:confirm", "delete:cancel"}
SAFETY_KEYS = ("distress", "distress_alone", "request_human", "request_human_alone")


def content_fingerprint(root: Path) -> str:
    """A cheap digest of every file's path, size and mtime under root."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class _Loader:
    """Collects problems while reading one content tree."""

    root: Path
    problems: list[ContentProblem] = field(default_factory=list)
    preview: tuple[int, frozenset[str]] = (0, frozenset())

    def problem(self, path: Path, line: int, message: str) -> None:
        """Record a problem for an editor."""
        self.problems.append(ContentProblem(path, line, message))

    def read(self, path: Path) -> Any:
        """Load a YAML file, recording a problem (and returning None) if it is unreadable."""
        if not path.is_file():
            self.problem(path, 1, "this file is missing; create it (see docs/content-format.md)")
            return None
        try:
            return load_yaml(path)
        except YamlError as exc:
            self.problem(path, exc.line, str(exc))
            return None

    # --- registries -------------------------------------------------------

    def languages(self) -> dict[str, LanguageInfo]:
        """Read languages.yml."""
        path = self.root / "languages.yml"
        data = self.read(path)
        result: dict[str, LanguageInfo] = {}
        table = data.get("languages") if isinstance(data, LineDict) else None
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `languages:` mapping of language codes")
            return {code: LanguageInfo(code, code, (), True, None) for code in SUPPORTED_LANGUAGES}
        for code, info in table.items():
            line = line_of(table, code)
            if not isinstance(info, LineDict) or not isinstance(info.get("name"), str):
                self.problem(path, line, f"language {code!r} needs `name:` and `names:`")
                continue
            names = info.get("names") or []
            complete = bool(info.get("complete", False))
            fallback = info.get("fallback")
            if not complete and fallback not in SUPPORTED_LANGUAGES:
                self.problem(
                    path,
                    line,
                    f"language {code!r} is not complete, so it needs `fallback:` "
                    f"set to one of {', '.join(SUPPORTED_LANGUAGES)}",
                )
            result[str(code)] = LanguageInfo(
                str(code), info["name"], tuple(str(n) for n in names), complete, fallback
            )
        for code in SUPPORTED_LANGUAGES:
            if code not in result or not result[code].complete:
                self.problem(path, 1, f"{code!r} must be listed with `complete: true`")
        return result

    def countries(self) -> dict[str, tuple[str, ...]]:
        """Read countries.yml."""
        path = self.root / "countries.yml"
        data = self.read(path)
        table = data.get("countries") if isinstance(data, LineDict) else None
        result: dict[str, tuple[str, ...]] = {}
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `countries:` mapping of ISO codes")
            return result
        for code, info in table.items():
            names = info.get("names") if isinstance(info, LineDict) else None
            if not isinstance(code, str) or len(code) != 2 or not code.isupper():
                self.problem(path, line_of(table, code), f"{code!r} is not a 2-letter ISO code")
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.problem(path, line_of(table, code), f"{code}: `names:` must be a list")
                continue
            result[code] = tuple(names)
        return result

    def contacts(self) -> tuple[dict[str, str], dict[str, str]]:
        """Read contacts.yml: confirmed numbers and blocked numbers, keyed by digits."""
        path = self.root / "contacts.yml"
        data = self.read(path)
        confirmed: dict[str, str] = {}
        blocked: dict[str, str] = {}
        if not isinstance(data, LineDict):
            return confirmed, blocked
        entries = data.get("contacts")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            line = line_of(entries, index)
            needed = ("number", "country", "status", "source", "checked")
            if not isinstance(entry, LineDict) or any(k not in entry for k in needed):
                self.problem(path, line, f"each contact needs {', '.join(needed)}")
                continue
            if entry["status"] != "confirmed":
                self.problem(
                    path,
                    line,
                    f"{entry['number']} has status {entry['status']!r}; only confirmed numbers "
                    "belong here (move it to `blocked:`)",
                )
                continue
            confirmed[digits(str(entry["number"]))] = str(entry["number"])
        blocked_entries = data.get("blocked")
        for entry in blocked_entries if isinstance(blocked_entries, list) else []:
            if isinstance(entry, LineDict) and "number" in entry:
                blocked[digits(str(entry["number"]))] = str(entry.get("why", "not confirmed"))
        return confirmed, blocked

    def safety(self) -> dict[str, list[str]]:
        """Read every safety/<language>.yml into phrase lists by section."""
        sections: dict[str, list[str]] = {key: [] for key in SAFETY_KEYS}
        for code in SUPPORTED_LANGUAGES:
            path = self.root / "safety" / f"{code}.yml"
            data = self.read(path)
            if data is None:
                continue
            if not isinstance(data, LineDict):
                self.problem(path, 1, "expected `distress:` and `request_human:` lists")
                continue
            for key in ("distress", "request_human"):
                if not isinstance(data.get(key), LineList) or not data[key]:
                    self.problem(path, line_of(data, key), f"`{key}:` must be a list of phrases")
            for key, phrases in data.items():
                if key not in SAFETY_KEYS:
                    self.problem(
                        path,
                        line_of(data, key),
                        f"unknown key {key!r}; use one of {', '.join(SAFETY_KEYS)}",
                    )
                    continue
                for index, phrase in enumerate(phrases if isinstance(phrases, list) else []):
                    if not isinstance(phrase, str) or not has_words(phrase):
                        self.problem(
                            path,
                            line_of(phrases, index),
                            "a phrase must have at least one word (not only `*`); "
                            "if it has a colon, put it in quotes",
                        )
                        continue
                    sections[key].append(phrase)
        return sections

    def preview_words(self) -> tuple[int, frozenset[str]]:
        """Read preview_safety.yml: how many leading characters, and the words kept out."""
        path = self.root / "preview_safety.yml"
        if not path.exists():
            return 0, frozenset()
        data = self.read(path)
        if not isinstance(data, LineDict):
            self.problem(path, 1, "expected `preview_chars:` and a `words:` list")
            return 0, frozenset()
        chars = data.get("preview_chars", 60)
        words = data.get("words")
        if not isinstance(chars, int) or not 0 < chars <= 200:
            self.problem(path, line_of(data, "preview_chars"), "`preview_chars:` is 1-200")
            chars = 60
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            self.problem(path, line_of(data, "words"), "`words:` must be a list of words")
            return chars, frozenset()
        return chars, frozenset(fold(w) for w in words)

    def check_preview(
        self, path: Path, line: int, where: str, body: str, chars: int, words: frozenset[str]
    ) -> None:
        """No listed word in the first characters a lock screen shows."""
        if not words:
            return
        head = fold(body.strip()[:chars])
        found = sorted(w for w in words if re.search(rf"\b{re.escape(w)}\b", head))
        if found:
            self.problem(
                path,
                line,
                f"the text{where} has {', '.join(repr(w) for w in found)} in its first {chars} "
                "characters, which a locked phone's notification shows to whoever holds it; "
                "start with neutral words and name it later",
            )

    def canned(
        self, languages: dict[str, LanguageInfo], known_numbers: frozenset[str]
    ) -> dict[str, CannedReply]:
        """Read canned.yml: caseworkers' ready replies, each in every complete language."""
        path = self.root / "canned.yml"
        if not path.exists():
            return {}
        data = self.read(path)
        table = data.get("canned") if isinstance(data, LineDict) else None
        if not isinstance(table, LineDict):
            self.problem(path, 1, "expected a `canned:` mapping of reply ids to replies")
            return {}
        result: dict[str, CannedReply] = {}
        for reply_id, entry in table.items():
            line = line_of(table, reply_id)
            if not isinstance(entry, LineDict):
                self.problem(path, line, f"{reply_id}: give `title:` and a text per language")
                continue
            title = entry.get("title")
            if not isinstance(title, str) or not 0 < len(title.strip()) <= MAX_CANNED_TITLE:
                self.problem(
                    path, line, f"{reply_id}: `title:` must be 1-{MAX_CANNED_TITLE} characters"
                )
                continue
            texts: dict[str, str] = {}
            for code, info in languages.items():
                body = entry.get(code)
                where = line_of(entry, code) if code in entry else line
                if not isinstance(body, str) or not body.strip():
                    if info.complete:
                        self.problem(
                            path, where, f"{reply_id}: write the {info.name} text ({code}:)"
                        )
                    continue
                if len(body.strip()) > MAX_TEXT:
                    self.problem(path, where, f"{reply_id} ({code}) is over {MAX_TEXT} characters")
                elif phone_numbers(body, known_numbers):
                    self.problem(
                        path,
                        where,
                        f"{reply_id} ({code}) has a phone number; numbers belong in answer files "
                        "(help_contacts), where they are checked against contacts.yml",
                    )
                else:
                    texts[code] = body.strip()
            for key in entry:
                if key != "title" and key not in languages:
                    self.problem(path, line_of(entry, key), f"{reply_id}: unknown key {key!r}")
            result[str(reply_id)] = CannedReply(str(reply_id), title.strip(), texts)
        return result

    def commands(self) -> dict[str, str]:
        """Read commands.yml: whole-message words mapped to topics."""
        path = self.root / "commands.yml"
        data = self.read(path)
        table = data.get("commands") if isinstance(data, LineDict) else None
        result: dict[str, str] = {}
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `commands:` mapping of topic ids to word lists")
            return result
        for topic, words in table.items():
            line = line_of(table, topic)
            if topic not in ALL_TOPICS:
                self.problem(path, line, f"unknown topic {topic!r}")
                continue
            if not isinstance(words, list):
                self.problem(path, line, f"{topic}: give a list of words")
                continue
            for index, word in enumerate(words):
                key = fold(str(word))
                if not key:
                    self.problem(path, line_of(words, index), "an empty command; remove it")
                elif key in result and result[key] != topic:
                    self.problem(
                        path,
                        line_of(words, index),
                        f"{word!r} already leads to {result[key]!r}; keep it in one place",
                    )
                else:
                    result[key] = str(topic)
        return result

    def channel_words(self, languages: dict[str, LanguageInfo]) -> ChannelWords:
        """Read channels.yml: the Telegram profile and WhatsApp words per language."""
        path = self.root / "channels.yml"
        data = self.read(path)
        if not isinstance(data, LineDict):
            if data is not None:
                self.problem(path, 1, "expected `telegram:` and `whatsapp:` mappings by language")
            return ChannelWords()
        for key in data:
            if key not in ("telegram", "whatsapp"):
                self.problem(
                    path, line_of(data, key), f"unknown channel {key!r}; use telegram or whatsapp"
                )
        telegram: dict[str, TelegramProfile] = {}
        for code, entry in self._by_language(path, data, "telegram", languages).items():
            profile = self._telegram_profile(path, code, entry)
            if profile is not None:
                telegram[code] = profile
        hints: dict[str, str] = {}
        for code, entry in self._by_language(path, data, "whatsapp", languages).items():
            hint = entry.get("numbered_hint")
            if not isinstance(hint, str) or not hint.strip():
                self.problem(
                    path,
                    line_of(entry, "numbered_hint"),
                    f"whatsapp {code}: "
                    "write `numbered_hint:`, the line shown before numbered options",
                )
            elif len(hint.strip()) > MAX_NUMBERED_HINT:
                self.problem(
                    path,
                    line_of(entry, "numbered_hint"),
                    f"whatsapp {code}: "
                    f"numbered_hint is over {MAX_NUMBERED_HINT} characters; shorten it",
                )
            else:
                hints[code] = hint.strip()
        return ChannelWords(telegram=telegram, numbered_hint=hints)

    def _by_language(
        self, path: Path, data: LineDict, channel: str, languages: dict[str, LanguageInfo]
    ) -> dict[str, LineDict]:
        """The per-language mappings under one channel, each complete language required."""
        table = data.get(channel)
        if not isinstance(table, LineDict):
            self.problem(path, line_of(data, channel), f"`{channel}:` must map languages")
            return {}
        result: dict[str, LineDict] = {}
        for code, entry in table.items():
            if code not in languages:
                self.problem(path, line_of(table, code), f"{channel}: unknown language {code!r}")
            elif not isinstance(entry, LineDict):
                self.problem(path, line_of(table, code), f"{channel} {code}: expected a mapping")
            else:
                result[str(code)] = entry
        for info in languages.values():
            if info.complete and info.code not in table:
                what = (
                    "name, short_description, description and commands"
                    if channel == "telegram"
                    else "numbered_hint"
                )
                self.problem(
                    path,
                    line_of(data, channel),
                    f"`{channel}:` has no `{info.code}:` section; add one with {what} "
                    f"({info.name} is a complete language in languages.yml)",
                )
        return result

    def _telegram_profile(self, path: Path, code: str, entry: LineDict) -> TelegramProfile | None:
        """Check one language's Telegram profile against the Bot API's limits."""
        values: dict[str, str] = {}
        for key, limit in TELEGRAM_PROFILE_LIMITS.items():
            value = entry.get(key)
            line = line_of(entry, key)
            if not isinstance(value, str) or not value.strip():
                self.problem(
                    path,
                    line,
                    f"telegram {code}: write `{key}:` as text, at most {limit} characters",
                )
            elif len(value.strip()) > limit:
                self.problem(
                    path,
                    line,
                    f"telegram {code}: {key} has {len(value.strip())} "
                    f"characters; Telegram allows {limit}",
                )
            else:
                values[key] = value.strip()
        commands = entry.get("commands")
        described: dict[str, str] = {}
        if not isinstance(commands, LineDict):
            self.problem(
                path,
                line_of(entry, "commands"),
                f"telegram {code}: `commands:` must describe {', '.join(TELEGRAM_COMMANDS)}",
            )
        else:
            for name in TELEGRAM_COMMANDS:
                text = commands.get(name)
                if not isinstance(text, str) or not text.strip():
                    self.problem(
                        path,
                        line_of(commands, name) if name in commands else line_of(entry, "commands"),
                        f"telegram {code}: describe the /{name} command",
                    )
                elif len(text.strip()) > TELEGRAM_COMMAND_LIMIT:
                    self.problem(
                        path,
                        line_of(commands, name),
                        f"telegram {code}: /{name} "
                        f"description is over {TELEGRAM_COMMAND_LIMIT} characters",
                    )
                else:
                    described[name] = text.strip()
            for name in commands:
                if name not in TELEGRAM_COMMANDS:
                    self.problem(
                        path,
                        line_of(commands, name),
                        f"telegram {code}: unknown command "
                        f"{name!r}; the commands are {', '.join(TELEGRAM_COMMANDS)}",
                    )
        if len(values) < len(TELEGRAM_PROFILE_LIMITS) or len(described) < len(TELEGRAM_COMMANDS):
            return None
        return TelegramProfile(commands=described, **values)

    # --- answers ------------------------------------------------------------

    def answer(
        self,
        path: Path,
        topic: str,
        language: str,
        countries: dict[str, tuple[str, ...]],
        confirmed: dict[str, str],
        blocked: dict[str, str],
    ) -> Answer | None:
        """Read and check one answer file."""
        data = self.read(path)
        if data is None:
            return None
        if not isinstance(data, LineDict):
            self.problem(path, 1, "an answer file must start with `text: |` (see the format doc)")
            return None
        for key in data:
            if key not in ANSWER_KEYS:
                self.problem(
                    path,
                    line_of(data, key),
                    f"unknown key {key!r}; allowed keys are {', '.join(sorted(ANSWER_KEYS))}",
                )
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            self.problem(
                path, line_of(data, "text"), "`text:` is missing or empty; write the answer"
            )
            return None
        texts: dict[str | None, tuple[str, int]] = {None: (text, line_of(data, "text"))}
        by_country: dict[str, str] = {}
        raw_by_country = data.get("by_country")
        if raw_by_country is not None:
            if not isinstance(raw_by_country, LineDict):
                self.problem(
                    path, line_of(data, "by_country"), "`by_country:` must map codes to texts"
                )
            else:
                for code, variant in raw_by_country.items():
                    line = line_of(raw_by_country, code)
                    if code not in countries:
                        self.problem(
                            path,
                            line,
                            f"unknown country {code!r}; use one of {', '.join(sorted(countries))}",
                        )
                    elif not isinstance(variant, str) or not variant.strip():
                        self.problem(path, line, f"the text for {code} is empty")
                    else:
                        by_country[code] = variant
                        texts[code] = (variant, line)
        by_channel = self._channel_texts(path, data)
        chars, words = self.preview
        for channel, (body, line) in by_channel.items():
            texts[f"channel:{channel}"] = (body, line)
        listed = self._listed_contacts(path, data)
        for code, (body, line) in texts.items():
            if code and code.startswith("channel:"):
                where = f" (channels {code[8:]})"
            else:
                where = f" (by_country {code})" if code else ""
            self.check_preview(path, line, where, body, chars, words)
            if len(body) > MAX_TEXT:
                self.problem(
                    path,
                    line,
                    f"the text{where} has {len(body)} characters; the limit is {MAX_TEXT}. "
                    "Shorten it or split the topic",
                )
            for number in phone_numbers(body, frozenset(confirmed) | frozenset(blocked)):
                key = digits(number)
                if key in blocked:
                    self.problem(
                        path, line, f"{number}{where} must not be used: {blocked[key]}; remove it"
                    )
                elif key not in confirmed:
                    self.problem(
                        path,
                        line,
                        f"{number}{where} is not a confirmed number in content/contacts.yml; "
                        "remove it or get it confirmed in the facts sheet first",
                    )
                elif key not in listed:
                    self.problem(
                        path,
                        line,
                        f"{number}{where} is shown but not listed under `contacts:`; add it with "
                        "its source and checked date",
                    )
        if ("sources" not in data or "checked" not in data) and (listed or by_country):
            self.problem(path, 1, "facts need `sources:` and `checked:` (the date you checked)")
        if "checked" in data and not isinstance(data["checked"], dt.date):
            self.problem(
                path, line_of(data, "checked"), "`checked:` must be a date like 2026-11-26"
            )
        buttons = self._buttons(path, data, countries)
        return Answer(
            topic,
            language,
            text.strip(),
            buttons,
            {k: v.strip() for k, v in by_country.items()},
            path,
            {k: v.strip() for k, (v, _line) in by_channel.items()},
        )

    def _channel_texts(self, path: Path, data: LineDict) -> dict[str, tuple[str, int]]:
        """Read `channels:` — a text for Telegram or WhatsApp where they must differ."""
        raw = data.get("channels")
        result: dict[str, tuple[str, int]] = {}
        if raw is None:
            return result
        if "by_country" in data:
            self.problem(
                path,
                line_of(data, "channels"),
                "use `by_country:` or `channels:` in one file, not both: a channel's text "
                "would hide the country texts (and their numbers); move one into the other",
            )
        if not isinstance(raw, LineDict):
            self.problem(
                path,
                line_of(data, "channels"),
                "`channels:` must map telegram/whatsapp/web to `text: |` blocks",
            )
            return result
        for channel, variant in raw.items():
            line = line_of(raw, channel)
            if channel not in CHANNELS_WITH_TEXTS:
                self.problem(
                    path,
                    line,
                    f"unknown channel {channel!r}; use {', '.join(CHANNELS_WITH_TEXTS)}",
                )
                continue
            body = variant.get("text") if isinstance(variant, LineDict) else None
            if not isinstance(body, str) or not body.strip():
                self.problem(path, line, f"the {channel} variant needs a `text: |` block")
                continue
            extra = sorted(set(variant) - {"text"})
            if extra:
                self.problem(
                    path, line, f"the {channel} variant may only have `text:`; remove {extra}"
                )
            result[str(channel)] = (body, line_of(variant, "text"))
        return result

    def _listed_contacts(self, path: Path, data: LineDict) -> set[str]:
        """The digits of every number listed under `contacts:`, checking each entry."""
        listed: set[str] = set()
        contacts = data.get("contacts")
        if contacts is None:
            return listed
        if not isinstance(contacts, LineList):
            self.problem(path, line_of(data, "contacts"), "`contacts:` must be a list")
            return listed
        for index, entry in enumerate(contacts):
            line = line_of(contacts, index)
            if not isinstance(entry, LineDict) or not all(
                k in entry for k in ("number", "source", "checked")
            ):
                self.problem(path, line, "each contact needs `number`, `source` and `checked`")
                continue
            listed.add(digits(str(entry["number"])))
        return listed

    def _buttons(
        self, path: Path, data: LineDict, countries: dict[str, tuple[str, ...]]
    ) -> tuple[Button, ...]:
        """Check and build the buttons of an answer."""
        raw = data.get("buttons")
        if raw is None:
            return ()
        if not isinstance(raw, LineList):
            self.problem(path, line_of(data, "buttons"), "`buttons:` must be a list")
            return ()
        if len(raw) > MAX_BUTTONS:
            self.problem(
                path, raw.line, f"at most {MAX_BUTTONS} buttons; remove {len(raw) - MAX_BUTTONS}"
            )
        buttons: list[Button] = []
        for index, entry in enumerate(raw):
            line = line_of(raw, index)
            title = entry.get("title") if isinstance(entry, LineDict) else None
            payload = entry.get("payload") if isinstance(entry, LineDict) else None
            if not isinstance(title, str) or not title.strip():
                self.problem(path, line, "a button needs a `title:`")
                continue
            if len(title) > MAX_TITLE:
                self.problem(path, line, f"button title {title!r} is over {MAX_TITLE} characters")
            if not valid_payload(str(payload), countries):
                self.problem(
                    path,
                    line,
                    f"button payload {payload!r} is not a topic id, lang:xx, country:XX, "
                    "delete:confirm or delete:cancel",
                )
                continue
            buttons.append(Button(title.strip(), str(payload)))
        return tuple(buttons)


def valid_payload(payload: str, countries: dict[str, tuple[str, ...]] | None = None) -> bool:
    """Whether a button payload is one the core understands."""
    kind, _, value = payload.partition(":")
    if not value:
        return payload in ALL_TOPICS
    if kind == "lang":
        return value in SUPPORTED_LANGUAGES
    if kind == "country":
        return len(value) == 2 and value.isupper() and (countries is None or value in countries)
    return payload in STATIC_PAYLOADS


def load_content(root: Path) -> tuple[ContentSnapshot | None, list[ContentProblem]]:
    """Load and check the whole content tree; a snapshot only when there is no problem."""
    loader = _Loader(root)
    fingerprint = content_fingerprint(root)
    languages = loader.languages()
    countries = loader.countries()
    confirmed, blocked = loader.contacts()
    safety = loader.safety()
    commands = loader.commands()
    loader.preview = loader.preview_words()
    channels = loader.channel_words(languages)
    canned = loader.canned(languages, frozenset(confirmed) | frozenset(blocked))
    answers: dict[tuple[str, str], Answer] = {}
    topics_dir = root / "topics"
    if topics_dir.is_dir():
        for topic_dir in sorted(p for p in topics_dir.iterdir() if p.is_dir()):
            if topic_dir.name not in ALL_TOPICS:
                loader.problem(
                    topic_dir,
                    1,
                    f"unknown topic {topic_dir.name!r}; topic ids are {', '.join(ALL_TOPICS)}",
                )
                continue
            for path in sorted(topic_dir.glob("*.y*ml")):
                language = path.stem
                if path.suffix != ".yml" or language not in languages:
                    loader.problem(
                        path, 1, f"name the file <language>.yml with one of {', '.join(languages)}"
                    )
                    continue
                answer = loader.answer(
                    path, topic_dir.name, language, countries, confirmed, blocked
                )
                if answer is not None:
                    answers[(topic_dir.name, language)] = answer
    for info in languages.values():
        if not info.complete:
            continue
        for topic in ALL_TOPICS:
            path = topics_dir / topic / f"{info.code}.yml"
            if (topic, info.code) not in answers and path.exists() is False:
                loader.problem(path, 1, f"missing: every topic needs an answer in {info.name}")
    if loader.problems:
        return None, loader.problems
    snapshot = ContentSnapshot(
        answers=answers,
        languages=languages,
        country_names=countries,
        distress=PhraseMatcher(safety["distress"], safety["distress_alone"]),
        request_human=PhraseMatcher(safety["request_human"], safety["request_human_alone"]),
        commands=commands,
        fingerprint=fingerprint,
        channels=channels,
        canned=canned,
    )
    return snapshot, []
