"""The console in a real browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shutil
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.accounts import Accounts, Role
from bot.db.session import make_engine, make_sessionmaker
from tests.factories import App, build_app, message
from tests.fakes.server import ServerThread

PASSWORD = "a long enough password"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (make test installs it); never a browser Playwright downloads."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed; `make test` installs it with apt-get")
    return path


def asyncio_run_in_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion; Playwright's sync API owns this thread's event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab, closed afterwards (so the live queue's connection ends)."""
    tab = browser.new_page()
    yield tab
    tab.close()


@pytest.fixture
def served(sqlite_url: str, content_copy: Path) -> Iterator[tuple[App, str]]:
    """The gateway on a real port, with one caseworker account and two people waiting."""
    app = build_app(sqlite_url, content_copy)

    async def account() -> None:
        engine = make_engine(app.settings.database_url)
        accounts = Accounts(make_sessionmaker(engine), app.settings.secret_key)
        await accounts.add("ana", PASSWORD, Role.CASEWORKER)
        await accounts.add("sara", PASSWORD, Role.SUPERVISOR)
        await engine.dispose()

    asyncio_run_in_thread(account())
    with ServerThread(app.app, name="gateway") as server:
        with httpx.Client(base_url=server.url) as client:
            client.post("/api/web/messages", json=message("p1", "quero falar com uma pessoa"))
            client.post(
                "/api/web/messages",
                json=message("p2", "socorro, me prenderam e tiraram o meu passaporte"),
            )
        yield app, server.url


def sign_in_as(page: Page, url: str, username: str) -> None:
    """Fill in the sign-in form."""
    page.goto(f"{url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_caseworker_signs_in_sees_the_queue_and_signs_out(
    page: Page, served: tuple[App, str]
) -> None:
    """In chromium: the sign-in form, a wrong password, then the queue with distress on top."""
    _app, url = served
    page.goto(f"{url}/console")
    expect(page).to_have_url(f"{url}/console/login")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username, password or code")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/console")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("distress")
    expect(rows.first).to_contain_text("me prenderam")
    expect(rows.nth(1)).to_contain_text("request")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["rota_console"]["httpOnly"] is True
    assert page.evaluate("document.cookie").find("rota_console") == -1
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/console/login")
    page.goto(f"{url}/console")
    expect(page).to_have_url(f"{url}/console/login")


def test_a_caseworker_takes_a_chat_answers_and_hands_it_back(
    browser: Browser, page: Page, served: tuple[App, str]
) -> None:
    """In chromium: open the distress case, take it, reply, see it in the transcript, finish."""
    _app, url = served
    sign_in_as(page, url, "ana")
    page.locator("table.queue tbody tr").first.get_by_role("link").click()
    expect(page.locator("#status")).to_contain_text("queued (distress)")
    expect(page.locator("ol.transcript")).to_contain_text("me prenderam")
    page.get_by_role("button", name="Take this conversation").click()
    expect(page.locator("#assigned")).to_have_text("ana")
    page.get_by_label("Your reply").fill("Olá, sou a Ana. Está num lugar seguro agora?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("ol.transcript li.caseworker")).to_contain_text("sou a Ana")
    with httpx.Client(base_url=url) as person:
        inbox = person.get("/api/web/messages", params={"user_id": "p2"}).json()
    assert inbox["messages"][-1]["text"] == "Olá, sou a Ana. Está num lugar seguro agora?"
    page.get_by_role("button", name="Done: back to the assistant").click()
    expect(page).to_have_url(f"{url}/console")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    with httpx.Client(base_url=url) as person:
        again = person.post(
            "/api/web/messages", json=message("p2", "obrigada, e os meus direitos?")
        )
    assert again.json()["status"] == "bot"
    assert again.json()["replies"][0]["topic"] == "warning_signs"  # the assistant answers again
    supervisor = browser.new_context().new_page()
    sign_in_as(supervisor, url, "sara")
    supervisor.goto(f"{url}/console/audit")
    for step in ("view_transcript", "claim", "reply", "resolve"):
        expect(supervisor.locator("table.audit")).to_contain_text(step)
    supervisor.context.close()


def test_the_queue_updates_live_and_alerts_on_a_new_distress_case(
    page: Page, served: tuple[App, str]
) -> None:
    """Without reloading: a new person in danger appears in the queue and raises the alert."""
    _app, url = served
    sign_in_as(page, url, "ana")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#alert")).to_be_hidden()
    with httpx.Client(base_url=url) as person:
        person.post(
            "/api/web/messages",
            json=message("p3", "help me please, they locked me in and took my passport"),
        )
    expect(rows).to_have_count(3, timeout=2_000)  # the requirement: within 2 seconds
    expect(page.locator("#alert")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^\(!\) "))
    expect(rows.nth(1)).to_contain_text("locked me in")
    page.get_by_role("button", name="Seen").click()
    expect(page.locator("#alert")).to_be_hidden()


def test_two_caseworkers_claim_in_two_browsers_and_one_is_refused(
    browser: Browser, served: tuple[App, str]
) -> None:
    """Two sessions on the same case: the first claim wins, the second is told who has it."""
    app, url = served
    asyncio_run_in_thread(app.app.state.components.accounts.add("rui", PASSWORD, Role.CASEWORKER))
    tabs = []
    for name in ("ana", "rui"):
        context = browser.new_context()
        tab = context.new_page()
        sign_in_as(tab, url, name)
        tab.locator("table.queue tbody tr").first.get_by_role("link").click()
        tabs.append(tab)
    tabs[0].get_by_role("button", name="Take this conversation").click()
    expect(tabs[0].locator("#assigned")).to_have_text("ana")
    tabs[1].get_by_role("button", name="Take this conversation").click()
    expect(tabs[1].locator("main")).to_contain_text("another caseworker took this conversation")
    for tab in tabs:
        tab.context.close()


def test_an_editor_previews_a_topic_edits_its_file_and_sees_the_new_text(
    page: Page, served: tuple[App, str], content_copy: Path
) -> None:
    """In chromium: content page (no queue), WhatsApp's numbered options, an edit after a reload."""
    app, url = served
    asyncio_run_in_thread(app.app.state.components.accounts.add("eva", PASSWORD, Role.EDITOR))
    sign_in_as(page, url, "eva")
    expect(page).to_have_url(f"{url}/console/content")
    expect(page.get_by_role("link", name="Queue")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("me prenderam")
    page.locator('[data-cell="welcome/pt"]').get_by_role("link").click()
    expect(page).to_have_url(f"{url}/console/content/welcome/pt")
    whatsapp = page.get_by_role("region", name="WhatsApp")
    expect(whatsapp).to_contain_text("Responda com um número:")
    expect(whatsapp).to_contain_text("1. Migrar com segurança")
    expect(whatsapp).to_contain_text("4. Números de ajuda")
    telegram = page.get_by_role("region", name="Telegram")
    expect(telegram.get_by_role("listitem")).to_have_count(4)
    expect(telegram).to_contain_text("/ 4096 characters")
    path = content_copy / "topics/welcome/pt.yml"
    text = path.read_text("utf-8")
    path.write_text(
        text.replace("Olá! Sou a Rota Segura", "Bom dia! Sou a Rota Segura", 1), "utf-8"
    )
    page.reload()  # a content page reads the files as they are now
    expect(telegram).to_contain_text("Bom dia! Sou a Rota Segura")
    expect(whatsapp).to_contain_text("Bom dia! Sou a Rota Segura")
    expect(whatsapp).to_contain_text("1. Migrar com segurança")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{url}/console/content/welcome/es")
    expect(whatsapp).to_contain_text("1. ")
