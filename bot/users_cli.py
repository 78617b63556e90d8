"""`python -m bot users add|totp`: console accounts from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.accounts import AccountError, Accounts, Role
from bot.db.migrate import upgrade
from bot.db.session import make_engine, make_sessionmaker
from bot.settings import Settings


async def run_users_command(settings: Settings, args: argparse.Namespace) -> int:
    """Create an account or turn on its second factor; exit code 0 on success, 1 on refusal."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    accounts = Accounts(make_sessionmaker(engine), settings.secret_key)
    try:
        if args.users_command == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass("Password (at least 12 characters): ")
                if getpass.getpass("Again: ") != password:
                    print("The two passwords differ; nothing was created.")
                    return 1
            role = Role(args.role)
            await accounts.add(args.username, password, role)
            print(f"Account {args.username.strip().lower()!r} created ({role}).")
            if not role.sees_people:
                print("Editors see only the content pages: never the queue or a conversation.")
        else:
            uri = await accounts.enable_totp(args.username)
            print("Add this to an authenticator app (or make a QR code of it):")
            print(uri)
        return 0
    except AccountError as exc:
        print(f"Not done: {exc}.")
        return 1
    finally:
        await engine.dispose()
