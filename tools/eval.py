"""`make eval`: the held-out and tuning sets through the real web API, scored per language.

python -m tools.eval [--misses] [--model PATH]

Writes docs/quality/heldout.json (the set that judges), docs/quality/dev.json (the
tuning set and the distress threshold it chooses), the confusion pictures
docs/quality/heldout-<lang>.png, and re-renders docs/quality.md
(tools/quality/document.py); every example's outcome goes to
var/quality/heldout-records.json. `--misses` lists the tuning set's mistakes: read
those, not the held-out set's, when writing training sentences. The cross-validation
half of `make eval` is `python -m tools.quality.crossval`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tools.model import ROOT, model_path
from tools.quality import document
from tools.quality.heldout import Record, by_language, evaluate
from tools.quality.machine import describe
from tools.quality.plots import confusion_png

RECORDS = ROOT / "var" / "quality" / "heldout-records.json"


def misses(records: Sequence[Record]) -> list[str]:
    """One line per wrong topic or wrong escalation, for reading kinds of mistakes."""
    lines = []
    for language, mine in by_language([r for r in records if r.dataset == "dev"]):
        lines.append(f"\n{language}:")
        for r in mine:
            expected, got = r.pair
            if expected != got or (r.kind == "ordinary" and r.escalation is not None):
                how = f"{r.escalation} by {r.source}" if r.escalation else "no escalation"
                lines.append(
                    f"  {expected} -> {got} ({how}; top {r.nlu_intent} {r.nlu_confidence:.2f}, "
                    f"distress {r.distress_score:.2f}): {r.text}"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the held-out evaluation and write its section of docs/quality.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true", help="list the tuning set's mistakes")
    parser.add_argument("--model", type=Path, help="evaluate this model, write no report")
    args = parser.parse_args(argv)
    model = args.model or model_path()
    results, records = evaluate(model)
    RECORDS.parent.mkdir(parents=True, exist_ok=True)
    RECORDS.write_text(
        json.dumps([asdict(r) for r in records], indent=1, ensure_ascii=False), encoding="utf-8"
    )
    run = {**describe(), "model": model.name.removesuffix(".tar.gz")}
    heldout, dev = {**run, **results["heldout"]}, {**run, **results["dev"]}
    if args.model is None:
        for language, f in heldout["languages"].items():
            confusion_png(
                document.confusion_of(f),
                document.QUALITY_DIR / f"heldout-{language}.png",
                f"Held-out set, {language}: topic accuracy {f['topic_accuracy']:.3f} "
                f"(n={f['examples']})",
            )
        document.save("dev", dev)
        document.save("heldout", heldout)
    print("\n".join(document.targets_section(heldout) + document.dev_section(dev)))
    if args.misses:
        print("\n".join(misses(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
