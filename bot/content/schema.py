"""Check loaded content YAML against content/schema/*.schema.json, with editor messages.

The JSON Schemas give editors completion and hover help (VS Code with the Red Hat YAML
extension); this module runs the same schemas in Python and turns each validation error
into a `file:line` problem with a fix in plain words. `make content-check` stays the
authority: it also checks what a schema cannot (lengths per channel, phone numbers,
placeholders, cross-file references).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from bot.content.model import ContentProblem
from bot.content.yamlfile import LineDict, LineList, line_of
from bot.settings import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "content" / "schema"

# What a key that is missing is for, said as the thing to write.
MISSING_FIXES: dict[str, str] = {
    "text": "write the answer",
    "title": "write the words on the button",
    "payload": "write where the button leads (a topic id, lang:xx, country:XX, "
    "delete:confirm or delete:cancel)",
    "by": "write who reviewed it",
    "at": "write the date of the review, like 2026-11-26",
    "contacts": "list the contacts under their ids",
    "languages": "list the languages under their codes",
    "fallback": "write the code of the language missing topics are shown in, like en",
    "fallback_note": "write one sentence in this language saying the answer follows in the "
    "fallback language",
    "checked": "write the date you checked it, like 2026-11-26",
    "status": "write `status: confirmed` (only confirmed numbers belong here)",
    "why": "write why the number must not be used",
}

TYPE_NAMES: dict[str, str] = {
    "object": "a set of `key: value` lines (indented under it)",
    "array": "a list, one `- ` line per item",
    "string": "text (put it in quotes if it is only digits, or starts with a symbol)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

# Plain words for the patterns the schemas use.
PATTERN_HELP: dict[str, str] = {
    "^[A-Z]{2}$": "a two-letter country code in capitals, like MZ",
    "^[a-z]{2}$": "a two-letter language code in small letters, like pt",
    "^[0-9a-f]{10}$": "the 10-character hash that `make content-status` shows; "
    "let `make content-stamp FILES=...` write it",
    "^[a-z][a-z0-9_]{1,39}$": "2-40 lower-case letters, digits and _, starting with a "
    "letter (like za_trafficking_line)",
    "^[a-z][a-z0-9_]{2,39}$": "a topic id: 3-40 lower-case letters, digits and _, "
    "starting with a letter (like visa_fees)",
    "^[a-z][a-z0-9_]*$": "lower-case letters, digits and _, starting with a letter",
    "^([a-z][a-z0-9_]{2,39}|lang:[a-z]{2}|country:[A-Z]{2}|delete:confirm|delete:cancel)$": (
        "a topic id (a folder in content/topics, like help_contacts), lang:xx (like lang:pt), "
        "country:XX (like country:MZ), delete:confirm or delete:cancel"
    ),
    "^(?!\\s*/)[^\\[\\]\\n]*\\S[^\\[\\]\\n]*$": (
        "one line of words without [ or ], not starting with / (put it in quotes if it has a colon)"
    ),
    "^\\+?[0-9(][0-9 ().-]*[0-9]$": "digits, spaces, - ( ) and . only, like 0800 222 777 "
    '(in quotes if it is only digits, like "116")',
    "\\d": "the number with its digits, in quotes",
    "[^\\s*]": "words (a phrase cannot be only `*`)",
}


@functools.lru_cache(maxsize=64)
def _validator(text: str) -> Draft202012Validator:
    """Build (and check) the validator for one version of a schema file (keyed by its text)."""
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def plain(value: Any) -> Any:
    """YAML data as JSON data: dates as ISO strings, keys as strings, lists and dicts plain."""
    if isinstance(value, dt.datetime):
        return value.isoformat()  # has a time, so it is not a `format: date`
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {_key_text(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def schema_problems(
    data: Any, path: Path, schema: str, schema_dir: Path = SCHEMA_DIR
) -> list[ContentProblem]:
    """Every way `data` (loaded from `path`) breaks content/schema/<schema>.schema.json."""
    # Validators and results are cached by the schema's text: an edited schema is read anew.
    schema_text = (schema_dir / f"{schema}.schema.json").read_text(encoding="utf-8")
    instance = plain(data)
    try:
        document = json.dumps(instance, ensure_ascii=False)
    except (TypeError, ValueError):  # a YAML value JSON cannot hold: check it directly
        errors: Iterable[ValidationError] = _validator(schema_text).iter_errors(instance)
    else:
        errors = _errors(schema_text, document)
    problems: list[ContentProblem] = []
    for error in errors:
        problems.extend(_problems(error, data, path))
    problems.sort(key=lambda p: p.line)
    return problems


@functools.lru_cache(maxsize=2048)
def _errors(schema_text: str, document: str) -> tuple[ValidationError, ...]:
    """A JSON document's schema errors, kept: an unchanged file is not validated again."""
    return tuple(_validator(schema_text).iter_errors(json.loads(document)))


def _key_text(key: Any) -> str:
    """A YAML key as JSON text (`yes:` loads as True; JSON keys are strings)."""
    if isinstance(key, dt.date):
        return key.isoformat()
    return key if isinstance(key, str) else str(key)


def _child(container: Any, key: str | int) -> tuple[Any, Any]:
    """The original key in a loaded container for a JSON path step, and its value."""
    if isinstance(container, dict):
        if key in container:
            return key, container[key]
        for original, value in container.items():
            if _key_text(original) == key:
                return original, value
        return key, None
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return key, container[key]
    return key, None


