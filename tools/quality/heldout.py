"""Labelled sets through the real stack: one new person per example, scored per language.

Two sets, both never trained on: the held-out set (tests/data/eval/<language>.yml),
which judges, and the tuning set (tests/data/dev/<language>.yml), written later and
independently, from which the distress threshold is chosen and whose misses the team
reads. Each example is sent as a new person's first message to POST /api/web/messages;
the reply's topic, language and escalation are recorded, and Rasa's own parse of the same
text (top intent, distress and request scores) alongside, so that a distress-threshold
sweep can be computed from the same run.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.content.loader import load_content
from bot.safety import check_message
from bot.settings import Settings
from bot.topics import CORE_TOPICS, INTENT_TO_TOPIC
from tools.model import CONTENT_DIR, ROOT
from tools.quality.document import TARGET_RECALL, share
from tools.quality.metrics import Pair, accuracy, confusion, label_scores, macro_f1
from tools.quality.metrics import reference_labels as expected_labels
from tools.stack import running_stack

EVAL_DIR = ROOT / "tests" / "data" / "eval"
DATASETS = {"heldout": EVAL_DIR, "dev": ROOT / "tests" / "data" / "dev"}
LANGUAGES = ("en", "pt", "es")
TOPIC_ORDER = tuple(dict.fromkeys([*INTENT_TO_TOPIC.values(), *CORE_TOPICS]))
NO_REPLY = "(none)"
# The eval sends ~1,300 messages from one address in a minute or two.
UNLIMITED = {"RATE_LIMIT_PER_ADDRESS": "1000000", "RATE_LIMIT_PER_PERSON": "1000000"}
SWEEP = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50)
# The tuning set's pick keeps this many sweep steps below the first threshold that misses.
MARGIN_STEPS = 1


@dataclass(frozen=True)
class Example:
    """One labelled example of the held-out set."""

    language: str
    text: str
    intent: str
    hard_negative: bool = False
    dataset: str = "heldout"

    @property
    def kind(self) -> str:
        """distress, request (asks for a person) or ordinary."""
        return {"distress": "distress", "request_human": "request"}.get(self.intent, "ordinary")


@dataclass(frozen=True)
class Record:
    """What the stack (and Rasa's parse) made of one example."""

    language: str
    text: str
    intent: str
    hard_negative: bool
    topic: str  # the first reply's topic (privacy notice aside), NO_REPLY if none
    reply_language: str
    escalation: str | None
    phrase: str | None  # the kind of safety phrase the text matches (checked before Rasa)
    nlu_intent: str
    nlu_confidence: float
    distress_score: float
    request_score: float
    dataset: str = "heldout"  # heldout (judges) or dev (tunes)

    @property
    def kind(self) -> str:
        """distress, request or ordinary (as for Example)."""
        return Example(self.language, self.text, self.intent).kind

    @property
    def expected(self) -> str:
        """The topic that answers this example's intent."""
        return INTENT_TO_TOPIC.get(self.intent, self.intent)

    @property
    def pair(self) -> Pair:
        """(expected topic, answered topic), with the two designed stand-ins counted as right.

        A language request answered by switching (language_set), and a destination question
        about a country the content does not cover answered with general advice
        (destination_other, which only ever replaces destination_info).
        """
        got = {"language_set": "language", "destination_other": "destination_info"}.get(
            self.topic, self.topic
        )
        if got != self.topic and got != self.expected:
            got = self.topic
        return self.expected, got

    @property
    def source(self) -> str | None:
        """What escalated: the phrase check before Rasa, else the engine (model)."""
        if self.escalation is None:
            return None
        return "phrase" if self.phrase is not None else "engine"


def load_examples(language: str, dataset: str = "heldout") -> list[Example]:
    """The labelled examples of one language in one set (heldout or dev)."""
    path = DATASETS[dataset] / f"{language}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Example(language, str(e["text"]), str(e["intent"]), bool(e.get("hard_negative")), dataset)
        for e in data["examples"]
    ]


def first_topic(body: dict[str, Any]) -> str:
    """The topic of the first reply that is not the privacy notice."""
    replies = body.get("replies")
    assert isinstance(replies, list)
    topics = [str(r["topic"]) for r in replies if r.get("topic") != "privacy_notice"]
    return topics[0] if topics else NO_REPLY


