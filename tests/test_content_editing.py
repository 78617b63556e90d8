"""Editors' tools: the checker on a broken copy, translation age, contact age, status, languages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.content.loader import load_content
from bot.content.status import main as content_status
from bot.content.status import stamp
from bot.content.store import ContentStore
from bot.settings import PROJECT_ROOT
from tests.factories import build_app, message

FIXTURES = PROJECT_ROOT / "tests/data/content"


def overlay(content_copy: Path, fixture: str) -> Path:
    """Lay a fixture's files over a copy of content/ and remove the files it lists."""
    source = FIXTURES / fixture
    for path in source.rglob("*.yml"):
        target = content_copy / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    removals = source / "remove.txt"
    for relative in removals.read_text().split() if removals.exists() else []:
        (content_copy / relative).unlink()
    return content_copy


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot <args>` as an editor (or `make content-check`) would."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=120,
    )


def test_a_broken_copy_fails_with_one_file_line_message_per_fault(content_copy: Path) -> None:
    """Missing translation, unknown contact, bad placeholder, too long for WhatsApp, bad YAML."""
    overlay(content_copy, "broken")
    result = run_cli("content-check", str(content_copy))
    assert result.returncode == 1
    errors = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("content/") and ": warning: " not in line
    ]
    expected = [
        line.split(" | ")
        for line in (FIXTURES / "broken/expected.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(errors) == len(expected) == 5, result.stdout
    for where, *words in expected:
        [match] = [line for line in errors if line.startswith(where)]
        assert all(word in match for word in words), match
    assert "5 error(s)" in result.stdout and "nothing changes for users" in result.stdout


def test_the_shipped_content_passes_the_command_with_no_warning() -> None:
    """`python -m bot content-check` (what `make content-check` runs) exits 0 on content/."""
    result = run_cli("content-check")
    assert result.returncode == 0, result.stdout
    assert "content OK" in result.stdout and "0 warning(s)" in result.stdout


def test_an_edited_source_text_marks_its_translations_outdated(content_copy: Path) -> None:
    """Changing the English text warns on pt and es; stamping one clears its warning."""
    path = content_copy / "topics/goodbye/en.yml"
    path.write_text(path.read_text().replace("text: |\n", "text: |\n  Thank you.\n", 1))
    snapshot, problems = load_content(content_copy)
    assert snapshot is not None, "a warning must not stop the bot from using the edit"
    outdated = sorted(p.format(content_copy) for p in problems)
    assert [line.split(":")[0] for line in outdated] == [
        "content/topics/goodbye/es.yml",
        "content/topics/goodbye/pt.yml",
    ]
    assert all("warning: outdated" in line and "translated_from: " in line for line in outdated)
    stamp(content_copy / "topics/goodbye/pt.yml")
    _, after = load_content(content_copy)
    assert [p.path.name for p in after] == ["es.yml"]


def test_a_source_edit_of_only_examples_or_sources_outdates_nothing(content_copy: Path) -> None:
    """Only words a person reads count: new example questions need no new translation."""
    path = content_copy / "topics/documents/en.yml"
    with path.open("a") as handle:
        handle.write("examples:\n  - where do I keep a copy of my passport\n")
    _, problems = load_content(content_copy)
    assert problems == []


def test_a_contact_checked_too_long_ago_is_a_warning(content_copy: Path) -> None:
    """Past recheck_after_days a contact is flagged with its line; the check still passes."""
    result = run_cli("content-check", str(content_copy), "--today", "2027-08-01")
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "last checked" in line]
    assert len(lines) == 11
    assert any(
        line.startswith("content/contacts.yml:")
        and "za_trafficking_line (0800 222 777) was last checked 248 days ago" in line
        and "check it with A21" in line
        for line in lines
    )
    contacts = content_copy / "contacts.yml"
    contacts.write_text(
        contacts.read_text().replace("recheck_after_days: 180", "recheck_after_days: 365")
    )
    calm = run_cli("content-check", str(content_copy), "--today", "2027-08-01")
    assert "last checked" not in calm.stdout


def test_content_status_prints_topics_by_languages(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ok, outdated, MISSING and → fallback, as `make content-status` shows them."""
    overlay(content_copy, "french")
    path = content_copy / "topics/rights/en.yml"
    path.write_text(path.read_text().replace("text: |\n", "text: |\n  Updated.\n", 1))
    assert content_status([str(content_copy)]) == 0
    table = {
        line.split()[0]: line.split()[1:]
        for line in capsys.readouterr().out.splitlines()
        if line and line.split()[0] in ("topic", "rights", "welcome", "privacy")
    }
    assert table["topic"][:4] == ["en", "pt", "es", "fr"]
    assert table["rights"][:3] == ["ok", "outdated", "outdated"]
    assert table["welcome"][:4] == ["ok", "ok", "ok", "ok"]
    assert table["privacy"][3:5] == ["→", "en"]


def test_a_missing_answer_in_a_complete_language_is_missing_in_the_status(
    content_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status needs loadable content: with a topic missing it points to content-check."""
    (content_copy / "topics/rights/pt.yml").unlink()
    assert content_status([str(content_copy)]) == 1
    out = capsys.readouterr().out
    assert "content/topics/rights/pt.yml:1: missing" in out and "make content-check" in out


def test_a_new_partial_language_falls_back_and_says_so(content_copy: Path) -> None:
    """A language added in languages.yml with two topics: the rest come in English, noted."""
    overlay(content_copy, "french")
    store = ContentStore(content_copy)
    welcome = store.render("welcome", "fr")
    assert welcome.language == "fr" and welcome.text.startswith("Bonjour")
    privacy = store.render("privacy", "fr")
    english = store.render("privacy", "en")
    assert privacy.language == "en"
    assert privacy.text == (
        "Cette réponse n'existe pas encore en français. La voici en anglais :\n\n" + english.text
    )


def test_a_partial_language_needs_a_fallback_and_a_note(content_copy: Path) -> None:
    """Without `fallback:` and `fallback_note:` the language is refused with the line."""
    overlay(content_copy, "french")
    path = content_copy / "languages.yml"
    data = yaml.safe_load(path.read_text())
    del data["languages"]["fr"]["fallback_note"]
    data["languages"]["fr"]["fallback"] = "xx"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    messages = [p.format(content_copy) for p in problems]
    assert any("'fr' is not complete, so it needs `fallback:`" in m for m in messages)
    assert any("write `fallback_note:` in Français" in m for m in messages)


@pytest.mark.anyio
async def test_a_person_can_choose_the_new_language_and_read_it(
    sqlite_url: str, content_copy: Path
) -> None:
    """Naming the language switches to it; its topics come in French, others noted in English."""
    overlay(content_copy, "french")
    app = build_app(sqlite_url, content_copy)
    app.rasa.route = lambda _text: "goodbye"
    async with app.client() as client:
        await client.post("/api/web/messages", json=message("fr-person", "hello"))
        switched = (
            await client.post("/api/web/messages", json=message("fr-person", "français"))
        ).json()
        bye = (
            await client.post("/api/web/messages", json=message("fr-person", "merci, au revoir"))
        ).json()
        menu = (
            await client.post("/api/web/messages", json=message("fr-person", payload="lang:fr"))
        ).json()
    # The person's language is French from now on; language_set has no French text yet,
    # so its English text comes after the French note.
    assert switched["language"] == "fr"
    assert switched["replies"][0]["text"].startswith("Cette réponse n'existe pas encore")
    assert bye["language"] == "fr" and bye["replies"][0]["text"].startswith("Au revoir.")
    assert menu["replies"][0]["text"].startswith("Cette réponse")


def test_faulty_contacts_are_reported_on_their_lines(content_copy: Path) -> None:
    """An unconfirmed status, a bad country, kind or date: each named with the contact id."""
    path = content_copy / "contacts.yml"
    text = path.read_text()
    text = text.replace(
        "    country: ZA\n    kind: hotline", "    country: ZZ\n    kind: hotline", 1
    )
    text = text.replace("    kind: emergency\n", "    kind: siren\n", 1)
    text = text.replace(
        "    status: confirmed\n    source: gob.mx",
        "    status: not confirmed\n    source: gob.mx",
        1,
    )
    text = text.replace(
        "checked: 2026-11-26\n  us_trafficking_text", "checked: last week\n  us_trafficking_text", 1
    )
    path.write_text(text)
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    lines = path.read_text().splitlines()
    found = {p.message.split(":")[0].split(" ")[0]: p for p in problems if p.path == path}
    assert "unknown country 'ZZ'" in found["za_trafficking_line"].message
    assert lines[found["za_trafficking_line"].line - 1].strip() == "country: ZZ"
    assert "kind must be one of" in found["za_police"].message
    assert "only numbers the facts sheet marks confirmed" in found["mx_emergency"].message
    assert "must be the date you checked it" in found["us_trafficking_hotline"].message


def test_an_impossible_date_is_a_file_line_error_not_a_crash(content_copy: Path) -> None:
    """`checked: 2026-11-31` names the line; the live store keeps the last good content."""
    store = ContentStore(content_copy, check_interval=0)
    before = store.render("blue_heart", "en").text
    path = content_copy / "topics/blue_heart/en.yml"
    path.write_text(path.read_text().replace("checked: 2026-11-26", "checked: 2026-11-31"))
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    [problem] = [p for p in problems if not p.warning]
    assert problem.path == path and "'2026-11-31' is not a real date" in problem.message
    assert path.read_text().splitlines()[problem.line - 1].startswith("checked: 2026-11-31")
    assert store.render("blue_heart", "en").text == before


def test_a_whatsapp_text_of_its_own_lets_the_main_text_be_longer(content_copy: Path) -> None:
    """Over 1,600 characters is fine for Telegram when WhatsApp has its own shorter text."""
    path = content_copy / "topics/goodbye/en.yml"
    long_text = "Take care of yourself and keep copies of your papers. " * 35
    path.write_text(
        f"text: |\n  {long_text.strip()}\n"
        "channels:\n  whatsapp:\n    text: |\n      Take care. Keep copies of your papers.\n"
    )
    snapshot, problems = load_content(content_copy)
    assert snapshot is not None, [p.format(content_copy) for p in problems]
    assert snapshot.answers[("goodbye", "en")].by_channel["whatsapp"].startswith("Take care.")


def test_a_fault_only_the_schema_knows_is_reported_by_the_check(content_copy: Path) -> None:
    """contacts.yml: a number written without quotes is flagged on its line by the schema."""
    path = content_copy / "contacts.yml"
    path.write_text(path.read_text().replace('number: "10111"', "number: 10111", 1))
    result = run_cli("content-check", str(content_copy))
    assert result.returncode == 1
    lines = path.read_text().splitlines()
    [error] = [line for line in result.stdout.splitlines() if line.startswith("content/contacts")]
    line_number = int(error.split(":")[1])
    assert lines[line_number - 1].strip() == "number: 10111"


def test_unusual_keys_and_broken_schemas_are_problems_not_crashes(content_copy: Path) -> None:
    """`NO:` (Norway) under by_country, a list as a key, a broken schema: file:line, no crash."""
    store = ContentStore(content_copy)
    path = content_copy / "topics/goodbye/en.yml"
    path.write_text(path.read_text() + "by_country:\n  NO: |\n    Hei.\n")
    (content_copy / "topics/goodbye/pt.yml").write_text("? [a, b]\n: c\n")
    (content_copy / "schema/canned.schema.json").write_text("{ broken")
    assert store.reload() is False
    assert store.loaded and store.render("goodbye", "es").text  # the last good content stays
    messages = [p.format(content_copy) for p in store.problems]
    assert any("goodbye/en.yml" in m and "unknown country" in m for m in messages)
    assert any("goodbye/pt.yml:1:" in m and "a key must be a word" in m for m in messages)
    assert any("schema/canned.schema.json:1:" in m and "schema is broken" in m for m in messages)


def test_a_partial_language_must_fall_back_to_a_complete_one(content_copy: Path) -> None:
    """Two partial languages pointing at each other would leave a person with no reply."""
    overlay(content_copy, "french")
    path = content_copy / "languages.yml"
    path.write_text(
        path.read_text().replace("fallback: en", "fallback: de")
        + "  de:\n    name: Deutsch\n    complete: false\n    fallback: fr\n"
        + "    fallback_note: Diese Antwort gibt es noch nicht auf Deutsch.\n    names: [deutsch]\n"
    )
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    assert sum("needs `fallback:` set to a complete language" in p.message for p in problems) == 2
