"""Compare NLU pipelines on the same data: held-out set through the real stack, and CV.

python -m tools.quality.pipelines [NAME ...] [--no-crossval]

Each tools/quality/configs/<name>.yml is a whole Rasa config.yml. For each, a copy of
rasa_project/ with that config is trained (models cached under var/quality/models by
the hash of their training inputs), run through the stack on the held-out set, and
cross-validated (tools.quality.crossval). The table goes into docs/quality.md with the
pipeline that rasa_project/config.yml holds marked as kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.model import RASA_DIR, ROOT, train
from tools.quality import crossval, document
from tools.quality.choice import CONFIGS, ranking_key
from tools.quality.heldout import LANGUAGES, evaluate
from tools.quality.machine import describe

WORK = ROOT / "var" / "quality"


def description(config: Path) -> str:
    """The config's first comment line (what the pipeline is)."""
    first = config.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else ""


def project_copy(config: Path, name: str) -> Path:
    """A copy of rasa_project's training inputs with another config.yml."""
    target = WORK / "projects" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(RASA_DIR / "requirements.lock", target)
    shutil.copytree(RASA_DIR / "domain", target / "domain")
    shutil.copytree(RASA_DIR / "classifiers", target / "classifiers")
    shutil.copytree(RASA_DIR / "data", target / "data")
    shutil.copy(config, target / "config.yml")
    return target


def trained(config: Path, name: str) -> tuple[Path, float]:
    """The model for a config (trained unless cached) and how long its training took."""
    models = WORK / "models"
    before = time.monotonic()
    model = train(project_copy(config, name), models_dir=models)
    seconds = time.monotonic() - before
    timing = model.with_suffix(".seconds.json")
    if timing.exists() and seconds < 30:  # a cache hit: keep the time of the real training
        return model, float(json.loads(timing.read_text())["seconds"])
    timing.write_text(json.dumps({"seconds": round(seconds, 1)}))
    return model, seconds


def total(figures: dict[str, Any], key: str) -> list[int]:
    """An [n, N] count summed over the languages."""
    return [sum(figures[lang][key][i] for lang in figures) for i in (0, 1)]


def compare(config: Path, name: str, with_crossval: bool) -> dict[str, Any]:
    """One pipeline's row: training time, held-out figures and cross-validation."""
    model, seconds = trained(config, name)
    results, _ = evaluate(model, ("heldout",))
    langs = results["heldout"]["languages"]
    row: dict[str, Any] = {
        "name": name,
        "description": description(config),
        "model": model.name.removesuffix(".tar.gz"),
        "train_seconds": round(seconds, 1),
        "measured": dt.datetime.now(dt.UTC).date().isoformat(),  # earlier rows keep theirs
        "heldout": {
            "accuracy": {lang: langs[lang]["topic_accuracy"] for lang in langs},
            "macro_f1": {lang: langs[lang]["macro_f1"] for lang in langs},
            "lowest_accuracy": min(langs[lang]["topic_accuracy"] for lang in langs),
            "lowest_macro_f1": min(langs[lang]["macro_f1"] for lang in langs),
            "distress_recall": total(langs, "distress_recall"),
            "false_escalations": total(langs, "false_escalations"),
            "lowest_distress_recall": min(
                document.share(langs[lang]["distress_recall"]) or 0.0 for lang in langs
            ),
        },
    }
    if with_crossval:
        out = WORK / f"crossval-{row['model']}"
        if (out / "intent_report.json").exists():  # same data and config: same seeded folds
            cv = crossval.score(out)
        else:
            cv = crossval.crossvalidate(config, out)
        row["crossval"] = {lang: cv["languages"][lang]["accuracy"] for lang in LANGUAGES}
        row["crossval_macro_f1"] = {lang: cv["languages"][lang]["macro_f1"] for lang in LANGUAGES}
    return row


def main(argv: Sequence[str] | None = None) -> int:
    """Compare the chosen (default: all) pipelines and write the table into docs/quality.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="configs to run (default: all)")
    parser.add_argument("--no-crossval", action="store_true", help="held-out set only")
    args = parser.parse_args(argv)
    configs = sorted(CONFIGS.glob("*.yml"))
    chosen = [c for c in configs if not args.names or c.stem in args.names]
    previous = document.load("pipelines") or {}
    rows = {
        r["name"]: r for r in previous.get("rows", []) if (CONFIGS / f"{r['name']}.yml").exists()
    }
    for config in chosen:
        print(f"pipeline {config.stem} ...", flush=True)
        rows[config.stem] = compare(config, config.stem, not args.no_crossval)
    ordered = sorted(rows.values(), key=ranking_key)
    figures = {**describe(), "rows": ordered}
    document.save("pipelines", figures)
    print("\n".join(document.pipelines_section(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
