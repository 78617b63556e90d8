"""Which pipeline rasa_project/config.yml holds, and which one the numbers favour."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tools.model import RASA_DIR

CONFIGS = Path(__file__).resolve().parent / "configs"
MIN_RECALL = 0.99


def same_pipeline(a: Path, b: Path) -> bool:
    """Whether two config files say the same thing (comments and layout aside)."""
    return bool(yaml.safe_load(a.read_text()) == yaml.safe_load(b.read_text()))


def kept_name(config: Path = RASA_DIR / "config.yml") -> str | None:
    """The name of the compared config that rasa_project/config.yml is, if any."""
    return next((c.stem for c in sorted(CONFIGS.glob("*.yml")) if same_pipeline(c, config)), None)


def false_share(row: dict[str, Any]) -> float:
    """A row's share of ordinary examples that escalated."""
    n, total = row["heldout"]["false_escalations"]
    return float(n / total) if total else 0.0


def ranking_key(row: dict[str, Any]) -> tuple[float, float]:
    """Better pipelines sort first: weakest language's accuracy, then fewer false escalations."""
    return (-row["heldout"]["lowest_accuracy"], false_share(row))


def verdict(rows: Sequence[dict[str, Any]], kept: str | None) -> str:
    """The sentence on which pipeline is kept and why, from the numbers."""
    safe = [r for r in rows if r["heldout"]["lowest_distress_recall"] >= MIN_RECALL]
    if not safe:
        return f"No pipeline reaches distress recall {MIN_RECALL} in every language."
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
