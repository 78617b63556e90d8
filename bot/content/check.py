"""`make content-check`: validate content/ and print file:line problems; exit 1 on any."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.content.loader import load_content
from bot.settings import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    """Check the content tree given (or content/) and report every problem."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else PROJECT_ROOT / "content"
    snapshot, problems = load_content(root)
    for problem in problems:
        print(problem.format(root))
    if snapshot is None:
        print(f"{len(problems)} problem(s) in {root}; nothing changes for users until fixed.")
        return 1
    print(
        f"content OK: {len(snapshot.answers)} answers, "
        f"{len(snapshot.distress)} distress and {len(snapshot.request_human)} "
        "request-a-person phrases"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
