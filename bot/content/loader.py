"""Read content/ into a snapshot and report every problem as file:line with the fix."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError

from bot.content.answers import AnswerContext, AnswerReader
from bot.content.channel_words import ChannelWordsReader
from bot.content.checks import ChecksReader
from bot.content.contacts import (
    PLACEHOLDER,
    Registry,
    fill,
    placeholder_fix,
    read_registry,
    stale_contacts,
)
from bot.content.model import (
    Answer,
    CannedReply,
    ContentProblem,
    ContentSnapshot,
    LanguageInfo,
)
from bot.content.phones import phone_numbers
from bot.content.schema import schema_problems
from bot.content.translations import translation_problem
from bot.content.yamlfile import LineDict, LineList, YamlError, line_of, load_yaml
from bot.safety import PhraseMatcher, has_words
from bot.settings import SUPPORTED_LANGUAGES
from bot.text import fold
from bot.topics import ALL_TOPICS, INTENT_TOPICS

log = logging.getLogger(__name__)

# Caseworkers' canned replies are read on a phone like any answer.
MAX_CANNED_TEXT = 1000
MAX_CANNED_TITLE = 40
MAX_FALLBACK_NOTE = 200
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
SAFETY_KEYS = ("distress", "distress_alone", "request_human", "request_human_alone")


def content_fingerprint(root: Path) -> str:
    """A cheap digest of every file's path, size and mtime under root."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class _Loader:
    """Collects problems while reading one content tree."""

    root: Path
    problems: list[ContentProblem] = field(default_factory=list)
    schema_found: list[ContentProblem] = field(default_factory=list)
    countries_data: Any = None
    cache: dict[Path, Any] = field(default_factory=dict)
    validated: set[tuple[Path, str]] = field(default_factory=set)
    source_language: str = "en"

    def problem(self, path: Path, line: int, message: str, warning: bool = False) -> None:
        """Record a problem (or, with `warning`, a notice that blocks nothing) for an editor."""
        self.problems.append(ContentProblem(path, line, message, warning))

    def read(self, path: Path, schema: str | None = None) -> Any:
        """Load a YAML file, recording a problem (and returning None) if it is unreadable.

        With `schema`, the file is also checked against content/schema/<schema>.schema.json;
        those problems are added at the end where the checker said nothing on the same line.
        """
        if path in self.cache:
            data = self.cache[path]
        elif not path.is_file():
            self.problem(path, 1, "this file is missing; create it (see content/README.md)")
            return None
        else:
            try:
                data = load_yaml(path)
            except YamlError as exc:
                self.problem(path, exc.line, str(exc))
                data = None
            self.cache[path] = data
        if data is None or schema is None or (path, schema) in self.validated:
            return data
        self.validated.add((path, schema))
        schema_dir = self.root / "schema"
        schema_file = schema_dir / f"{schema}.schema.json"
        if schema_file.is_file():
            try:
                self.schema_found.extend(schema_problems(data, path, schema, schema_dir))
            except (ValueError, SchemaError) as exc:  # a broken schema file, not the content
                self.problem(schema_file, 1, f"this schema is broken ({exc}); restore it")
        return data

    def add_schema_problems(self) -> None:
        """Report schema problems on lines the checker's own messages do not already cover."""
        covered = {(p.path, p.line) for p in self.problems}
        for problem in self.schema_found:
            if (problem.path, problem.line) not in covered:
                covered.add((problem.path, problem.line))
                self.problems.append(problem)

    # --- registries -------------------------------------------------------

    def languages(self) -> dict[str, LanguageInfo]:
        """Read languages.yml: complete languages, and partial ones with their fallback."""
        path = self.root / "languages.yml"
        data = self.read(path, "languages")
        result: dict[str, LanguageInfo] = {}
        table = data.get("languages") if isinstance(data, LineDict) else None
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `languages:` mapping of language codes")
            return {code: LanguageInfo(code, code, (), True, None) for code in SUPPORTED_LANGUAGES}
        for key in data:
            if key not in ("languages", "source_language"):
                self.problem(
                    path, line_of(data, key), f"unknown key {key!r}; use languages, source_language"
                )
        for code, info in table.items():
            line = line_of(table, code)
            if not isinstance(code, str) or not LANGUAGE_CODE.match(code):
                self.problem(path, line, f"{code!r}: use the two-letter ISO 639-1 code, like fr")
                continue
            if not isinstance(info, LineDict) or not isinstance(info.get("name"), str):
                self.problem(path, line, f"language {code!r} needs `name:` and `names:`")
                continue
            names = info.get("names") or []
            if not isinstance(names, list):
                self.problem(path, line_of(info, "names"), f"{code}: `names:` must be a list")
                names = []
            complete = info.get("complete", False) is True
            fallback = info.get("fallback")
            note = info.get("fallback_note", "")
            if not complete:
                target = table.get(fallback) if isinstance(fallback, str) else None
                if not isinstance(target, LineDict) or target.get("complete") is not True:
                    self.problem(
                        path,
                        line,
                        f"language {code!r} is not complete, so it needs `fallback:` set to a "
                        "complete language its missing topics are shown in (like en)",
                    )
                    fallback = None
                if not isinstance(note, str) or not 0 < len(note.strip()) <= MAX_FALLBACK_NOTE:
                    self.problem(
                        path,
                        line_of(info, "fallback_note") if "fallback_note" in info else line,
                        f"language {code!r}: write `fallback_note:` in {info['name']}, at most "
                        f"{MAX_FALLBACK_NOTE} characters, saying the answer is not yet "
                        "translated and follows in the fallback language",
                    )
            result[code] = LanguageInfo(
                code,
                info["name"],
                tuple(str(n) for n in names),
                complete,
                fallback,
                str(note).strip() if not complete else "",
            )
        for code in SUPPORTED_LANGUAGES:
            if code not in result or not result[code].complete:
                self.problem(path, 1, f"{code!r} must be listed with `complete: true`")
        source = data.get("source_language", "en")
        if not isinstance(source, str) or source not in result or not result[source].complete:
            self.problem(
                path,
                line_of(data, "source_language"),
                "`source_language:` must be a complete language: the one translations are "
                "made from",
            )
        else:
            self.source_language = str(source)
        return result

    def countries(self) -> dict[str, tuple[str, ...]]:
        """Read countries.yml: the countries we have facts for (see also `elsewhere`)."""
        path = self.root / "countries.yml"
        data = self.read(path, "countries")
        self.countries_data = data
        table = data.get("countries") if isinstance(data, LineDict) else None
        result: dict[str, tuple[str, ...]] = {}
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `countries:` mapping of ISO codes")
            return result
        for code, info in table.items():
            names = info.get("names") if isinstance(info, LineDict) else None
            if not isinstance(code, str) or len(code) != 2 or not code.isupper():
                self.problem(path, line_of(table, code), f"{code!r} is not a 2-letter ISO code")
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.problem(path, line_of(table, code), f"{code}: `names:` must be a list")
                continue
            result[code] = tuple(names)
        return result

    def elsewhere(self, known: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """countries.yml `elsewhere:`: names of countries we have no facts for."""
        path = self.root / "countries.yml"
        data = self.countries_data
        names = data.get("elsewhere", []) if isinstance(data, LineDict) else []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.problem(path, line_of(data, "elsewhere"), "`elsewhere:` must be a list of names")
            return ()
        ours = {fold(n): code for code, listed in known.items() for n in listed}
        for index, name in enumerate(names):
            if fold(name) in ours:
                self.problem(
                    path,
                    line_of(names, index),
                    f"{name!r} is under {ours[fold(name)]} and `elsewhere:`; keep it in one",
                )
        return tuple(names)

    def safety(self) -> dict[str, list[str]]:
        """Read every safety/<language>.yml into phrase lists by section."""
        sections: dict[str, list[str]] = {key: [] for key in SAFETY_KEYS}
        for code in SUPPORTED_LANGUAGES:
            path = self.root / "safety" / f"{code}.yml"
            data = self.read(path, "safety")
            if data is None:
                continue
            if not isinstance(data, LineDict):
                self.problem(path, 1, "expected `distress:` and `request_human:` lists")
                continue
            for key in ("distress", "request_human"):
                if not isinstance(data.get(key), LineList) or not data[key]:
                    self.problem(path, line_of(data, key), f"`{key}:` must be a list of phrases")
            for key, phrases in data.items():
                if key not in SAFETY_KEYS:
                    self.problem(
                        path,
                        line_of(data, key),
                        f"unknown key {key!r}; use one of {', '.join(SAFETY_KEYS)}",
                    )
                    continue
                for index, phrase in enumerate(phrases if isinstance(phrases, list) else []):
                    if not isinstance(phrase, str) or not has_words(phrase):
                        self.problem(
                            path,
                            line_of(phrases, index),
                            "a phrase must have at least one word (not only `*`); "
                            "if it has a colon, put it in quotes",
                        )
                        continue
                    sections[key].append(phrase)
        return sections

    def preview_words(self) -> tuple[int, frozenset[str]]:
        """Read preview_safety.yml: how many leading characters, and the words kept out."""
        path = self.root / "preview_safety.yml"
        if not path.exists():
            return 0, frozenset()
        data = self.read(path, "preview_safety")
        if not isinstance(data, LineDict):
            self.problem(path, 1, "expected `preview_chars:` and a `words:` list")
            return 0, frozenset()
        chars = data.get("preview_chars", 60)
        words = data.get("words")
        if not isinstance(chars, int) or not 0 < chars <= 200:
            self.problem(path, line_of(data, "preview_chars"), "`preview_chars:` is 1-200")
            chars = 60
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            self.problem(path, line_of(data, "words"), "`words:` must be a list of words")
            return chars, frozenset()
        return chars, frozenset(fold(w) for w in words)

    def canned(
        self, languages: dict[str, LanguageInfo], registry: Registry
    ) -> dict[str, CannedReply]:
        """Read canned.yml: caseworkers' ready replies, each in every complete language.

        Like answers, they name numbers as {contact:ID}; a typed number is an error.
        """
        path = self.root / "canned.yml"
        if not path.exists():
            return {}
        data = self.read(path, "canned")
        table = data.get("canned") if isinstance(data, LineDict) else None
        if not isinstance(table, LineDict):
            self.problem(path, 1, "expected a `canned:` mapping of reply ids to replies")
            return {}
        result: dict[str, CannedReply] = {}
        for reply_id, entry in table.items():
            line = line_of(table, reply_id)
            if not isinstance(entry, LineDict):
                self.problem(path, line, f"{reply_id}: give `title:` and a text per language")
                continue
            title = entry.get("title")
            if not isinstance(title, str) or not 0 < len(title.strip()) <= MAX_CANNED_TITLE:
                self.problem(
                    path, line, f"{reply_id}: `title:` must be 1-{MAX_CANNED_TITLE} characters"
                )
                continue
            texts: dict[str, str] = {}
            for code, info in languages.items():
                body = entry.get(code)
                where = line_of(entry, code) if code in entry else line
                if not isinstance(body, str) or not body.strip():
                    if info.complete:
                        self.problem(
                            path, where, f"{reply_id}: write the {info.name} text ({code}:)"
                        )
                    continue
                if len(body.strip()) > MAX_CANNED_TEXT:
                    self.problem(
                        path, where, f"{reply_id} ({code}) is over {MAX_CANNED_TEXT} characters"
                    )
                    continue
                filled, unknown = fill(body, registry.contacts)
                for placeholder in unknown:
                    self.problem(path, where, placeholder_fix(placeholder, registry.contacts))
                if phone_numbers(PLACEHOLDER.sub(" contact ", body), registry.known_digits):
                    self.problem(
                        path,
                        where,
                        f"{reply_id} ({code}) has a typed phone number; write {{contact:ID}} "
                        "with an id from contacts.yml instead",
                    )
                elif not unknown:
                    texts[code] = filled.strip()
            for key in entry:
                if key != "title" and key not in languages:
                    self.problem(path, line_of(entry, key), f"{reply_id}: unknown key {key!r}")
            result[str(reply_id)] = CannedReply(str(reply_id), title.strip(), texts)
        return result

    def commands(self, topics: frozenset[str]) -> dict[str, str]:
        """Read commands.yml: whole-message words mapped to topics."""
        path = self.root / "commands.yml"
        data = self.read(path, "commands")
        table = data.get("commands") if isinstance(data, LineDict) else None
        result: dict[str, str] = {}
        if not isinstance(table, LineDict):
            if data is not None:
                self.problem(path, 1, "expected a `commands:` mapping of topic ids to word lists")
            return result
        for topic, words in table.items():
            line = line_of(table, topic)
            if topic not in topics:
                self.problem(path, line, f"unknown topic {topic!r}; use a folder name in topics/")
                continue
            if not isinstance(words, list):
                self.problem(path, line, f"{topic}: give a list of words")
                continue
            for index, word in enumerate(words):
                key = fold(str(word))
                if not key:
                    self.problem(path, line_of(words, index), "an empty command; remove it")
                elif key in result and result[key] != topic:
                    self.problem(
                        path,
                        line_of(words, index),
                        f"{word!r} already leads to {result[key]!r}; keep it in one place",
                    )
                else:
                    result[key] = str(topic)
        return result

    def topic_dirs(self, topics_dir: Path) -> dict[str, Path]:
        """The topic folders: the contract's and core's topics plus any an editor added."""
        found: dict[str, Path] = {}
        if not topics_dir.is_dir():
            self.problem(topics_dir, 1, "content/topics/ is missing; restore it")
            return found
        for topic_dir in sorted(p for p in topics_dir.iterdir() if p.is_dir()):
            name = topic_dir.name
            if name not in ALL_TOPICS and not TOPIC_ID.match(name):
                self.problem(
                    topic_dir,
                    1,
                    f"{name!r} is not a usable topic id: use 3-40 lower-case letters, digits "
                    "and _, starting with a letter (like visa_fees)",
                )
                continue
            found[name] = topic_dir
        return found

    def repeated_examples(self, answers: dict[tuple[str, str], Answer]) -> None:
        """One example question teaches one topic: the same words in two topics is an error."""
        first: dict[tuple[str, str], Answer] = {}
        for (_topic, language), answer in sorted(answers.items()):
            for example in answer.examples:
                key = (language, fold(example))
                other = first.setdefault(key, answer)
                if other is not answer:
                    self.problem(
                        answer.path,
                        1,
                        f"the example {example!r} is also an example of {other.topic} "
                        f"({other.path.relative_to(self.root.parent)}); keep it in one topic",
                    )

    def translation_warnings(
        self, answers: dict[tuple[str, str], Answer], languages: dict[str, LanguageInfo]
    ) -> None:
        """Warn where a translation was made from an older source text (or does not say)."""
        source = self.source_language
        for (topic, language), answer in sorted(answers.items()):
            original = answers.get((topic, source))
            if language == source or original is None:
                continue
            message = translation_problem(
                answer.translated_from,
                original.words_hash,
                languages[source].name,
                str(original.path.relative_to(self.root.parent)),
            )
            if message is not None:
                self.problem(answer.path, 1, message, warning=True)


def load_content(
    root: Path, today: dt.date | None = None
) -> tuple[ContentSnapshot | None, list[ContentProblem]]:
    """Load and check the whole content tree; never raises for what is in the files.

    A mistake the checks below did not foresee still becomes a problem (not a crash), so
    the live bot keeps its last good content and `make content-check` says what broke.
    """
    try:
        return _load_content(root, today)
    except Exception as exc:  # an editor's file must never stop the bot
        log.exception("content could not be read")
        return None, [
            ContentProblem(
                root,
                1,
                f"a file could not be read ({type(exc).__name__}: {exc}); undo your last edit "
                "and run make content-check, or ask a developer",
            )
        ]


def _load_content(
    root: Path, today: dt.date | None = None
) -> tuple[ContentSnapshot | None, list[ContentProblem]]:
    """Load and check the whole content tree.

    Returns a snapshot when there is no error (warnings allowed) and every problem found,
    warnings included. `today` dates the contact re-check warnings (default: today).
    """
    loader = _Loader(root)
    fingerprint = content_fingerprint(root)
    languages = loader.languages()
    countries = loader.countries()
    elsewhere = loader.elsewhere(countries)
    contacts_path = root / "contacts.yml"
    registry = read_registry(
        loader.read(contacts_path, "contacts"), contacts_path, countries, loader.problem
    )
    safety = loader.safety()
    preview_chars, preview_words = loader.preview_words()
    channels_path = root / "channels.yml"
    channels = ChannelWordsReader(loader.problem).read(
        loader.read(channels_path, "channels"), channels_path, languages
    )
    topics_dir = root / "topics"
    topic_dirs = loader.topic_dirs(topics_dir)
    topics = frozenset(ALL_TOPICS) | frozenset(topic_dirs)
    engine_topics = frozenset(INTENT_TOPICS) | (frozenset(topic_dirs) - frozenset(ALL_TOPICS))
    commands = loader.commands(topics)
    canned = loader.canned(languages, registry)
    reader = AnswerReader(
        AnswerContext(
            countries=countries,
            languages=frozenset(languages),
            topics=topics,
            engine_topics=engine_topics,
            registry=registry,
            numbered_hint=channels.numbered_hint,
            preview_chars=preview_chars,
            preview_words=preview_words,
        ),
        loader.problem,
    )
    checks = ChecksReader(
        loader.problem,
        loader.read,
        topics,
        reader.check_preview,
        registry.known_digits,
        loader.source_language,
    ).read_all(root, languages)
    answers: dict[tuple[str, str], Answer] = {}
    for topic, topic_dir in topic_dirs.items():
        for path in sorted(topic_dir.glob("*.y*ml")):
            language = path.stem
            if path.suffix != ".yml" or language not in languages:
                loader.problem(
                    path,
                    1,
                    f"name the file <language>.yml with one of {', '.join(languages)} "
                    "(a new language is added in languages.yml first)",
                )
                continue
            data = loader.read(path, "answer")
            answer = reader.read(data, path, topic, language) if data is not None else None
            if answer is not None:
                answers[(topic, language)] = answer
    for info in languages.values():
        if not info.complete:
            continue
        for topic in sorted(topics):
            path = topics_dir / topic / f"{info.code}.yml"
            if (topic, info.code) not in answers and not path.exists():
                loader.problem(
                    path,
                    1,
                    f"missing: every topic needs an answer in {info.name} ({info.code}), a "
                    "complete language; write this file",
                )
    loader.repeated_examples(answers)
    loader.add_schema_problems()
    loader.translation_warnings(answers, languages)
    for contact, age in stale_contacts(registry, today or dt.date.today()):
        loader.problem(
            contacts_path,
            registry.lines[contact.id],
            f"{contact.id} ({contact.number}) was last checked {age} days ago, more than "
            f"recheck_after_days ({registry.recheck_days}); check it with {contact.operator} "
            "and update `checked:`",
            warning=True,
        )
    warnings = tuple(p for p in loader.problems if p.warning)
    if len(warnings) < len(loader.problems):
        return None, loader.problems
    snapshot = ContentSnapshot(
        answers=answers,
        languages=languages,
        country_names=countries,
        elsewhere_names=elsewhere,
        distress=PhraseMatcher(safety["distress"], safety["distress_alone"]),
        request_human=PhraseMatcher(safety["request_human"], safety["request_human_alone"]),
        commands=commands,
        fingerprint=fingerprint,
        channels=channels,
        canned=canned,
        topics=topics,
        engine_topics=engine_topics,
        contacts=registry.contacts,
        source_language=loader.source_language,
        warnings=warnings,
        checks=checks,
    )
    return snapshot, loader.problems
