"""The console's content pages: editors see translation status and previews, never a person."""

from __future__ import annotations

import html
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.accounts import Role
from bot.content.loader import load_content
from tests.channel_kit import (
    CONSOLE_PASSWORD,
    console_account,
    console_routes,
    console_sign_in,
    csrf_in,
    rows,
    running,
)
from tests.factories import App, build_app, message

# The console checks the answer files for changes at most every 0.5 s.
RELOAD_WAIT = 0.6
PERSON_WORDS = "socorro, me prenderam e tiraram o meu passaporte"
FRENCH = (
    "  fr:\n"
    "    name: Français\n"
    "    complete: false\n"
    "    fallback: en\n"
    "    fallback_note: Pas encore traduit ; voici la réponse en anglais.\n"
    "    names: [francais, français, french]\n"
)


@pytest.fixture
def app(sqlite_url: str, content_copy: Path) -> App:
    return build_app(sqlite_url, content_copy)


@pytest.fixture
def editor(app: App) -> Iterator[TestClient]:
    """A browser signed in as the editor eva."""
    with running(app) as client:
        console_account(client, app, "eva", Role.EDITOR)
        assert console_sign_in(client, "eva") == 303
        yield client


def edit(path: Path, old: str, new: str) -> None:
    """Change an answer file as an editor would, then wait for the bot to notice."""
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")
    time.sleep(RELOAD_WAIT)


def cell(page: str, topic: str, language: str) -> str:
    """What the status table's cell for a topic in a language says."""
    found = re.search(rf'data-cell="{topic}/{language}"><a [^>]*>([^<]*)</a>', page)
    assert found is not None, f"no cell for {topic}/{language}"
    return html.unescape(found.group(1))


def channel(page: str, name: str) -> str:
    """The text of one channel's column in the preview (tags removed, entities decoded)."""
    found = re.search(rf'<section class="channel" id="channel-{name}".*?</section>', page, re.S)
    assert found is not None, f"no {name} column"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(0)))


def checks(page: str) -> str:
    """The text of the checks column beside the preview."""
    found = re.search(r'<aside class="checks".*?</aside>', page, re.S)
    assert found is not None, "no checks column"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(0)))


