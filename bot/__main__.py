"""Command line: `python -m bot serve|migrate|content-check|content-status|users|...`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from bot.db import crypto
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

# How long the server keeps an idle connection open. Clients that pool connections must
# let them go sooner, or they may write into one being closed (Rasa's NLG keeps 15 s).
KEEP_ALIVE_SECONDS = 75


async def rotate_keys_command(settings: Settings) -> int:
    """Re-encrypt every message and note body under the newest key of DATA_KEYS."""
    from bot.db.session import make_engine

    engine = make_engine(settings.database_url)
    try:
        result = await crypto.rotate(engine)
    finally:
        await engine.dispose()
    for table, _column in crypto.SEALED_COLUMNS:
        print(
            f"{table}: {result.resealed[table]} re-encrypted, {result.current[table]} already "
            f"current, {result.unreadable[table]} unreadable (no key opens them)"
        )
    return 1 if any(result.unreadable.values()) else 0


async def purge_command(settings: Settings, days: int | None, dry_run: bool) -> int:
    """Delete (or with --dry-run count) what is older than the retention period; print counts."""
    from bot.db.session import make_engine, make_sessionmaker
    from bot.engine import RasaEngine
    from bot.retention import purge

    days = settings.retention_days if days is None else days
    engine = make_engine(settings.database_url)
    rasa = RasaEngine(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds)
    try:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        result = await purge(make_sessionmaker(engine), rasa, cutoff, dry_run=dry_run)
    finally:
        await rasa.close()
        await engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    print(f"older than {days} days, {verb}:")
    for name, count in result.counts.items():
        print(f"  {name}: {count}")
    if result.engine_pending:
        print(f"  kept until the Rasa engine can forget them: {result.engine_pending}")
        return 1
    return 0


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
    commands.add_parser(
        "rotate-keys", help="re-encrypt message and note bodies under the newest DATA_KEYS key"
    )
    purge = commands.add_parser(
        "purge", help="delete conversations quiet for longer than RETENTION_DAYS; prints counts"
    )
    purge.add_argument("--days", type=int, help="instead of RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["content-check"]:
        from bot.content.check import main as run_check

        return run_check(given[1:])
    if given[:1] == ["content-status"]:
        from bot.content.status import main as run_status

        return run_status(given[1:])
    args = parser.parse_args(given)

    try:
        settings = load_settings()
    except SettingsError as exc:
        parser.exit(2, f"settings: {exc}\n")
    configure_logging(settings)
    # Message and note bodies are sealed with these keys (bot/db/crypto.py).
    crypto.configure(settings.data_keys)
    if args.command == "rotate-keys":
        return asyncio.run(rotate_keys_command(settings))
    if args.command == "purge":
        if args.days is not None and args.days < 1:
            parser.exit(2, "purge: --days must be at least 1\n")
        return asyncio.run(purge_command(settings, args.days, args.dry_run))
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
        # Compiled event loop and HTTP parser (uvicorn picks them only if named or "auto").
        loop="uvloop",
        http="httptools",
        log_level="info",
        # Uvicorn's own loggers go through our root handler (JSON or text, no texts).
        log_config=None,
        # Open live-queue streams must not hold a restart forever.
        timeout_graceful_shutdown=5,
        # Longer than the idle time of Rasa's NLG connection pool (rasa_project/nlg/gateway.py).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
