"""Command line: `python -m bot serve|migrate|content-check|content-status|users|...`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.logs import quiet_libraries
from bot.settings import SettingsError, load_settings


def configure_logging() -> None:
    """Log our own events at INFO; libraries that would print URLs with tokens stay quiet."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    quiet_libraries()


def main(argv: list[str] | None = None) -> int:
    """Run one gateway command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (web chat, NLG, channels)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser(
        "content-check", help="check content/ and print file:line problems (--help for options)"
    )
    commands.add_parser(
        "content-status", help="topics x languages: complete, missing, outdated; or `stamp FILE`"
    )
    profile = commands.add_parser(
        "telegram-profile",
        help="apply the bot's Telegram name, descriptions and menu (content/channels.yml) now",
    )
    profile.add_argument("--photo", type=Path, help="also set the bot's picture (a .jpg file)")
    users = commands.add_parser("users", help="console accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    add = user_commands.add_parser("add", help="create an account (the password is asked for)")
    add.add_argument("username")
    add.add_argument("--role", choices=["caseworker", "supervisor", "editor"], default="caseworker")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    totp = user_commands.add_parser("totp", help="turn on the authenticator-app second factor")
    totp.add_argument("username")
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["content-check"]:
        from bot.content.check import main as run_check

        return run_check(given[1:])
    if given[:1] == ["content-status"]:
        from bot.content.status import main as run_status

        return run_status(given[1:])
    args = parser.parse_args(given)
    configure_logging()

    try:
        settings = load_settings()
    except SettingsError as exc:
        parser.exit(2, f"settings: {exc}\n")
    if args.command == "telegram-profile":
        from handlers.telegram_profile import apply_profile_command

        return asyncio.run(apply_profile_command(settings, args.photo))
    if args.command == "users":
        from bot.users_cli import run_users_command

        return asyncio.run(run_users_command(settings, args))
    if args.command == "migrate":
        from bot.db.migrate import upgrade

        upgrade(settings.database_url)
        return 0
    import uvicorn

    from bot.app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="info",
        # Open live-queue streams must not hold a restart forever.
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
