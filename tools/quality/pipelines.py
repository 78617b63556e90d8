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
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tools.model import RASA_DIR, ROOT, train
from tools.quality import crossval, document
from tools.quality.heldout import LANGUAGES, evaluate
from tools.quality.machine import describe

CONFIGS = Path(__file__).resolve().parent / "configs"
WORK = ROOT / "var" / "quality"
MIN_RECALL = 0.99


def description(config: Path) -> str:
    """The config's first comment line (what the pipeline is)."""
    first = config.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else ""


def same_pipeline(a: Path, b: Path) -> bool:
    """Whether two config files say the same thing (comments and layout aside)."""
    return bool(yaml.safe_load(a.read_text()) == yaml.safe_load(b.read_text()))


def project_copy(config: Path, name: str) -> Path:
    """A copy of rasa_project's training inputs with another config.yml."""
    target = WORK / "projects" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(RASA_DIR / "requirements.lock", target)
    shutil.copytree(RASA_DIR / "domain", target / "domain")
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
    results, _ = evaluate(model)
    langs = results["languages"]
    row: dict[str, Any] = {
        "name": name,
        "description": description(config),
        "model": model.name.removesuffix(".tar.gz"),
        "train_seconds": round(seconds, 1),
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


def ranking_key(row: dict[str, Any]) -> tuple[float, float]:
    """Better pipelines sort first: weakest language's accuracy, then fewer false escalations."""
    held = row["heldout"]
    return (-held["lowest_accuracy"], document.share(held["false_escalations"]) or 0.0)


def verdict(rows: Sequence[dict[str, Any]], kept: str | None) -> str:
    """The sentence on which pipeline is kept and why, from the numbers."""
    safe = [r for r in rows if r["heldout"]["lowest_distress_recall"] >= MIN_RECALL]
    if not safe:
        return "No pipeline reaches distress recall 0.99 in every language."
    best = sorted(safe, key=ranking_key)[0]
    rule = (
        f"of the pipelines whose distress recall is at least {MIN_RECALL} in every language, "
        "it has the highest held-out topic accuracy in its weakest language (ties: fewer "
        "false escalations)"
    )
    if kept == best["name"]:
        return f"`{kept}` is kept in rasa_project/config.yml: {rule}."
    return (
        f"By these numbers `{best['name']}` is best ({rule}), but rasa_project/config.yml "
        f"holds {'`' + kept + '`' if kept else 'none of them'}."
    )


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
    kept = next((c.stem for c in configs if same_pipeline(c, RASA_DIR / "config.yml")), None)
    ordered = sorted(rows.values(), key=ranking_key)
    figures = {**describe(), "kept": kept, "rows": ordered, "verdict": verdict(ordered, kept)}
    document.save("pipelines", figures)
    print("\n".join(document.pipelines_section(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
