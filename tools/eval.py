"""`make eval`: send the labelled evaluation set through the real web API and score it.

Each example is the first message of a new person, as the held-out check does.
Scores per language: topic accuracy, reply language = message language,
distress recall, escalation on requests for a person, false escalations on
ordinary questions (and on the hard negatives that use danger words).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bot.topics import INTENT_TO_TOPIC
from tools.model import ROOT
from tools.stack import running_stack

EVAL_DIR = ROOT / "tests" / "data" / "eval"
LANGUAGES = ("en", "pt", "es")


@dataclass
class Score:
    """Counts for one language."""

    total: int = 0
    topic_ok: int = 0
    lang_total: int = 0
    lang_ok: int = 0
    distress: int = 0
    distress_caught: int = 0
    requests: int = 0
    requests_caught: int = 0
    ordinary: int = 0
    false_escalations: int = 0
    hard: int = 0
    hard_escalations: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)


def ratio(part: int, whole: int) -> str:
    """A ratio with three decimals, or n/a."""
    return f"{part / whole:.3f}" if whole else "n/a"


def load_examples(language: str) -> list[dict[str, object]]:
    """The labelled examples of one language."""
    data = yaml.safe_load((EVAL_DIR / f"{language}.yml").read_text(encoding="utf-8"))
    return list(data["examples"])


def score_language(client: httpx.Client, language: str) -> Score:
    """Send every example of a language as a new person's first message."""
    score = Score()
    for example in load_examples(language):
        intent = str(example["intent"])
        expected = INTENT_TO_TOPIC[intent]
        response = client.post(
            "/api/web/messages",
            json={"user_id": f"eval-{uuid.uuid4()}", "text": str(example["text"])},
        )
        response.raise_for_status()
        body = response.json()
        topics = [r["topic"] for r in body["replies"] if r["topic"] != "privacy_notice"]
        got = topics[0] if topics else None
        score.total += 1
        if got == expected or (intent == "language" and got == "language_set"):
            score.topic_ok += 1
        else:
            score.confusions[(expected, str(got))] += 1
        if intent != "language":  # a request to switch is answered in the asked-for language
            score.lang_total += 1
            score.lang_ok += body["language"] == language
        escalation = body["escalation"]
        if intent == "distress":
            score.distress += 1
            score.distress_caught += escalation == "distress"
            if escalation != "distress":
                score.misses.append(f"missed distress ({escalation}): {example['text']}")
        elif intent == "request_human":
            score.requests += 1
            score.requests_caught += escalation is not None
        else:
            score.ordinary += 1
            score.false_escalations += escalation is not None
            if escalation is not None:
                score.misses.append(f"false {escalation} ({intent}): {example['text']}")
            if example.get("hard_negative"):
                score.hard += 1
                score.hard_escalations += escalation is not None
    return score


def report(scores: dict[str, Score]) -> str:
    """A Markdown table of the scores."""
    lines = [
        "| language | examples | topic accuracy | reply language | distress recall "
        "| request escalation | false escalations | false esc. (hard negatives) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for language, s in scores.items():
        lines.append(
            f"| {language} | {s.total} | {ratio(s.topic_ok, s.total)} "
            f"| {ratio(s.lang_ok, s.lang_total)} "
            f"| {ratio(s.distress_caught, s.distress)} ({s.distress_caught}/{s.distress}) "
            f"| {ratio(s.requests_caught, s.requests)} "
            f"| {ratio(s.false_escalations, s.ordinary)} ({s.false_escalations}/{s.ordinary}) "
            f"| {ratio(s.hard_escalations, s.hard)} ({s.hard_escalations}/{s.hard}) |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run the evaluation and print (and optionally save) the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--confusions", action="store_true", help="list the commonest mistakes")
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--misses", action="store_true", help="list missed distress and false escalations"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp)) as stack,
        httpx.Client(base_url=stack.base_url, timeout=30) as client,
    ):
        scores = {language: score_language(client, language) for language in LANGUAGES}
    table = report(scores)
    print(table)
    if args.confusions:
        for language, s in scores.items():
            print(f"\n{language}: expected -> got")
            for (expected, got), count in s.confusions.most_common(15):
                print(f"  {count:3d}  {expected} -> {got}")
    if args.misses:
        for language, s in scores.items():
            print(f"\n{language}:")
            for line in s.misses:
                print(f"  {line}")
    if args.write:
        stamp = dt.date.today().isoformat()
        args.write.write_text(f"Measured {stamp} with `make eval`.\n\n{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
