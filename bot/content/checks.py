"""Guided checks (content/checks/<id>/): questions, weights and thresholds, and their words.

check.yml holds what is language-neutral (the questions in order, which answer is a red
flag, its weight, the score of each risk level); <language>.yml holds every word a person
reads. The check `job_offer` is started by the topic `job_offer_check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content.model import LanguageInfo
from bot.content.phones import phone_numbers
from bot.content.translations import translation_problem, words_hash
from bot.content.yamlfile import LineDict, LineList, line_of, text_line_of
from bot.text import fold

ANSWERS = ("yes", "no", "unsure")
TYPED = (*ANSWERS, "stop")
LEVELS = ("low", "medium", "high")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_TITLE = 24
LIMITS = {
    "intro": 300,
    "progress": 60,
    "question": 200,
    "flag": 160,
    "result": 600,
    "red_flags": 60,
    "stopped": 300,
    "resume": 300,
}

Report = Callable[..., None]


@dataclass(frozen=True)
class Question:
    """One yes/no question: the answer that is a red flag and how much it weighs."""

    id: str
    red: str
    weight: float


@dataclass(frozen=True)
class CheckWords:
    """Everything a person reads in one language during a check."""

    intro: str
    progress: str
    answers: dict[str, str]
    words: dict[str, frozenset[str]]
    questions: dict[str, str]
    flags: dict[str, str]
    results: dict[str, str]
    red_flags: str
    offer_person: str
    stopped: str
    resume: str
    resume_answers: dict[str, str]

    def understood(self, text: str) -> str | None:
        """The answer a typed message gives (yes, no, unsure or stop), if it is one."""
        folded = fold(text)
        for kind, words in self.words.items():
            if folded in words:
                return kind
        return None


@dataclass(frozen=True)
class GuidedCheck:
    """A guided check: questions in order, scoring, and its words per language."""

    id: str
    topic: str
    questions: tuple[Question, ...]
    unsure_weight: float
    levels: dict[str, float]
    words: dict[str, CheckWords]

    def level(self, score: float) -> str:
        """low, medium or high for a score."""
        if score >= self.levels["high"]:
            return "high"
        if score >= self.levels["medium"]:
            return "medium"
        return "low"

    def score(self, answers: dict[str, str]) -> tuple[float, list[str]]:
        """The score of a set of answers and the red flags found, in question order.

        A red answer counts the question's weight; "don't know" counts `unsure_weight` of it.
        """
        total = 0.0
        flags: list[str] = []
        for question in self.questions:
            answer = answers.get(question.id)
            if answer == question.red:
                total += question.weight
                flags.append(question.id)
            elif answer == "unsure":
                total += question.weight * self.unsure_weight
        return total, flags


class ChecksReader:
    """Reads content/checks/*/ and reports every fault with its file and line."""

    def __init__(
        self,
        report: Report,
        read: Callable[[Path, str | None], Any],
        topics: frozenset[str],
        preview: Callable[[Path, int, str, str], None],
        known_numbers: frozenset[str],
        source_language: str = "en",
    ) -> None:
        self.errors = 0

        def counted(path: Path, line: int, message: str, warning: bool = False) -> None:
            """Report, counting errors (to tell whether a words file is usable)."""
            self.errors += 0 if warning else 1
            report(path, line, message, warning)

        self.report = counted
        self.read = read
        self.topics = topics
        self.preview = preview
        self.known_numbers = known_numbers
        self.source_language = source_language

    def read_all(self, root: Path, languages: dict[str, LanguageInfo]) -> dict[str, GuidedCheck]:
        """Every check under root/checks, keyed by the topic that starts it."""
        result: dict[str, GuidedCheck] = {}
        folder = root / "checks"
        if not folder.is_dir():
            return result
        for check_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            check = self._check(check_dir, languages)
            if check is not None:
                result[check.topic] = check
        return result

    def _check(self, folder: Path, languages: dict[str, LanguageInfo]) -> GuidedCheck | None:
        """One check folder: check.yml and a words file per complete language."""
        topic = f"{folder.name}_check"
        path = folder / "check.yml"
        if topic not in self.topics:
            self.report(
                folder,
                1,
                f"a check named {folder.name!r} is started by the topic {topic!r}, which does "
                "not exist; rename the folder or add the topic",
            )
            return None
        data = self.read(path, "check")
        if data is None:
            return None
        if not isinstance(data, LineDict):
            self.report(path, 1, "check.yml must start with `questions:` (see content/README.md)")
            return None
        questions = self._questions(path, data)
        unsure = data.get("unsure_weight", 0.5)
        if not isinstance(unsure, int | float) or isinstance(unsure, bool) or not 0 <= unsure <= 1:
            self.report(path, line_of(data, "unsure_weight"), "`unsure_weight:` is 0 to 1")
            unsure = 0.5
        levels = self._levels(path, data)
        words: dict[str, CheckWords] = {}
        self._translation_warnings(folder, languages)
        for code, info in languages.items():
            words_path = folder / f"{code}.yml"
            if not words_path.exists():
                if info.complete:
                    self.report(
                        words_path,
                        1,
                        f"missing: the check needs its words in {info.name} ({code}); write "
                        "this file (copy the English one and translate it)",
                    )
                continue
            loaded = self._words(words_path, questions)
            if loaded is not None:
                words[code] = loaded
        if not questions or levels is None:
            return None
        return GuidedCheck(folder.name, topic, questions, float(unsure), levels, words)

    def _translation_warnings(self, folder: Path, languages: dict[str, LanguageInfo]) -> None:
        """Warn where a check's words were translated from older source words (or do not say)."""
        source = folder / f"{self.source_language}.yml"
        original = self.read(source, None) if source.exists() else None
        if not isinstance(original, LineDict):
            return
        source_hash = words_hash(original)
        shown = str(source.relative_to(folder.parent.parent.parent))
        for code in languages:
            path = folder / f"{code}.yml"
            if code == self.source_language or not path.exists():
                continue
            data = self.read(path, None)
            given = data.get("translated_from") if isinstance(data, LineDict) else None
            name = languages[self.source_language].name
            message = translation_problem(given, source_hash, name, shown)
            if message is not None:
                self.report(path, 1, message, warning=True)

    def _questions(self, path: Path, data: Any) -> tuple[Question, ...]:
        """The questions in order, each with its red answer and weight."""
        raw = data.get("questions") if isinstance(data, LineDict) else None
        if not isinstance(raw, LineList) or not raw:
            self.report(
                path,
                line_of(data, "questions"),
                "`questions:` must list the questions, each with `id:`, `red:` and `weight:`",
            )
            return ()
        result: list[Question] = []
        seen: set[str] = set()
        for index, entry in enumerate(raw):
            line = line_of(raw, index)
            if not isinstance(entry, LineDict):
                self.report(path, line, "each question needs `id:`, `red:` and `weight:`")
                continue
            qid, red, weight = entry.get("id"), entry.get("red"), entry.get("weight")
            if not isinstance(qid, str) or not QUESTION_ID.match(qid) or qid in seen:
                self.report(
                    path, line, f"question id {qid!r}: use a new lower-case id like fee or contract"
                )
                continue
            if red not in ("yes", "no"):
                self.report(path, line_of(entry, "red"), f'{qid}: `red:` is "yes" or "no" (quoted)')
                continue
            if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
                self.report(path, line_of(entry, "weight"), f"{qid}: `weight:` is a number over 0")
                continue
            seen.add(qid)
            result.append(Question(qid, str(red), float(weight)))
        return tuple(result)

    def _levels(self, path: Path, data: Any) -> dict[str, float] | None:
        """The scores at which a result is medium and high."""
        levels = data.get("levels") if isinstance(data, LineDict) else None
        line = line_of(data, "levels")
        if not isinstance(levels, LineDict):
            self.report(path, line, "`levels:` needs `medium:` and `high:` scores")
            return None
        medium, high = levels.get("medium"), levels.get("high")
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (medium, high)
        )
        if not numbers or not 0 < float(medium) < float(high):  # type: ignore[arg-type]
            self.report(path, line, "`levels:` needs scores with 0 < medium < high")
            return None
        return {"medium": float(medium), "high": float(high)}  # type: ignore[arg-type]

    def _text(self, path: Path, data: LineDict, key: str, limit: int, where: str = "") -> str:
        """A required text with a length limit, checked like answers; "" when faulty."""
        value = data.get(key)
        name = where or key
        line = text_line_of(data, key) if key in data else data.line
        if not isinstance(value, str) or not value.strip():
            self.report(path, line, f"write `{name}:`")
            return ""
        text = value.strip()
        if len(text) > limit:
            self.report(path, line, f"`{name}` has {len(text)} characters; the limit is {limit}")
            return ""
        if phone_numbers(text, self.known_numbers):
            self.report(
                path,
                line,
                f"`{name}` has a phone number; the help contacts follow the result on their own",
            )
            return ""
        self.preview(path, line, f" ({name})", text)
        return text

    def _mapping(
        self, path: Path, data: LineDict, key: str, keys: tuple[str, ...], limit: int
    ) -> dict[str, str]:
        """A mapping of required short texts (button titles, questions, flags, results)."""
        raw = data.get(key)
        if not isinstance(raw, LineDict):
            self.report(path, line_of(data, key), f"`{key}:` needs {', '.join(keys)}")
            return {}
        result: dict[str, str] = {}
        for name in keys:
            text = self._text(path, raw, name, limit, f"{key} {name}")
            if text:
                result[name] = text
        for extra in raw:
            if extra not in keys:
                self.report(
                    path, line_of(raw, extra), f"`{key}:` has {extra!r}; use {', '.join(keys)}"
                )
        return result

    def _words(self, path: Path, questions: tuple[Question, ...]) -> CheckWords | None:
        """One language's words for the check."""
        data = self.read(path, "check_words")
        if not isinstance(data, LineDict):
            if data is not None:
                self.report(path, 1, "expected the check's words (see content/README.md)")
            return None
        before = self.errors
        ids = tuple(q.id for q in questions)
        intro = self._text(path, data, "intro", LIMITS["intro"])
        progress = self._text(path, data, "progress", LIMITS["progress"])
        if progress and ("{n}" not in progress or "{total}" not in progress):
            self.report(path, text_line_of(data, "progress"), "`progress:` needs {n} and {total}")
        answers = self._mapping(path, data, "answers", TYPED, MAX_TITLE)
        typed = self._typed_words(path, data)
        texts = {
            "questions": self._mapping(path, data, "questions", ids, LIMITS["question"]),
            "flags": self._mapping(path, data, "flags", ids, LIMITS["flag"]),
            "results": self._mapping(path, data, "results", LEVELS, LIMITS["result"]),
        }
        red_flags = self._text(path, data, "red_flags", LIMITS["red_flags"])
        offer = self._text(path, data, "offer_person", MAX_TITLE)
        stopped = self._text(path, data, "stopped", LIMITS["stopped"])
        resume = self._text(path, data, "resume", LIMITS["resume"])
        resume_answers = self._mapping(
            path, data, "resume_answers", ("continue", "restart"), MAX_TITLE
        )
        if self.errors > before:
            return None
        return CheckWords(
            intro=intro,
            progress=progress,
            answers=answers,
            words=typed,
            questions=texts["questions"],
            flags=texts["flags"],
            results=texts["results"],
            red_flags=red_flags,
            offer_person=offer,
            stopped=stopped,
            resume=resume,
            resume_answers=resume_answers,
        )

    def _typed_words(self, path: Path, data: LineDict) -> dict[str, frozenset[str]]:
        """The typed answers understood, each word meaning one answer only."""
        raw = data.get("words")
        if not isinstance(raw, LineDict):
            self.report(
                path, line_of(data, "words"), f"`words:` needs lists for {', '.join(TYPED)}"
            )
            return {}
        result: dict[str, frozenset[str]] = {}
        owner: dict[str, str] = {}
        for kind in TYPED:
            listed = raw.get(kind)
            if not isinstance(listed, list) or not listed:
                self.report(path, line_of(raw, kind), f"`words: {kind}:` must list typed words")
                continue
            folded: set[str] = set()
            for index, word in enumerate(listed):
                key = fold(str(word))
                if not key:
                    continue
                if key in owner and owner[key] != kind:
                    self.report(
                        path,
                        line_of(listed, index),
                        f"{word!r} is listed for both {owner[key]} and {kind}; keep it in one",
                    )
                owner[key] = kind
                folded.add(key)
            result[kind] = frozenset(folded)
        return result
