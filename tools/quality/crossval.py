"""`rasa test nlu --cross-validation` on the training data, split per language.

python -m tools.quality.crossval [--config FILE] [--folds 5]

Rasa reports over the whole data set; this reads its per-example predictions
(intent_successes.json and intent_errors.json), gives each example the language of
the training file it came from (rasa_project/data/{nlu,content}/<language>.yml) and
scores each language. The folds are drawn from a fixed seed, so a rerun on the same
data and pipeline reproduces the same figures. Writes docs/quality/crossval.json and
the confusion pictures, then re-renders docs/quality.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.content.training import generate
from bot.topics import INTENT_TO_TOPIC
from tools.model import CONTENT_DIR, RASA_DIR, ROOT, model_path
from tools.quality import document
from tools.quality.machine import config_hash, describe
from tools.quality.metrics import accuracy, confusion, label_scores, macro_f1, reference_labels
from tools.quality.plots import confusion_png

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
LANGUAGES = ("en", "pt", "es")
INTENT_ORDER = (*INTENT_TO_TOPIC, "safety_plan")
ESCALATING = ("distress", "request_human")
SEED = 20240
FOLDS = 5
WORK = ROOT / "var" / "quality"
# Rasa's own command line, with numpy's global seed fixed first: Rasa draws its folds
# from StratifiedKFold(shuffle=True) without a seed of its own.
SEEDED_RASA = (
    "import sys, numpy; numpy.random.seed(int(sys.argv.pop(1))); sys.argv[0] = 'rasa'; "
    "from rasa.__main__ import main; main()"
)


@dataclass(frozen=True)
class Prediction:
    """One cross-validation prediction: text, labelled intent, predicted intent."""

    text: str
    intent: str
    predicted: str
    confidence: float


def read_predictions(results_dir: Path) -> list[Prediction]:
    """Every test-fold prediction Rasa wrote (successes and errors)."""
    found: list[Prediction] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results_dir / name
        if not path.exists():  # Rasa writes no file for an empty list
            continue
        for entry in json.loads(path.read_text(encoding="utf-8")):
            predicted = entry["intent_prediction"]
            found.append(
                Prediction(
                    entry["text"],
                    entry["intent"],
                    str(predicted["name"]),
                    float(predicted["confidence"] or 0.0),
                )
            )
    return found


def example_languages(data_dir: Path = RASA_DIR / "data") -> dict[str, set[str]]:
    """Each training text mapped to the languages whose files hold it."""
    found: dict[str, set[str]] = {}
    for path in sorted(data_dir.glob("*/*.yml")):
        if path.stem not in LANGUAGES:
            continue
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip().removeprefix("- ").strip()
                if text:
                    found.setdefault(text, set()).add(path.stem)
    return found


def split_by_language(
    predictions: Sequence[Prediction], languages: dict[str, set[str]]
) -> dict[str, list[Prediction]]:
    """The predictions of each language; a text written in several languages counts in each."""
    split: dict[str, list[Prediction]] = {language: [] for language in LANGUAGES}
    unknown = [p.text for p in predictions if p.text not in languages]
    if unknown:
        raise ValueError(f"{len(unknown)} predicted texts are in no training file: {unknown[:3]}")
    for prediction in predictions:
        for language in sorted(languages[prediction.text]):
            split[language].append(prediction)
    return split


def summarise(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The figures of one language's predictions (JSON-ready)."""
    pairs = [(p.intent, p.predicted) for p in predictions]
    labels = reference_labels(pairs, INTENT_ORDER)
    distress = [p for p in predictions if p.intent == "distress"]
    ordinary = [p for p in predictions if p.intent not in ESCALATING]
    return {
        "examples": len(pairs),
        "accuracy": accuracy(pairs),
        "macro_f1": macro_f1(pairs, labels),
        "per_intent": {
            label: asdict(score) for label, score in label_scores(pairs, labels).items()
        },
        "distress_recall": [sum(p.predicted == "distress" for p in distress), len(distress)],
        "false_escalations": [sum(p.predicted in ESCALATING for p in ordinary), len(ordinary)],
        "confusion": confusion(pairs, INTENT_ORDER).to_json(),
    }


def run_rasa(config: Path, out: Path, folds: int = FOLDS, seed: int = SEED) -> None:
    """Run Rasa's cross-validation of `config` on rasa_project/data, results into `out`."""
    generate(CONTENT_DIR, RASA_DIR)  # the editors' examples are training data too
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "rasa.log").open("wb") as log:
        subprocess.run(
            [
                str(RASA_PYTHON),
                "-c",
                SEEDED_RASA,
                str(seed),
                "test",
                "nlu",
                "--cross-validation",
                "--folds",
                str(folds),
                "--nlu",
                "data",
                "--config",
                str(config),
                "--domain",
                "domain",
                "--out",
                str(out),
                "--successes",
                "--no-plot",
            ],
            cwd=RASA_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )


def score(out: Path, folds: int = FOLDS, data_dir: Path = RASA_DIR / "data") -> dict[str, Any]:
    """Per-language figures from a finished run in `out` (JSON-ready)."""
    predictions = read_predictions(out)
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    languages = example_languages(data_dir)
    split = split_by_language(predictions, languages)
    overall = [(p.intent, p.predicted) for p in predictions]
    return {
        "folds": folds,
        "seed": SEED,
        "examples": len(predictions),
        "rasa_accuracy": report["accuracy"],
        "rasa_macro_f1": report["macro avg"]["f1-score"],
        "accuracy": accuracy(overall),
        "shared_texts": sum(1 for found in languages.values() if len(found) > 1),
        "languages": {language: summarise(split[language]) for language in LANGUAGES},
    }


def crossvalidate(config: Path, out: Path, folds: int = FOLDS) -> dict[str, Any]:
    """Run and score one pipeline's cross-validation; adds the run time."""
    started = time.monotonic()
    run_rasa(config, out, folds)
    results = score(out, folds)
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Cross-validate the current pipeline and write its section of docs/quality.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=RASA_DIR / "config.yml")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--out", type=Path, help="Rasa's results directory (default under var/)")
    args = parser.parse_args(argv)
    config = args.config.resolve()
    if args.out is not None:
        out = args.out
    elif config == (RASA_DIR / "config.yml").resolve():
        # Named by the model's hash (data and config): the comparison reuses this run.
        out = WORK / f"crossval-{model_path().name.removesuffix('.tar.gz')}"
    else:
        out = WORK / f"crossval-{config_hash(config)}"
    results = {
        **describe(),
        "config": config_hash(config),
        **crossvalidate(config, out, args.folds),
    }
    languages = results["languages"]
    assert isinstance(languages, dict)
    for language, figures in languages.items():
        confusion_png(
            document.confusion_of(figures),
            document.QUALITY_DIR / f"crossval-{language}.png",
            f"Cross-validation ({args.folds} folds), {language}: intent accuracy "
            f"{figures['accuracy']:.3f} (n={figures['examples']})",
            ("labelled intent", "predicted intent"),
        )
    document.save("crossval", results)
    print(document.crossval_section(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