def parse_scores(parse: dict[str, Any]) -> tuple[str, float, float, float]:
    """Rasa's top intent, its confidence, and the distress and request_human scores."""
    top = parse.get("intent") or {}
    assert isinstance(top, dict)
    ranking = parse.get("intent_ranking") or []
    assert isinstance(ranking, list)
    scores = {str(e.get("name")): float(e.get("confidence") or 0.0) for e in ranking}
    return (
        str(top.get("name")),
        float(top.get("confidence") or 0.0),
        scores.get("distress", 0.0),
        scores.get("request_human", 0.0),
    )


def run_examples(
    examples: Sequence[Example], model: Path | None = None, work_dir: Path | None = None
) -> list[Record]:
    """Start the stack (with `model`, default the current one) and record every example."""
    snapshot, problems = load_content(CONTENT_DIR)
    if snapshot is None:
        raise RuntimeError(f"content does not load: {problems[0]}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(work_dir or Path(tmp), extra_env=UNLIMITED, model=model) as stack,
        httpx.Client(base_url=stack.base_url, timeout=30) as client,
        httpx.Client(base_url=stack.rasa_url, timeout=30) as rasa,
    ):
        records = []
        for example in examples:
            response = client.post(
                "/api/web/messages",
                json={"user_id": f"eval-{uuid.uuid4()}", "text": example.text},
            )
            response.raise_for_status()
            body = response.json()
            parsed = rasa.post(
                "/model/parse", params={"token": stack.rasa_token}, json={"text": example.text}
            )
            parsed.raise_for_status()
            hit = check_message(example.text, snapshot.distress, snapshot.request_human)
            records.append(
                Record(
                    example.language,
                    example.text,
                    example.intent,
                    example.hard_negative,
                    first_topic(body),
                    str(body["language"]),
                    body["escalation"],
                    hit.kind.value if hit is not None else None,
                    *parse_scores(parsed.json()),
                    example.dataset,
                )
            )
    return records


def count(records: Sequence[Record], kind: str, escalation: str | None = None) -> list[int]:
    """[escalated, total] for one kind of example (escalation None: any escalation)."""
    chosen = [r for r in records if r.kind == kind]
    hits = [r for r in chosen if r.escalation is not None and escalation in (None, r.escalation)]
    return [len(hits), len(chosen)]


def summarise(records: Sequence[Record]) -> dict[str, Any]:
    """The figures of one language's records (JSON-ready)."""
    pairs = [r.pair for r in records]
    labels = expected_labels(pairs, TOPIC_ORDER)
    ordinary = [r for r in records if r.kind == "ordinary"]
    false = [r for r in ordinary if r.escalation is not None]
    hard = [r for r in ordinary if r.hard_negative]
    with_language = [r for r in records if r.intent != "language"]
    return {
        "examples": len(records),
        "topic_correct": sum(1 for e, g in pairs if e == g),
        "topic_accuracy": accuracy(pairs),
        "macro_f1": macro_f1(pairs, labels),
        "per_topic": {label: asdict(score) for label, score in label_scores(pairs, labels).items()},
        # A request to switch language is answered in the asked-for language.
        "reply_language": [
            sum(1 for r in with_language if r.reply_language == r.language),
            len(with_language),
        ],
        "distress_recall": count(records, "distress", "distress"),
        "request_escalation": count(records, "request"),
        "false_escalations": [len(false), len(ordinary)],
        "false_by_source": {
            source: sum(1 for r in false if r.source == source) for source in ("phrase", "engine")
        },
        "hard_negative_escalations": [
            sum(1 for r in hard if r.escalation is not None),
            len(hard),
        ],
        "confusion": confusion(pairs, TOPIC_ORDER).to_json(),
    }


def simulated(record: Record, threshold: float) -> tuple[str | None, str]:
    """The escalation and topic the gateway would give at another distress threshold.

    Mirrors bot/core.py: a safety phrase escalates first; then a distress score at or over
    the threshold; then a reply topic that escalates (Rasa's top intent). Otherwise the
    answer is what the run answered, or, if the run escalated, the top intent's topic.
    """
    if record.phrase is not None:
        return record.phrase, "emergency" if record.phrase == "distress" else "human_handoff"
    if record.distress_score >= threshold or record.nlu_intent == "distress":
        return "distress", "emergency"
    if record.nlu_intent == "request_human":
        return "request", "human_handoff"
    if record.escalation is None:
        return None, record.pair[1]
    return None, INTENT_TO_TOPIC.get(record.nlu_intent, record.nlu_intent)


