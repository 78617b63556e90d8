"""Put the schema line first in every answer file, for completion in editors (VS Code, YAML).

    python -m tools.content_modelines [CONTENT_DIR] [--check]

Adds (or corrects) `# yaml-language-server: $schema=../../schema/answer.schema.json` as the
first line of every content/topics/<topic>/<language>.yml. Running it again changes nothing.
With --check it only lists the files that need the line and exits 1 if there are any.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# yaml-language-server:"
SCHEMA = "answer.schema.json"


def modeline(path: Path, content_dir: Path) -> str:
    """The schema line for one answer file: the schema's path relative to the file."""
    schema = content_dir / "schema" / SCHEMA
    relative = Path(os.path.relpath(schema, path.parent)).as_posix()
    return f"{MARKER} $schema={relative}"


def with_modeline(text: str, line: str) -> str:
    """The file's text with `line` first: replacing an old schema line, else added above."""
    newline = "\r\n" if "\r\n" in text else "\n"
    first, _, rest = text.partition("\n")
    if first.rstrip("\r").startswith(MARKER):
        return line + newline + rest
    return line + newline + text


def answer_files(content_dir: Path) -> list[Path]:
    """Every answer file under content/topics, in a stable order."""
    return sorted((content_dir / "topics").glob("*/*.yml"))


def refresh(content_dir: Path, check: bool = False) -> list[Path]:
    """Add or correct the schema line in every answer file; return the files that needed it."""
    changed: list[Path] = []
    for path in answer_files(content_dir):
        with path.open(encoding="utf-8", newline="") as file:
            text = file.read()
        updated = with_modeline(text, modeline(path, content_dir))
        if updated == text:
            continue
        changed.append(path)
        if not check:
            path.write_text(updated, encoding="utf-8", newline="")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Refresh the schema lines (or, with --check, report the files lacking them)."""
    parser = argparse.ArgumentParser(prog="content_modelines", description=__doc__)
    parser.add_argument("content_dir", nargs="?", type=Path, default=ROOT / "content")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    args = parser.parse_args(argv)
    content_dir: Path = args.content_dir
    changed = refresh(content_dir, check=args.check)
    for path in changed:
        print(f"{'needs the line' if args.check else 'updated'}: {path}")
    total = len(answer_files(content_dir))
    print(f"{len(changed)} of {total} answer files {'need' if args.check else 'got'} the line")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
