"""The help-contact registry (contacts.yml) and the `{contact:ID}` placeholders in answers."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.model import Contact
from bot.content.phones import digits
from bot.content.yamlfile import LineDict, LineList, line_of

CONTACT_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CONTACT_KINDS = ("hotline", "emergency", "report", "text", "tty", "office")
REQUIRED = ("number", "country", "kind", "name", "operator", "hours", "status", "source", "checked")
OPTIONAL = ("languages", "notes")
DEFAULT_RECHECK_DAYS = 180
PLACEHOLDER = re.compile(r"\{([^{}\n]*)\}")

Report = Callable[[Path, int, str], None]


@dataclass
class Registry:
    """Confirmed contacts by id, numbers that must never appear, and the re-check age."""

    contacts: dict[str, Contact] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    recheck_days: int = DEFAULT_RECHECK_DAYS
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def known_digits(self) -> frozenset[str]:
        """Digits of every registered or blocked number, to spot them when typed."""
        return frozenset(digits(c.number) for c in self.contacts.values()) | frozenset(self.blocked)


def read_registry(
    data: Any, path: Path, countries: dict[str, tuple[str, ...]], report: Report
) -> Registry:
    """Build the registry from contacts.yml, reporting each faulty entry."""
    registry = Registry()
    if not isinstance(data, LineDict):
        if data is not None:
            report(path, 1, "expected `contacts:` (a mapping of ids) and optionally `blocked:`")
        return registry
    for key in data:
        if key not in ("contacts", "blocked", "recheck_after_days"):
            report(
                path,
                line_of(data, key),
                f"unknown key {key!r}; use contacts, blocked or recheck_after_days",
            )
    days = data.get("recheck_after_days", DEFAULT_RECHECK_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        report(path, line_of(data, "recheck_after_days"), "`recheck_after_days:` is 1-3650 days")
    else:
        registry.recheck_days = days
    table = data.get("contacts")
    if isinstance(table, LineList):
        report(
            path,
            table.line,
            "`contacts:` is now a mapping by id: write `za_trafficking_line:` and the fields "
            "under it instead of `- number: ...`",
        )
        table = None
    if not isinstance(table, LineDict):
        report(path, line_of(data, "contacts"), "`contacts:` must map contact ids to contacts")
        table = LineDict()
    for contact_id, entry in table.items():
        line = line_of(table, contact_id)
        contact = _contact(str(contact_id), entry, path, line, countries, report)
        if contact is not None:
            registry.contacts[contact.id] = contact
            registry.lines[contact.id] = line
    blocked = data.get("blocked") or []
    for index, entry in enumerate(blocked if isinstance(blocked, list) else []):
        if isinstance(entry, LineDict) and "number" in entry:
            registry.blocked[digits(str(entry["number"]))] = str(entry.get("why", "not confirmed"))
        else:
            report(path, line_of(blocked, index), "a blocked entry needs `number:` and `why:`")
    for contact in registry.contacts.values():
        if digits(contact.number) in registry.blocked:
            report(
                path,
                registry.lines[contact.id],
                f"{contact.id}: {contact.number} is also under `blocked:`; keep it in one place",
            )
    return registry


def _contact(
    contact_id: str,
    entry: Any,
    path: Path,
    line: int,
    countries: dict[str, tuple[str, ...]],
    report: Report,
) -> Contact | None:
    """One registry entry, checked field by field."""
    if not CONTACT_ID.match(contact_id):
        report(
            path,
            line,
            f"contact id {contact_id!r}: use lower-case letters, digits and _ "
            "(like za_trafficking_line)",
        )
        return None
    if not isinstance(entry, LineDict):
        report(path, line, f"{contact_id}: give the fields {', '.join(REQUIRED)}")
        return None
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        report(path, line, f"{contact_id}: add {', '.join(missing)}")
        return None
    unknown = [key for key in entry if key not in REQUIRED + OPTIONAL]
    for key in unknown:
        report(
            path,
            line_of(entry, key),
            f"{contact_id}: unknown field {key!r}; the fields are {', '.join(REQUIRED + OPTIONAL)}",
        )
    if entry["status"] != "confirmed":
        report(
            path,
            line_of(entry, "status"),
            f"{contact_id} has status {entry['status']!r}; only numbers the facts sheet marks "
            "confirmed belong here (move it to `blocked:` with why)",
        )
        return None
    checks = (
        (
            "country",
            isinstance(entry["country"], str) and entry["country"] in countries,
            f"unknown country {entry['country']!r}; use a code from countries.yml",
        ),
        (
            "kind",
            isinstance(entry["kind"], str) and entry["kind"] in CONTACT_KINDS,
            f"kind must be one of {', '.join(CONTACT_KINDS)}",
        ),
        (
            "checked",
            isinstance(entry["checked"], dt.date) and not isinstance(entry["checked"], dt.datetime),
            "`checked:` must be the date you checked it, like 2026-11-26",
        ),
    )
    for key, ok, fix in checks:
        if not ok:
            report(path, line_of(entry, key), f"{contact_id}: {fix}")
            return None
    if len(digits(str(entry["number"]))) < 3:
        report(path, line_of(entry, "number"), f"{contact_id}: the number has too few digits")
        return None
    spoken = entry.get("languages") or []
    if not isinstance(spoken, list):
        report(path, line_of(entry, "languages"), f"{contact_id}: `languages:` must be a list")
        spoken = []
    return Contact(
        id=contact_id,
        number=str(entry["number"]),
        country=str(entry["country"]),
        kind=str(entry["kind"]),
        name=str(entry["name"]),
        operator=str(entry["operator"]),
        hours=str(entry["hours"]),
        languages=tuple(str(code) for code in spoken),
        source=str(entry["source"]),
        checked=entry["checked"],
    )


def fill(text: str, contacts: dict[str, Contact]) -> tuple[str, list[str]]:
    """Replace each `{contact:ID}` with the number; also return every placeholder not understood."""
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        """The number for one placeholder, or the placeholder unchanged when unknown."""
        kind, _, value = match.group(1).strip().partition(":")
        contact = contacts.get(value.strip()) if kind.strip() == "contact" else None
        if contact is None:
            unknown.append(match.group(0))
            return match.group(0)
        return contact.number

    return PLACEHOLDER.sub(replace, text), unknown


def placeholder_fix(placeholder: str, contacts: dict[str, Contact]) -> str:
    """What to tell an editor about a placeholder that is not `{contact:<known id>}`."""
    kind, _, value = placeholder.strip("{}").strip().partition(":")
    if kind.strip() != "contact":
        return (
            f"unknown placeholder {placeholder}; the only placeholder is {{contact:ID}} "
            "with an id from content/contacts.yml"
        )
    close = difflib.get_close_matches(value.strip(), list(contacts), n=1)
    hint = f" (did you mean {{contact:{close[0]}}}?)" if close else ""
    return f"{placeholder} names no contact in content/contacts.yml{hint}; add it there first"


def stale_contacts(registry: Registry, today: dt.date) -> list[tuple[Contact, int]]:
    """Contacts checked longer ago than the registry allows, with their age in days."""
    limit = dt.timedelta(days=registry.recheck_days)
    return [
        (contact, (today - contact.checked).days)
        for contact in registry.contacts.values()
        if today - contact.checked > limit
    ]
