"""Content JSON Schemas: the real files validate, mistakes get file:line messages with a fix."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.content.loader import load_content
from bot.content.model import ContentProblem
from bot.content.schema import SCHEMA_DIR, plain, schema_problems
from bot.content.yamlfile import load_yaml
from bot.settings import PROJECT_ROOT
from tools.content_modelines import main as modelines_main
from tools.content_modelines import refresh

CONTENT = PROJECT_ROOT / "content"
SCHEMAS = sorted(SCHEMA_DIR.glob("*.schema.json"))

# Which schema each registry file follows.
REGISTRIES = {
    "contacts.yml": "contacts",
    "languages.yml": "languages",
    "channels.yml": "channels",
    "canned.yml": "canned",
    "countries.yml": "countries",
    "commands.yml": "commands",
    "preview_safety.yml": "preview_safety",
}


def real_files() -> Iterator[Any]:
    """Every content file that has a schema, with that schema's name."""
    for path in sorted((CONTENT / "topics").glob("*/*.yml")):
        relative = path.relative_to(CONTENT / "topics").as_posix()
        yield pytest.param(path, "answer", id=f"topics/{relative}")
    for name, schema in REGISTRIES.items():
        yield pytest.param(CONTENT / name, schema, id=name)
    for path in sorted((CONTENT / "safety").glob("*.yml")):
        yield pytest.param(path, "safety", id=f"safety/{path.name}")


def problems_in(path: Path, schema: str) -> list[ContentProblem]:
    return schema_problems(load_yaml(path), path, schema)