def _walk(data: Any, steps: Iterable[str | int]) -> tuple[Any, int]:
    """The loaded value at a JSON path, and the line of its deepest key (1 for the file)."""
    node, line = data, 1
    for step in steps:
        original, child = _child(node, step)
        if isinstance(node, LineDict | LineList):
            line = line_of(node, original, line)
        node = child
    return node, line


def _name(steps: Sequence[str | int]) -> str:
    """How an editor would call the place at a path: `title:` (buttons item 2)."""
    if not steps:
        return "the file"
    last = steps[-1]
    if isinstance(last, int):
        parent = f"`{steps[-2]}:`" if len(steps) > 1 else "the list"
        return f"item {last + 1} of {parent}"
    where = [f"item {s + 1}" if isinstance(s, int) else str(s) for s in steps[:-1]]
    inside = f" (in {' > '.join(where)})" if where else ""
    return f"`{last}:`{inside}"


def _allowed(schema: dict[str, Any]) -> list[str]:
    """The keys a mapping's schema allows, by name."""
    return list(schema.get("properties", {}))


def _problems(error: ValidationError, data: Any, path: Path) -> list[ContentProblem]:
    """One validation error as editor problems (one per unknown key)."""
    steps: list[str | int] = list(error.absolute_path)
    node, line = _walk(data, steps)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    name = _name(steps)
    if "propertyNames" in error.absolute_schema_path:
        key = str(error.instance)
        original, _ = _child(node, key)
        line = line_of(node, original, line)
        return [ContentProblem(path, line, _key_fix(key, kind, schema, name))]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = _allowed(schema)
        patterns = list(schema.get("patternProperties", {}))
        extra = [
            key
            for key in error.instance
            if key not in known and not any(re.search(p, key) for p in patterns)
        ]
        allowed = ", ".join(known + [PATTERN_HELP.get(p, p) for p in patterns])
        result = []
        for key in extra:
            original, _ = _child(node, key)
            where = "" if not steps else f" under {name}"
            result.append(
                ContentProblem(
                    path,
                    line_of(node, original, line),
                    f"unknown key {key!r}{where}; allowed keys are {allowed} "
                    "(check the spelling and the indentation)",
                )
            )
        return result
    return [ContentProblem(path, line, _fix(error, name, schema))]


def _key_fix(key: str, kind: Any, schema: dict[str, Any], name: str) -> str:
    """The message for a mapping key that its schema's `propertyNames` refuses."""
    place = f" under {name}" if name != "the file" else ""
    if kind == "pattern":
        pattern = str(schema.get("pattern"))
        help_text = PATTERN_HELP.get(pattern) or _lower_first(schema.get("description", ""))
        return f"{key!r}{place} is not a usable name: use {help_text}"
    if kind == "enum":
        return f"{key!r}{place} is not allowed; use one of {_values(schema)}"
    return f"{key!r}{place} is not allowed"


def _lower_first(text: str) -> str:
    """A description used inside a sentence."""
    return text[:1].lower() + text[1:]


def _values(schema: dict[str, Any]) -> str:
    """A schema's allowed values, for a message."""
    return ", ".join(str(v) for v in schema.get("enum", []))


def _fix(error: ValidationError, name: str, schema: dict[str, Any]) -> str:
    """One validation error as what is wrong and how to fix it, in plain words."""
    kind = error.validator
    value = error.instance
    described = schema.get("description", "")
    if kind == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        key = missing.group(1) if missing else "?"
        wanted = schema.get("properties", {}).get(key, {}).get("description", "")
        fix = MISSING_FIXES.get(key) or f"add it: {_lower_first(wanted) or 'see content/README.md'}"
        where = "" if name == "the file" else f" under {name}"
        return f"`{key}:` is missing{where}; {fix}"
    if kind == "type" and name == "the file":
        return "the file is empty or is not `key: value` lines; see content/README.md"
    if kind == "type" and schema.get("type") == "string" and isinstance(value, dict):
        return (
            f"{name} has a colon and a space (`: `), so YAML reads it as `key: value`; "
            "put the whole text in quotes, or write it as a `|` block"
        )
    if kind == "type":
        wanted = schema.get("type")
        words = TYPE_NAMES.get(str(wanted), str(wanted))
        return f"{name} must be {words}"
    if kind == "maxLength":
        return (
            f"{name} is {len(str(value))} characters; the limit is {schema['maxLength']}: "
            "shorten it"
        )
    if kind == "minLength":
        return f"{name} is empty; write it"
    if kind == "maxItems":
        count = len(value) if isinstance(value, list) else 0
        limit = int(schema["maxItems"])
        return f"{name} has {count} items; at most {limit}: remove {count - limit}"
    if kind == "minItems":
        return f"{name} is empty; give at least {schema['minItems']} item(s)"
    if kind == "uniqueItems":
        return f"{name} has the same item twice; remove one"
    if kind == "minimum":
        return f"{name} is {value}; it must be at least {schema['minimum']}"
    if kind == "maximum":
        return f"{name} is {value}; it must be at most {schema['maximum']}"
    if kind in ("enum", "const"):
        allowed = _values(schema) or str(schema.get("const"))
        return f"{name} is {value!r}; use one of: {allowed}"
    if kind == "format" and schema.get("format") == "date":
        return f"{name} must be a date like 2026-11-26 (year-month-day), not {value!r}"
    if kind == "pattern":
        pattern = str(schema.get("pattern"))
        if pattern == "\\S":
            return f"{name} is empty; write it"
        help_text = PATTERN_HELP.get(pattern) or _lower_first(described)
        return f"{name} {value!r} is not allowed: use {help_text}"
    return f"{name}: {error.message}"
