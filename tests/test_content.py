"""Content: every answer loads; editors get file:line errors; edits apply without restart."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.content.check import main as content_check
from bot.content.loader import load_content
from bot.content.store import ContentStore
from bot.settings import PROJECT_ROOT
from bot.topics import ALL_TOPICS


def problems_in(root: Path) -> list[str]:
    """The errors (not warnings) the checker finds in a content tree that must not load."""
    snapshot, problems = load_content(root)
    assert snapshot is None
    return [p.format(root) for p in problems if not p.warning]


def test_the_shipped_content_is_complete_and_valid() -> None:
    """Every topic exists in en, pt and es and passes every check."""
    snapshot, problems = load_content(PROJECT_ROOT / "content")
    assert problems == []
    assert snapshot is not None
    for topic in ALL_TOPICS:
        for language in ("en", "pt", "es"):
            assert (topic, language) in snapshot.answers


def test_no_answer_types_a_number_and_every_contact_is_registered() -> None:
    """Numbers live once, in contacts.yml; answers only name them as {contact:ID}."""
    import re

    from bot.content.phones import phone_numbers

    registry = yaml.safe_load((PROJECT_ROOT / "content/contacts.yml").read_text())["contacts"]
    known = frozenset(re.sub(r"\D", "", str(c["number"])) for c in registry.values())
    for path in (PROJECT_ROOT / "content/topics").rglob("*.yml"):
        data = yaml.safe_load(path.read_text())
        texts = [data["text"], *(data.get("by_country") or {}).values()]
        for text in texts:
            assert not phone_numbers(re.sub(r"\{[^}]*\}", " contact ", text), known), path
            assert set(re.findall(r"\{contact:(\w+)\}", text)) <= set(registry), path


def edit(root: Path, relative: str, old: str, new: str) -> Path:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_broken_yaml_is_reported_with_file_line_and_fix(content_copy: Path) -> None:
    """A tab or a stray colon names the file and line, and says what to check."""
    path = content_copy / "topics/welcome/en.yml"
    lines = path.read_text().splitlines()
    lines.insert(2, "buttons: [unclosed")
    path.write_text("\n".join(lines) + "\n")
    [problem] = problems_in(content_copy)
    assert problem.startswith("content/topics/welcome/en.yml:")
    assert "not valid YAML" in problem and "indentation" in problem


def test_an_answer_too_long_for_whatsapp_is_refused(content_copy: Path) -> None:
    """Over 1,600 characters (WhatsApp's limit) is an error naming the channel and the fix."""
    path = content_copy / "topics/goodbye/es.yml"
    data = yaml.safe_load(path.read_text())
    data["text"] = "palabra " * 210
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    [problem] = problems_in(content_copy)
    assert "content/topics/goodbye/es.yml:" in problem
    assert "1679 characters on whatsapp" in problem and "whatsapp allows 1600" in problem
    assert "`channels:`" in problem


def test_a_long_answer_within_every_limit_is_only_a_warning(content_copy: Path) -> None:
    """1,200 characters fits every channel: the bot uses it, the editor is told it is long."""
    path = content_copy / "topics/goodbye/es.yml"
    data = yaml.safe_load(path.read_text())
    data["text"] = "palabra " * 150
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    snapshot, problems = load_content(content_copy)
    assert snapshot is not None
    [warning] = [p.format(content_copy) for p in problems]
    assert "goodbye/es.yml" in warning and "warning: " in warning and "hard to read" in warning


def test_an_unconfirmed_phone_number_is_refused(content_copy: Path) -> None:
    """A number not in contacts.yml cannot reach a person."""
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Call 0861 555 123 any time. ")
    [problem] = problems_in(content_copy)
    assert "0861 555 123" in problem and "is not in content/contacts.yml" in problem


def test_a_number_marked_not_confirmed_is_refused_by_name(content_copy: Path) -> None:
    """The Mozambican police 119 (not confirmed) is named as such."""
    edit(content_copy, "topics/goodbye/pt.yml", "text: ", "text: Ligue 119 se precisar. ")
    [problem] = problems_in(content_copy)
    assert "119" in problem and "not confirmed" in problem


def test_a_registered_number_typed_into_an_answer_names_its_placeholder(
    content_copy: Path,
) -> None:
    """Typing 0800 222 777 is an error that says to write {contact:za_trafficking_line}."""
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Call 0800 222 777. ")
    [problem] = problems_in(content_copy)
    assert "{contact:za_trafficking_line}" in problem and "typed into the answer" in problem


def test_a_placeholder_renders_the_registered_number(content_copy: Path) -> None:
    """{contact:ID} becomes the number from contacts.yml; changing it there changes every answer."""
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Call {contact:za_police}. ")
    store = ContentStore(content_copy, check_interval=0)
    assert store.render("goodbye", "en").text.startswith("Call 10111.")
    edit(content_copy, "contacts.yml", 'number: "10111"', 'number: "10 111"')
    bump_mtime(content_copy / "contacts.yml")
    assert store.render("goodbye", "en").text.startswith("Call 10 111.")


def test_unknown_contacts_and_placeholders_are_refused_with_a_suggestion(
    content_copy: Path,
) -> None:
    """A misspelt contact id suggests the right one; any other {placeholder} is unknown."""
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Call {contact:za_polise}. ")
    edit(content_copy, "topics/goodbye/pt.yml", "text: ", "text: Olá {name}. ")
    problems = problems_in(content_copy)
    assert len(problems) == 2
    assert any(
        "goodbye/en.yml:" in p
        and "{contact:za_polise} names no contact" in p
        and "did you mean {contact:za_police}" in p
        for p in problems
    )
    assert any("goodbye/pt.yml:" in p and "unknown placeholder {name}" in p for p in problems)


def test_a_missing_topic_is_reported(content_copy: Path) -> None:
    (content_copy / "topics/blue_heart/es.yml").unlink()
    [problem] = problems_in(content_copy)
    assert "topics/blue_heart/es.yml" in problem and "missing" in problem


def test_bad_buttons_and_unknown_keys_are_reported(content_copy: Path) -> None:
    path = content_copy / "topics/fallback/en.yml"
    data = yaml.safe_load(path.read_text())
    data["buttons"] = [{"title": "A very long button title here", "payload": "nowhere"}]
    data["txet"] = "typo"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    problems = problems_in(content_copy)
    assert any("over 24 characters" in p for p in problems)
    assert any("'nowhere' points nowhere" in p for p in problems)
    assert any("unknown key 'txet'" in p for p in problems)


def test_content_check_command_exits_1_with_messages(content_copy: Path) -> None:
    """`make content-check` prints file:line lines and fails; clean content passes."""
    assert content_check([str(content_copy)]) == 0
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Call 0861 555 123. ")
    result = subprocess.run(
        [sys.executable, "-m", "bot.content.check", str(content_copy)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert "content/topics/goodbye/en.yml:" in result.stdout


def test_an_edit_changes_the_next_reply_without_restart(content_copy: Path) -> None:
    """Hot reload: the store serves the edited text on its next use."""
    store = ContentStore(content_copy, check_interval=0)
    before = store.render("goodbye", "en").text
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Edited farewell. ")
    bump_mtime(content_copy / "topics/goodbye/en.yml")
    after = store.render("goodbye", "en").text
    assert after != before and after.startswith("Edited farewell.")


@pytest.mark.anyio
async def test_in_the_gateway_the_watcher_loads_an_edit_not_the_reply(content_copy: Path) -> None:
    """Once the background look runs, a reply never reads files: the next look brings the edit."""
    store = ContentStore(content_copy, check_interval=0)
    before = store.render("goodbye", "en").text
    await store.look_for_edits()  # what the gateway's content watch does every 0.5 s
    edit(content_copy, "topics/goodbye/en.yml", "text: ", "text: Edited farewell. ")
    bump_mtime(content_copy / "topics/goodbye/en.yml")
    assert store.render("goodbye", "en").text == before
    await store.look_for_edits()
    assert store.render("goodbye", "en").text.startswith("Edited farewell.")


def test_a_broken_edit_keeps_the_last_good_content_and_logs_the_error(
    content_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A mistake in a file never takes the bot down; the editor sees file:line in the log."""
    store = ContentStore(content_copy, check_interval=0)
    good = store.render("goodbye", "es").text
    path = content_copy / "topics/goodbye/es.yml"
    path.write_text("text: [broken\n")
    bump_mtime(path)
    with caplog.at_level(logging.ERROR):
        assert store.render("goodbye", "es").text == good
    assert "content/topics/goodbye/es.yml:" in caplog.text
    assert store.problems


def bump_mtime(path: Path) -> None:
    """Make sure the change is visible even on coarse file-system clocks."""
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


EMERGENCY_WORDS = {"en": "in (immediate )?danger", "pt": "em perigo", "es": "en peligro"}


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_every_emergency_reply_gives_the_emergency_advice_and_a_number(language: str) -> None:
    """Each variant of the distress reply says what to do if in danger now and shows a number."""
    import re

    from bot.content.phones import phone_numbers

    snapshot, _ = load_content(PROJECT_ROOT / "content")
    assert snapshot is not None
    answer = snapshot.answers[("emergency", language)]
    for text in [answer.text, *answer.by_country.values()]:
        assert re.search(EMERGENCY_WORDS[language], text, re.IGNORECASE), text
        assert phone_numbers(text, frozenset({"116", "911", "10111"})), text
        assert len(text) <= 600


def test_channel_texts_are_checked_like_answers(content_copy: Path) -> None:
    """A channel variant: unknown channel, empty text, over WhatsApp's limit, or with by_country."""
    path = content_copy / "topics/delete_done/en.yml"
    data = yaml.safe_load(path.read_text())
    data["channels"]["signal"] = {"text": "hello"}
    data["channels"]["whatsapp"] = {"text": "x " * 850}
    data["channels"]["telegram"] = {"txt": "typo"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    both = content_copy / "topics/help_contacts/en.yml"
    with both.open("a") as handle:
        handle.write("channels:\n  telegram:\n    text: Call someone.\n")
    problems = problems_in(content_copy)
    assert any("delete_done/en.yml" in p and "unknown channel 'signal'" in p for p in problems)
    assert any("(channel whatsapp) is 1699 characters on whatsapp" in p for p in problems)
    assert any("the telegram variant needs a `text: |` block" in p for p in problems)
    assert any(
        "help_contacts/en.yml" in p and "`by_country:` or `channels:`" in p for p in problems
    )


def test_the_telegram_profile_is_checked_against_telegrams_limits(content_copy: Path) -> None:
    """channels.yml: a name over 64 characters, a missing command, a missing language."""
    path = content_copy / "channels.yml"
    data = yaml.safe_load(path.read_text())
    data["telegram"]["en"]["name"] = "N" * 65
    del data["telegram"]["pt"]["commands"]["delete"]
    del data["whatsapp"]["es"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    problems = problems_in(content_copy)
    assert any("channels.yml" in p and "name has 65 characters" in p for p in problems)
    assert any("telegram pt: describe the /delete command" in p for p in problems)
    assert any("`whatsapp:` has no `es:` section" in p for p in problems)


def test_canned_replies_need_every_language_and_no_phone_numbers(content_copy: Path) -> None:
    """canned.yml: a missing translation or a typed phone number is an error with its line."""
    path = content_copy / "canned.yml"
    data = yaml.safe_load(path.read_text())
    del data["canned"]["hello"]["es"]
    data["canned"]["safe_to_talk"]["en"] = "Call 0800 222 777 now."
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    problems = problems_in(content_copy)
    assert any("canned.yml" in p and "hello: write the" in p and "(es:)" in p for p in problems)
    assert any(
        "safe_to_talk (en) has a typed phone number" in p and "{contact:ID}" in p for p in problems
    )


def test_alarming_words_are_kept_out_of_a_lock_screen_preview(content_copy: Path) -> None:
    """'Trafficking' in the first 60 characters is an error; further in, it is fine."""
    path = content_copy / "topics/goodbye/en.yml"
    data = yaml.safe_load(path.read_text())
    data["text"] = "Trafficking help is here whenever you need it. Goodbye!"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    problems = problems_in(content_copy)
    line = 1 + next(n for n, t in enumerate(path.read_text().splitlines()) if t.startswith("text:"))
    assert any(
        f"topics/goodbye/en.yml:{line}:" in p and "'trafficking' in its first 60 characters" in p
        for p in problems
    )
    data["text"] = "Goodbye, and take care. Whenever you need it, help with trafficking is here."
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    snapshot, problems_after = load_content(content_copy)
    assert snapshot is not None
    assert all(p.warning and "outdated" in p.message for p in problems_after)


def test_canned_replies_name_numbers_by_contact_id(content_copy: Path) -> None:
    """A ready reply may give a hotline as {contact:ID}; the caseworker sends the number."""
    path = content_copy / "canned.yml"
    data = yaml.safe_load(path.read_text())
    data["canned"]["safe_to_talk"]["en"] = "You can also call {contact:za_trafficking_line}."
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    snapshot, problems = load_content(content_copy)
    assert snapshot is not None, problems
    assert snapshot.canned["safe_to_talk"].texts["en"] == "You can also call 0800 222 777."
