"""The bot's public face on Telegram: name, descriptions, / menu and picture, set from content/."""

from __future__ import annotations

import logging
from pathlib import Path

from telegram import Bot, BotCommand, InputProfilePhotoStatic
from telegram.error import TelegramError

from bot.content.model import TelegramProfile
from bot.content.store import ContentStore
from bot.settings import Settings

log = logging.getLogger(__name__)


async def apply_profile(bot: Bot, profiles: dict[str, TelegramProfile], default: str) -> int:
    """Set each language's name, descriptions and menu where Telegram differs; failures counted.

    The default language's profile is also set without a language code (for everyone else).
    """
    failures = 0
    for code, profile in profiles.items():
        for language in (code, None) if code == default else (code,):
            try:
                if (await bot.get_my_name(language_code=language)).name != profile.name:
                    await bot.set_my_name(profile.name, language_code=language)
                described = await bot.get_my_description(language_code=language)
                if described.description != profile.description:
                    await bot.set_my_description(profile.description, language_code=language)
                short = await bot.get_my_short_description(language_code=language)
                if short.short_description != profile.short_description:
                    await bot.set_my_short_description(
                        profile.short_description, language_code=language
                    )
                await bot.set_my_commands(
                    [BotCommand(name, text) for name, text in profile.commands.items()],
                    language_code=language,
                )
            except TelegramError as exc:
                failures += 1
                log.warning("Telegram profile (%s) not applied: %s", code, type(exc).__name__)
    return failures


async def apply_profile_command(settings: Settings, photo: Path | None) -> int:
    """`python -m bot telegram-profile [--photo p.jpg]`: apply the profile now; exit code."""
    if not settings.telegram_bot_token:
        print("TELEGRAM_BOT_TOKEN is not set; there is no Telegram bot to change.")
        return 2
    if photo is not None and (not photo.is_file() or photo.suffix.lower() not in (".jpg", ".jpeg")):
        print(f"{photo}: give an existing .jpg file (Telegram takes JPEG pictures).")
        return 2
    store = ContentStore(settings.content_dir)
    profiles = store.current().channels.telegram
    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_url)
    async with bot:
        failures = await apply_profile(bot, profiles, settings.default_language)
        if photo is not None:
            try:
                await bot.set_my_profile_photo(InputProfilePhotoStatic(photo.read_bytes()))
            except TelegramError as exc:
                print(f"The picture was not set: {exc}")
                failures += 1
    print(
        f"Telegram profile applied for {', '.join(sorted(profiles))}"
        + (" and the picture set" if photo is not None and not failures else "")
        + (f"; {failures} step(s) failed (see the log)" if failures else ".")
    )
    return 1 if failures else 0
