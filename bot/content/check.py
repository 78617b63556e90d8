"""`make content-check`: validate content/ and print file:line problems; exit 1 on any error.

Warnings (an outdated translation, a contact due for re-checking, a long answer) are
printed too but do not fail the check: they change nothing a person reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from bot.content.loader import load_content
from bot.settings import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    """Check the content tree given (or content/) and report every problem."""
    parser = argparse.ArgumentParser(prog="content-check", description=__doc__)
    parser.add_argument("root", nargs="?", type=Path, default=PROJECT_ROOT / "content")
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="date the contact re-check warnings as of this day (YYYY-MM-DD)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    snapshot, problems = load_content(root, today=args.today)
    for problem in sorted(problems, key=lambda p: (p.warning, str(p.path), p.line)):
        print(problem.format(root))
    errors = sum(1 for p in problems if not p.warning)
    warnings = len(problems) - errors
    if snapshot is None:
        print(
            f"{errors} error(s) and {warnings} warning(s) in {root}; "
            "nothing changes for users until the errors are fixed."
        )
        return 1
    print(
        f"content OK: {len(snapshot.answers)} answers in {len(snapshot.topics)} topics, "
        f"{len(snapshot.contacts)} contacts, {len(snapshot.distress)} distress and "
        f"{len(snapshot.request_human)} request-a-person phrases; {warnings} warning(s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