def only_problem(path: Path, schema: str = "answer") -> ContentProblem:
    """The single problem a broken file must give."""
    problems = problems_in(path, schema)
    assert len(problems) == 1, [p.format(path.parent) for p in problems]
    return problems[0]


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` once; return the 1-based line where the replacement starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    start = text.index(old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:start].count("\n") + 1


# --- the schemas themselves -------------------------------------------------


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named property in a schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                for name, sub in value.items():
                    yield f"{where}/{name}", sub
            if key != "if":  # a condition, not a place an editor types
                yield from properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from properties(item, f"{where}/{index}")


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_property_has_hover_help(path: Path) -> None:
    """Editors see `title` and `description` when they hover over a key."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    found = list(properties(schema))
    assert found
    for where, sub in found:
        assert sub.get("title") and sub.get("description"), f"{path.name}{where}"


def test_the_schemas_know_the_checkers_limits_and_names() -> None:
    from bot.content.answers import ANSWER_KEYS, CHANNELS_WITH_TEXTS, MAX_EXAMPLE, MAX_TITLE
    from bot.content.contacts import CONTACT_KINDS, OPTIONAL, REQUIRED

    answer = json.loads((SCHEMA_DIR / "answer.schema.json").read_text(encoding="utf-8"))
    assert tuple(answer["properties"]) == ANSWER_KEYS
    assert tuple(answer["properties"]["channels"]["properties"]) == CHANNELS_WITH_TEXTS
    assert answer["$defs"]["button"]["properties"]["title"]["maxLength"] == MAX_TITLE
    assert answer["properties"]["examples"]["items"]["maxLength"] == MAX_EXAMPLE
    contacts = json.loads((SCHEMA_DIR / "contacts.schema.json").read_text(encoding="utf-8"))
    contact = contacts["$defs"]["contact"]
    assert tuple(contact["required"]) == REQUIRED
    assert set(contact["properties"]) == set(REQUIRED + OPTIONAL)
    assert tuple(contact["properties"]["kind"]["enum"]) == CONTACT_KINDS


def test_payload_pattern_accepts_exactly_the_payload_kinds() -> None:
    answer = json.loads((SCHEMA_DIR / "answer.schema.json").read_text(encoding="utf-8"))
    pattern = answer["$defs"]["button"]["properties"]["payload"]["pattern"]
    good = ["help_contacts", "human_handoff", "lang:pt", "country:MZ", "delete:confirm"]
    good.append("delete:cancel")
    bad = ["lang:PT", "lang:english", "country:mz", "country:MOZ", "delete:yes", "Help", "x"]
    bad += ["help contacts", "topic:help_contacts", ""]
    assert all(re.search(pattern, payload) for payload in good)
    assert not any(re.search(pattern, payload) for payload in bad)


# --- the real files ---------------------------------------------------------


@pytest.mark.parametrize(("path", "schema"), list(real_files()))
def test_every_real_content_file_matches_its_schema(path: Path, schema: str) -> None:
    assert [p.format(CONTENT) for p in problems_in(path, schema)] == []


def test_the_registries_name_their_schema_in_their_first_line() -> None:
    for name, schema in REGISTRIES.items():
        first = (CONTENT / name).read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=./schema/{schema}.schema.json", name


def test_every_shipped_answer_file_names_its_schema() -> None:
    """Editors get completion in every answer file: the modeline is on each one."""
    assert modelines_main([str(CONTENT), "--check"]) == 0


def test_vscode_settings_map_every_schema_to_existing_files() -> None:
    settings = json.loads((PROJECT_ROOT / ".vscode" / "settings.json").read_text("utf-8"))
    mapping: dict[str, list[str]] = settings["yaml.schemas"]
    assert {(PROJECT_ROOT / schema).resolve() for schema in mapping} == {
        path.resolve() for path in SCHEMAS
    }
    for globs in mapping.values():
        for pattern in globs:
            assert list(PROJECT_ROOT.glob(pattern)), pattern


# --- broken files: one problem each, on the right line, with a fix -----------


def test_unknown_key_names_the_allowed_keys(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    line = edit(path, "text: |", "txet: |")
    text = path.read_text(encoding="utf-8")
    path.write_text("text: |\n  Take care.\n" + text, encoding="utf-8")
    problem = only_problem(path)
    assert problem.line == line + 2
    assert problem.message.startswith("unknown key 'txet'; allowed keys are text, buttons,")


def test_missing_text_says_to_write_the_answer(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    path.write_text("sources:\n  - a source\nchecked: 2026-11-26\n", encoding="utf-8")
    problem = only_problem(path)
    assert (problem.line, problem.message) == (1, "`text:` is missing; write the answer")


def test_wrong_type_says_what_it_must_be(content_copy: Path) -> None:
    path = content_copy / "topics" / "privacy" / "en.yml"
    line = edit(path, "buttons:\n  - title: Delete my data\n", "buttons:\n    title: Delete\n")
    problem = only_problem(path)
    assert problem.line == line
    assert problem.message.startswith("`buttons:` must be a list")


def test_over_long_button_title_gives_its_length_and_the_limit(content_copy: Path) -> None:
    path = content_copy / "topics" / "privacy" / "en.yml"
    line = edit(path, "title: Delete my data", "title: Delete all my messages and data")
    problem = only_problem(path)
    assert problem.line == line
    assert "is 31 characters; the limit is 24" in problem.message
    assert "`title:`" in problem.message and "buttons" in problem.message


def test_bad_country_code_in_by_country(content_copy: Path) -> None:
    path = content_copy / "topics" / "help_contacts" / "en.yml"
    line = edit(path, "  MZ: |", "  Moz: |")
    problem = only_problem(path)
    assert problem.line == line
    assert "'Moz'" in problem.message
    assert "two-letter country code in capitals, like MZ" in problem.message


def test_bad_country_code_in_contacts(content_copy: Path) -> None:
    path = content_copy / "contacts.yml"
    line = edit(path, "country: ZA\n    kind: hotline", "country: za\n    kind: hotline")
    problem = only_problem(path, "contacts")
    assert problem.line == line
    assert problem.message.startswith("`country:` (in contacts > za_trafficking_line) 'za'")


@pytest.mark.parametrize("payload", ["lang:english", "country:mz", "delete:yes", "Help Me"])
def test_bad_payload_names_the_payload_kinds(content_copy: Path, payload: str) -> None:
    path = content_copy / "topics" / "delete_data" / "en.yml"
    line = edit(path, "payload: delete:confirm", f"payload: {payload}")
    problem = only_problem(path)
    assert problem.line == line
    assert repr(payload) in problem.message
    for kind in ("a topic id", "lang:xx", "country:XX", "delete:confirm", "delete:cancel"):
        assert kind in problem.message


@pytest.mark.parametrize("written", ["26/11/2026", "2026-11-26 10:00:00", "'2026-11-31'"])
def test_bad_date_asks_for_year_month_day(content_copy: Path, written: str) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    line = edit(path, "checked: 2026-11-26", f"checked: {written}")
    problem = only_problem(path)
    assert problem.line == line
    assert problem.message.startswith("`checked:` must be a date like 2026-11-26 (year-month-day)")


def test_review_needs_by_and_at(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "reviewed:\n  by: Maputo team\n", encoding="utf-8")
    problem = only_problem(path)
    assert problem.line == text.count("\n") + 1
    assert problem.message.startswith("`at:` is missing under `reviewed:`")


def test_translated_from_must_be_the_hash(content_copy: Path) -> None:
    path = content_copy / "topics" / "welcome" / "en.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "translated_from: yesterday\n", encoding="utf-8")
    problem = only_problem(path)
    assert problem.line == text.count("\n") + 1
    assert "make content-stamp" in problem.message


def test_example_rules(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    text = path.read_text(encoding="utf-8")
    long = "why " * 59 + "now?"
    path.write_text(
        text + f"examples:\n  - bye\n  - /start\n  - a [link]\n  - {long}\n", encoding="utf-8"
    )
    problems = problems_in(path, "answer")
    first = text.count("\n") + 2
    assert [p.line for p in problems] == [first + 1, first + 2, first + 3]
    assert "not starting with /" in problems[0].message
    assert "is 240 characters; the limit is 200" in problems[2].message


def test_a_colon_in_a_source_asks_for_quotes(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    line = edit(path, "  - US National", "  - Audit: erasure must be real\n  - US National")
    problem = only_problem(path)
    assert problem.line == line
    assert "put the whole text in quotes" in problem.message


def test_contact_status_must_be_confirmed(content_copy: Path) -> None:
    path = content_copy / "contacts.yml"
    line = edit(path, "status: confirmed", "status: not confirmed")
    problem = only_problem(path, "contacts")
    assert problem.line == line
    assert problem.message.endswith("use one of: confirmed")


def test_partial_language_needs_fallback_and_note(content_copy: Path) -> None:
    path = content_copy / "languages.yml"
    line = edit(path, "languages:\n", "languages:\n  fr:\n    name: Français\n    fallback: en\n")
    problem = only_problem(path, "languages")
    assert problem.line == line + 1
    assert problem.message.startswith("`fallback_note:` is missing under `fr:`")


def test_yaml_keys_that_are_not_text_do_not_crash(content_copy: Path) -> None:
    """`NO:` (Norway) loads as False in YAML 1.1; the message still names it."""
    path = content_copy / "countries.yml"
    line = edit(path, "  SV:\n", "  NO:\n    names: [norway]\n  SV:\n")
    problem = only_problem(path, "countries")
    assert problem.line == line
    assert "'False'" in problem.message


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "en.yml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert only_problem(path).message.startswith("the file is empty")


def test_dates_become_iso_text_and_datetimes_do_not_pass_as_dates() -> None:
    value = {"at": dt.date(2026, 11, 26), "when": dt.datetime(2026, 11, 26, 10, 0)}
    assert plain(value) == {"at": "2026-11-26", "when": "2026-11-26T10:00:00"}


# --- the modeline tool ------------------------------------------------------


def test_modelines_are_added_once_and_change_nothing_the_checker_sees(
    content_copy: Path,
) -> None:
    for path in (content_copy / "topics").glob("*/*.yml"):  # as an editor's new file would be
        text = path.read_text(encoding="utf-8")
        path.write_text(text.split("\n", 1)[1] if text.startswith("# yaml-") else text)
    before, before_problems = load_content(content_copy)
    assert before is not None and before_problems == []
    changed = refresh(content_copy)
    assert len(changed) == len(before.answers)
    for path in changed:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schema/answer.schema.json"
    assert refresh(content_copy) == []
    assert modelines_main([str(content_copy), "--check"]) == 0
    after, after_problems = load_content(content_copy)
    assert after is not None and after_problems == []
    assert {k: a.words_hash for k, a in after.answers.items()} == {
        k: a.words_hash for k, a in before.answers.items()
    }


def test_modeline_tool_replaces_a_wrong_schema_line(content_copy: Path) -> None:
    path = content_copy / "topics" / "goodbye" / "en.yml"
    original = path.read_text(encoding="utf-8")
    path.write_text("# yaml-language-server: $schema=old.json\n" + original, encoding="utf-8")
    assert modelines_main([str(content_copy), "--check"]) == 1
    refresh(content_copy)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0] == "# yaml-language-server: $schema=../../schema/answer.schema.json\n"
    assert "".join(lines[1:]) == original


# --- content/README.md: every full example passes the checker and the schema --

WHOLE_FILE = re.compile(r"^# (content/\S+\.yml)\b")
FRAGMENT = re.compile(r"^# in (content/\S+\.yml), under (\w+):$")


def readme_examples() -> list[tuple[str, str, str | None]]:
    """The README's YAML examples that name their file: (path, text, key to insert under)."""
    text = (CONTENT / "README.md").read_text(encoding="utf-8")
    found: list[tuple[str, str, str | None]] = []
    for match in re.finditer(r"^( *)```yaml\n(.*?)^\1```", text, re.S | re.M):
        first, _, rest = textwrap.dedent(match.group(2)).partition("\n")
        if whole := WHOLE_FILE.match(first):
            found.append((whole.group(1), rest, None))
        elif part := FRAGMENT.match(first):
            found.append((part.group(1), rest, part.group(2)))
    return found


def test_the_editors_guide_examples_pass_the_checker_and_the_schema(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    examples = readme_examples()
    assert len(examples) >= 10
    for relative, text, under in examples:
        path = tmp_path / relative
        if under is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        else:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            at = lines.index(f"{under}:\n") + 1
            lines[at:at] = [text]
            path.write_text("".join(lines), encoding="utf-8")
    snapshot, problems = load_content(root)
    assert [p.format(root) for p in problems if not p.warning] == []
    assert snapshot is not None
    assert "migapp" in snapshot.topics and "fr" in snapshot.languages
    assert snapshot.answers[("migapp", "pt")].translated_from == (
        snapshot.answers[("migapp", "en")].words_hash
    )
    schemas = {"topics": "answer", **{n.removesuffix(".yml"): s for n, s in REGISTRIES.items()}}
    for relative, _, _ in examples:
        path = tmp_path / relative
        parts = Path(relative).parts
        schema = schemas[parts[1] if parts[1] == "topics" else parts[1].removesuffix(".yml")]
        assert [p.format(root) for p in problems_in(path, schema)] == [], relative
