"""channels.yml: the bot's Telegram profile and WhatsApp's words, per language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.content.model import ChannelWords, LanguageInfo, TelegramProfile
from bot.content.yamlfile import LineDict, line_of

# The Telegram Bot API's limits for a bot's profile and command menu.
TELEGRAM_PROFILE_LIMITS = {"name": 64, "short_description": 120, "description": 512}
TELEGRAM_COMMANDS = ("start", "help", "language", "delete")
TELEGRAM_COMMAND_LIMIT = 256
MAX_NUMBERED_HINT = 60


class ChannelWordsReader:
    """Checks channels.yml against the channels' limits; every fault goes to `report`."""

    def __init__(self, report: Callable[..., None]) -> None:
        self.report = report

    def read(self, data: Any, path: Path, languages: dict[str, LanguageInfo]) -> ChannelWords:
        """The Telegram profile and WhatsApp words per language from loaded channels.yml."""
        if not isinstance(data, LineDict):
            if data is not None:
                self.report(path, 1, "expected `telegram:` and `whatsapp:` mappings by language")
            return ChannelWords()
        for key in data:
            if key not in ("telegram", "whatsapp"):
                self.report(
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
                self.report(
                    path,
                    line_of(entry, "numbered_hint"),
                    f"whatsapp {code}: "
                    "write `numbered_hint:`, the line shown before numbered options",
                )
            elif len(hint.strip()) > MAX_NUMBERED_HINT:
                self.report(
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
            self.report(path, line_of(data, channel), f"`{channel}:` must map languages")
            return {}
        result: dict[str, LineDict] = {}
        for code, entry in table.items():
            if code not in languages:
                self.report(path, line_of(table, code), f"{channel}: unknown language {code!r}")
            elif not isinstance(entry, LineDict):
                self.report(path, line_of(table, code), f"{channel} {code}: expected a mapping")
            else:
                result[str(code)] = entry
        for info in languages.values():
            if info.complete and info.code not in table:
                what = (
                    "name, short_description, description and commands"
                    if channel == "telegram"
                    else "numbered_hint"
                )
                self.report(
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
                self.report(
                    path,
                    line,
                    f"telegram {code}: write `{key}:` as text, at most {limit} characters",
                )
            elif len(value.strip()) > limit:
                self.report(
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
            self.report(
                path,
                line_of(entry, "commands"),
                f"telegram {code}: `commands:` must describe {', '.join(TELEGRAM_COMMANDS)}",
            )
        else:
            for name in TELEGRAM_COMMANDS:
                text = commands.get(name)
                if not isinstance(text, str) or not text.strip():
                    self.report(
                        path,
                        line_of(commands, name) if name in commands else line_of(entry, "commands"),
                        f"telegram {code}: describe the /{name} command",
                    )
                elif len(text.strip()) > TELEGRAM_COMMAND_LIMIT:
                    self.report(
                        path,
                        line_of(commands, name),
                        f"telegram {code}: /{name} "
                        f"description is over {TELEGRAM_COMMAND_LIMIT} characters",
                    )
                else:
                    described[name] = text.strip()
            for name in commands:
                if name not in TELEGRAM_COMMANDS:
                    self.report(
                        path,
                        line_of(commands, name),
                        f"telegram {code}: unknown command "
                        f"{name!r}; the commands are {', '.join(TELEGRAM_COMMANDS)}",
                    )
        if len(values) < len(TELEGRAM_PROFILE_LIMITS) or len(described) < len(TELEGRAM_COMMANDS):
            return None
        return TelegramProfile(commands=described, **values)

    # --- answers ------------------------------------------------------------
