"""Screenshots of the console for docs/ (queue and transcript), in Debian's chromium.

`.venv/bin/python -m tools.console_screenshots`: a throwaway gateway (SQLite, Rasa
faked at its HTTP edge, as in the tests) with three people waiting.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "screenshot-secret-key-" + "x" * 20)
os.environ.setdefault("RASA_TOKEN", "screenshot-rasa-token-" + "y" * 10)
os.environ.setdefault("DATA_KEYS", "ZmVybmV0LXRlc3Qta2V5LWZvci1yb3RhLXNlZ3VyYSE=")

import httpx
from playwright.sync_api import sync_playwright

from bot.accounts import Role
from tests.factories import build_app
from tests.fakes.server import ServerThread
from tools.model import ROOT

PASSWORD = "screenshot password"
PEOPLE = [
    ("p1", "quero falar com uma pessoa sobre um emprego em Joanesburgo"),
    ("p2", "ayuda, el patron me quito el pasaporte y no me deja salir"),
    ("p3", "I want to talk to a human please"),
]


def main() -> int:
    """Write docs/console-queue.png and docs/console-transcript.png."""
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "content"
        shutil.copytree(ROOT / "content", content)
        app = build_app(f"sqlite:///{Path(tmp) / 'rota.db'}", content)
        accounts = app.app.state.components.accounts
        asyncio.run(accounts.add("ana", PASSWORD, Role.CASEWORKER))
        with ServerThread(app.app, name="gateway") as server:
            with httpx.Client(base_url=server.url) as client:
                for person, text in PEOPLE:
                    client.post("/api/web/messages", json={"user_id": person, "text": text})
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                )
                page = browser.new_page(viewport={"width": 1100, "height": 520})
                page.goto(f"{server.url}/console/login")
                page.get_by_label("Username").fill("ana")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("table.queue tbody tr")
                page.screenshot(path=str(ROOT / "docs" / "console-queue.png"))
                page.locator("table.queue tbody tr").first.get_by_role("link").click()
                page.get_by_role("button", name="Take this conversation").click()
                page.get_by_label("Your reply").fill(
                    "Hola, soy Ana. ¿Estás en un lugar seguro ahora?"
                )
                page.get_by_role("button", name="Send", exact=True).click()
                page.get_by_label("Note").fill("Employer holds her passport; farm near Tapachula.")
                page.get_by_role("button", name="Add note").click()
                page.set_viewport_size({"width": 1100, "height": 1300})
                page.screenshot(path=str(ROOT / "docs" / "console-transcript.png"), full_page=True)
                browser.close()
    print("wrote docs/console-queue.png and docs/console-transcript.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