def sweep(records: Sequence[Record], thresholds: Sequence[float] = SWEEP) -> list[dict[str, Any]]:
    """Distress recall, false escalations and (estimated) accuracy at each threshold."""
    rows: list[dict[str, Any]] = []
    for threshold in thresholds:
        row: dict[str, Any] = {"threshold": threshold}
        for language in sorted({r.language for r in records}, key=LANGUAGES.index):
            mine = [r for r in records if r.language == language]
            outcome = [(r, *simulated(r, threshold)) for r in mine]
            distress = [e for r, e, _ in outcome if r.kind == "distress"]
            ordinary = [e for r, e, _ in outcome if r.kind == "ordinary"]
            right = sum(1 for r, _, topic in outcome if topic == r.pair[0])
            row[language] = {
                "distress_recall": [distress.count("distress"), len(distress)],
                "false_escalations": [sum(e is not None for e in ordinary), len(ordinary)],
                "topic_accuracy": right / len(mine),
            }
        rows.append(row)
    return rows


def simulation_mismatches(records: Sequence[Record], threshold: float) -> int:
    """How many records the simulation gets wrong at the threshold the run used."""
    return sum(1 for r in records if simulated(r, threshold)[0] != r.escalation)


def distress_threshold() -> float:
    """The gateway's DISTRESS_MODEL_THRESHOLD as the stack runs it (env, else the default)."""
    default = Settings.__dataclass_fields__["distress_model_threshold"].default
    assert isinstance(default, float)
    return float(os.environ.get("DISTRESS_MODEL_THRESHOLD", default))


def by_language(records: Sequence[Record]) -> Iterator[tuple[str, list[Record]]]:
    """The records of each language, in LANGUAGES order."""
    for language in LANGUAGES:
        mine = [r for r in records if r.language == language]
        if mine:
            yield language, mine


def choose_threshold(rows: Sequence[dict[str, Any]], margin: int = MARGIN_STEPS) -> float | None:
    """The tuning set's distress threshold, by a rule fixed before any run.

    Thresholds are tried from the lowest up; the first one at which any language's
    distress recall falls under TARGET_RECALL ends the safe ones, and the pick is
    `margin` steps below the highest safe one (never below the lowest). None: even the
    lowest threshold misses.
    """
    safe: list[float] = []
    for row in sorted(rows, key=lambda r: float(r["threshold"])):
        languages = [key for key in row if key != "threshold"]
        recalls = [share(row[lang]["distress_recall"]) for lang in languages]
        if any(r is not None and r < TARGET_RECALL for r in recalls):
            break
        safe.append(float(row["threshold"]))
    if not safe:
        return None
    return safe[max(0, len(safe) - 1 - margin)]


def figures(records: Sequence[Record], threshold: float) -> dict[str, Any]:
    """One set's JSON-ready figures: per language, the sweep, the simulation check."""
    return {
        "distress_threshold": threshold,
        "languages": {language: summarise(mine) for language, mine in by_language(records)},
        "sweep": sweep(records),
        "simulation_mismatches": simulation_mismatches(records, threshold),
    }


def evaluate(
    model: Path | None = None, datasets: Sequence[str] = ("heldout", "dev")
) -> tuple[dict[str, dict[str, Any]], list[Record]]:
    """Run the sets through one stack; each set's figures (by name) and every record."""
    examples = [e for d in datasets for language in LANGUAGES for e in load_examples(language, d)]
    started = time.monotonic()
    records = run_examples(examples, model)
    seconds = round(time.monotonic() - started, 1)
    threshold = distress_threshold()
    results: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        results[dataset] = {
            "seconds": seconds,
            **figures([r for r in records if r.dataset == dataset], threshold),
        }
    if "dev" in results:
        results["dev"]["chosen_threshold"] = choose_threshold(results["dev"]["sweep"])
        results["dev"]["margin_steps"] = MARGIN_STEPS
    return results, records
