"""The messages the benchmark sends: the evaluation sets' texts (tests/data/eval/*.yml)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.content.model import ContentSnapshot
from bot.safety import check_message
from tools.model import ROOT

EVAL_DIR = ROOT / "tests" / "data" / "eval"
LANGUAGES = ("en", "pt", "es")
# Intents whose answer changes the conversation itself (a person, erasure, a language
# switch) or escalates: left out of the latency runs, which compare ordinary questions.
NOT_ORDINARY = frozenset({"distress", "request_human", "delete_data", "language"})


def examples(eval_dir: Path = EVAL_DIR) -> list[tuple[str, str]]:
    """(text, intent) of every evaluation example, languages interleaved."""
    per_language = []
    for language in LANGUAGES:
        data = yaml.safe_load((eval_dir / f"{language}.yml").read_text(encoding="utf-8"))
        per_language.append([(str(e["text"]), str(e["intent"])) for e in data["examples"]])
    mixed: list[tuple[str, str]] = []
    for at in range(max(len(rows) for rows in per_language)):
        mixed += [rows[at] for rows in per_language if at < len(rows)]
    return mixed


def ordinary_texts(snapshot: ContentSnapshot, eval_dir: Path = EVAL_DIR) -> list[str]:
    """Ordinary questions: not distress or a request for a person, and no safety phrase in them."""
    return [
        text
        for text, intent in examples(eval_dir)
        if intent not in NOT_ORDINARY
        and check_message(text, snapshot.distress, snapshot.request_human) is None
    ]


def distress_candidates(eval_dir: Path = EVAL_DIR) -> list[str]:
    """The evaluation sets' distress texts."""
    return [text for text, intent in examples(eval_dir) if intent == "distress"]