def test_an_editor_lands_on_the_content_page_and_never_sees_a_person(app: App) -> None:
    """Queue, conversations, export, audit, settings and their APIs all refuse an editor."""
    with running(app) as client:
        client.post("/api/web/messages", json=message("p1", PERSON_WORDS))
        ((conversation,),) = rows(app, "SELECT id FROM conversations")
        console_account(client, app, "eva", Role.EDITOR)
        client.cookies.clear()
        token = csrf_in(client.get("/console/login").text)
        signed = client.post(
            "/console/login",
            data={"csrf_token": token, "username": "eva", "password": CONSOLE_PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console/content"
        home = client.get("/console/content")
        assert home.status_code == 200
        assert "Translations" in home.text and 'href="/console/content"' in home.text
        assert 'href="/console">Queue' not in home.text
        seen = [home.text]
        queue = client.get("/console", follow_redirects=False)
        assert (queue.status_code, queue.headers["location"]) == (303, "/console/content")
        for path in (
            "/console/queue",
            "/console/api/queue",
            "/console/api/queue/events",
            f"/console/conversations/{conversation}",
            f"/console/conversations/{conversation}/export",
            "/console/audit",
            "/console/settings",
        ):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 403, path
            seen.append(response.text)
        csrf = csrf_in(home.text)
        for path in (f"/console/conversations/{conversation}/claim", "/console/settings"):
            response = client.post(path, data={"csrf_token": csrf, "numbers_visible": "yes"})
            assert response.status_code == 403, path
            seen.append(response.text)
    assert all(PERSON_WORDS not in page and "passaporte" not in page for page in seen)
    assert rows(app, "SELECT status, assigned_to FROM conversations") == [("queued", None)]
    assert rows(app, "SELECT value FROM console_settings") == []


def test_caseworkers_and_supervisors_may_read_the_content_pages_too(app: App) -> None:
    """Everyone has the Content link; caseworkers keep their queue."""
    with running(app) as client:
        console_account(client, app, "ana", Role.CASEWORKER)
        console_account(client, app, "sara", Role.SUPERVISOR)
        for name in ("ana", "sara"):
            assert console_sign_in(client, name) == 303
            queue = client.get("/console")
            assert queue.status_code == 200 and 'href="/console/content">Content' in queue.text
            assert client.get("/console/content").status_code == 200
            preview = client.get("/console/content/welcome/es")
            assert preview.status_code == 200 and "1. " in channel(preview.text, "whatsapp")


def test_a_translation_is_marked_outdated_when_its_english_source_changes(
    editor: TestClient, content_copy: Path
) -> None:
    """Change the English welcome: its Portuguese and Spanish cells turn outdated, with warnings."""
    before = editor.get("/console/content").text
    assert cell(before, "welcome", "pt") == "complete"
    edit(content_copy / "topics/welcome/en.yml", "Hi! I am Rota Segura", "Hello! I am Rota Segura")
    after = editor.get("/console/content").text
    assert cell(after, "welcome", "en") == "complete"
    assert cell(after, "welcome", "pt") == "outdated"
    assert cell(after, "welcome", "es") == "outdated"
    assert cell(after, "privacy", "pt") == "complete"
    assert (
        "content/topics/welcome/pt.yml:1: warning: outdated: content/topics/welcome/en.yml "
        "changed after this translation was made" in html.unescape(after)
    )
    assert 'id="disk-errors"' not in after  # a warning keeps nothing out of use
    link = re.search(r'data-cell="welcome/pt"><a href="([^"]+)"', after)
    assert link is not None and link.group(1) == "/console/content/welcome/pt"
    preview = editor.get(link.group(1)).text
    assert "Translation: outdated" in preview
    assert "warning: outdated" in checks(preview)


def test_a_partial_language_is_shown_in_its_fallback_and_the_preview_says_so(
    editor: TestClient, content_copy: Path
) -> None:
    """A new, untranslated French: every cell says English is shown; the preview shows the note."""
    edit(content_copy / "languages.yml", "  es:\n", FRENCH + "  es:\n")
    status = editor.get("/console/content").text
    assert "Français (fr)" in status
    assert cell(status, "welcome", "fr") == "fallback: shown in English"
    assert cell(status, "welcome", "en") == "complete"
    preview = editor.get("/console/content/welcome/fr").text
    assert "Not yet translated into Français" in html.unescape(preview)
    assert "read this\n  in English (en)" in html.unescape(preview)
    telegram = channel(preview, "telegram")
    assert "Pas encore traduit ; voici la réponse en anglais." in telegram
    assert "Hi! I am Rota Segura" in telegram
    assert "Reply with a number:\n1. Travel safely" in channel(preview, "whatsapp")


def test_a_deleted_translation_is_reported_missing_and_the_last_good_version_stays(
    editor: TestClient, content_copy: Path
) -> None:
    """Delete a Portuguese file: a red banner, the file:line message, and the old text in force."""
    (content_copy / "topics/privacy/pt.yml").unlink()
    time.sleep(RELOAD_WAIT)
    status = editor.get("/console/content").text
    assert 'id="disk-errors"' in status and "still using the last good version" in status
    assert (
        "content/topics/privacy/pt.yml:1: missing: every topic needs an answer in Português (pt)"
        in html.unescape(status)
    )
    assert cell(status, "privacy", "pt") == "complete"  # what people still get
    preview = editor.get("/console/content/privacy/pt").text
    assert "missing: every topic needs an answer" in checks(preview)
    assert channel(preview, "telegram").strip()


def test_the_preview_shows_each_channel_with_its_buttons_and_character_counts(
    editor: TestClient,
) -> None:
    """Telegram's buttons, WhatsApp's numbered options, and characters against each limit."""
    response = editor.get("/console/content/welcome/pt")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "<script" not in response.text
    page = response.text
    telegram, whatsapp, web = (channel(page, c) for c in ("telegram", "whatsapp", "web"))
    assert "Responda com um número:\n1. Migrar com segurança\n2. Verificar oferta" in whatsapp
    assert "4. Números de ajuda" in whatsapp
    assert "Migrar com segurança" in telegram and "1. Migrar" not in telegram
    buttons = re.search(r'id="channel-telegram".*?<ul class="buttons"[^>]*>(.*?)</ul>', page, re.S)
    assert buttons is not None and buttons.group(1).count("<li>") == 4
    counts = {
        name: re.search(r"(\d+) / (\d+) characters", view)
        for name, view in (("telegram", telegram), ("whatsapp", whatsapp), ("web", web))
    }
    assert all(found is not None for found in counts.values())
    numbers = {name: (int(m.group(1)), int(m.group(2))) for name, m in counts.items() if m}
    assert numbers["telegram"][1] == 4096 and numbers["whatsapp"][1] == 1600
    bubble = re.search(r'id="channel-telegram".*?<div class="bubble">(.*?)</div>', page, re.S)
    assert bubble is not None and numbers["telegram"][0] == len(html.unescape(bubble.group(1)))
    assert numbers["whatsapp"][0] > numbers["telegram"][0]  # the options are in the text
    assert "over the limit" not in page


def test_a_whatsapp_text_over_1600_characters_is_refused_beside_the_preview(
    editor: TestClient, content_copy: Path
) -> None:
    """Too long for WhatsApp: the checker's error beside it; people keep the text that fits."""
    long_line = "  Texto longo para ver o limite do WhatsApp. " * 40
    edit(content_copy / "topics/welcome/pt.yml", "text: |\n", f"text: |\n{long_line}\n")
    page = editor.get("/console/content/welcome/pt").text
    assert re.search(
        r"content/topics/welcome/pt\.yml:\d+: the text is \d+ characters on whatsapp with its "
        r"numbered options; whatsapp allows 1600",
        checks(page),
    )
    whatsapp = channel(page, "whatsapp")
    assert "Texto longo" not in whatsapp and "over the limit" not in whatsapp
    count = re.search(r"(\d+) / 1600 characters", whatsapp)
    assert count is not None and int(count.group(1)) <= 1600


def test_a_country_shows_that_countrys_own_text(editor: TestClient) -> None:
    """Choosing Mozambique shows the Mozambique text; the switch form leads there."""
    chosen = editor.get(
        "/console/content/show",
        params={"topic": "warning_signs", "language": "en", "country": "MZ"},
        follow_redirects=False,
    )
    assert chosen.headers["location"] == "/console/content/warning_signs/en?country=MZ"
    page = editor.get(chosen.headers["location"]).text
    assert "What has happened to people from Mozambique" in channel(page, "telegram")
    assert '<option value="MZ" selected>MZ (own text)</option>' in page
    plain = editor.get("/console/content/warning_signs/en").text
    assert "What has happened to people from Mozambique" not in channel(plain, "telegram")


def test_an_edited_answer_shows_on_the_next_load_without_a_restart(
    editor: TestClient, content_copy: Path
) -> None:
    """Save the file, reload the page: the new words in every channel."""
    path = content_copy / "topics/welcome/pt.yml"
    first = editor.get("/console/content/welcome/pt").text
    assert "Bem-vindo à nova Rota Segura" not in first
    lines = path.read_text("utf-8").split("\n")
    old_line = lines[lines.index("text: |") + 1].strip()
    edit(path, old_line, "Bem-vindo à nova Rota Segura.")
    page = editor.get("/console/content/welcome/pt").text
    for name in ("telegram", "whatsapp", "web"):
        assert "Bem-vindo à nova Rota Segura." in channel(page, name)
        assert old_line not in channel(page, name)


def test_a_broken_edit_shows_its_file_and_line_beside_the_last_good_text(
    editor: TestClient, content_copy: Path
) -> None:
    """Invalid YAML: the error with file:line beside the preview, which keeps the text in force."""
    path = content_copy / "topics/welcome/pt.yml"
    good = channel(editor.get("/console/content/welcome/pt").text, "telegram")
    path.write_text("text: Atenção: um texto novo\n", "utf-8")
    time.sleep(RELOAD_WAIT)
    page = editor.get("/console/content/welcome/pt").text
    assert "content/topics/welcome/pt.yml:1: this is not valid YAML" in checks(page)
    assert "error" in checks(page)
    assert 'id="disk-errors"' in page and "the last good version" in page
    assert channel(page, "telegram") == good
    assert "Atenção: um texto novo" not in channel(page, "telegram")


def test_an_unknown_topic_language_or_country_gets_a_not_found_page(editor: TestClient) -> None:
    """404s that say what is unknown, with any markup in the address shown as text."""
    for path in (
        "/console/content/no_such_topic/pt",
        "/console/content/welcome/xx",
        "/console/content/welcome/pt?country=ZZ",
        "/console/content/%3Cimg%20src=x%20onerror=alert(1)%3E/pt",
    ):
        response = editor.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
        assert "<img" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_without_any_good_content_the_editor_still_sees_what_to_fix(
    sqlite_url: str, content_copy: Path
) -> None:
    """Broken from the start: the content page lists the errors instead of failing."""
    (content_copy / "topics/privacy/pt.yml").write_text("text: [\n", "utf-8")
    app = build_app(sqlite_url, content_copy)
    with running(app) as client:
        console_account(client, app, "eva", Role.EDITOR)
        assert console_sign_in(client, "eva") == 303
        status = client.get("/console/content")
        preview = client.get("/console/content/privacy/pt")
    assert status.status_code == 200
    assert "no good version was ever loaded" in status.text
    assert "content/topics/privacy/pt.yml:2: this is not valid YAML" in html.unescape(status.text)
    assert preview.status_code == 503 and "this is not valid YAML" in preview.text


def test_every_casework_route_refuses_an_editor(editor: TestClient, app: App) -> None:
    """Walk the app's route table: only the content pages and signing out let an editor in."""
    open_to_editors = ("/console/login", "/console/logout", "/console/content")
    walked = console_routes(app, leave_out=open_to_editors)
    assert len({id(route) for route, _, _ in walked}) >= 10
    csrf = csrf_in(editor.get("/console/content").text)
    for _route, method, path in walked:
        response = editor.request(
            method, path, headers={"x-csrf-token": csrf}, follow_redirects=False
        )
        if response.status_code == 303:
            assert response.headers["location"] == "/console/content", (method, path)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


def test_the_users_command_creates_an_editor_who_lands_on_the_content_page(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bot users add eva --role editor`, then eva signs in to the content page."""
    from bot.__main__ import main

    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(CONSOLE_PASSWORD + "\n"))
    assert main(["users", "add", "eva", "--role", "editor", "--password-stdin"]) == 0
    assert rows(app, "SELECT username, role FROM staff") == [("eva", "editor")]
    with running(app) as client:
        assert console_sign_in(client, "eva") == 303
        landing = client.get("/console")
    assert landing.url.path == "/console/content"


def test_the_job_offer_topic_previews_the_guided_checks_first_question(
    editor: TestClient, content_copy: Path
) -> None:
    """What a person sees for job_offer_check is the check's opening, with its answer buttons."""
    snapshot, _ = load_content(content_copy)
    assert snapshot is not None
    check = snapshot.checks["job_offer_check"]
    words = check.words["es"]
    page = editor.get("/console/content/job_offer_check/es").text
    whatsapp = html.unescape(channel(page, "whatsapp"))
    assert words.questions[check.questions[0].id] in whatsapp
    assert f"1. {words.answers['yes']}" in whatsapp
    assert words.answers["stop"] in html.unescape(channel(page, "telegram"))
