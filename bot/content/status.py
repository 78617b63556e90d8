"""`make content-status`: topics × languages (complete, missing, outdated), and stamping.

python -m bot.content.status [ROOT]              print the table
python -m bot.content.status stamp FILE [FILE…]  mark translations as made from today's source
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bot.content.loader import load_content
from bot.content.translations import Cell, Status, translation_table, words_hash
from bot.content.yamlfile import YamlError, load_yaml
from bot.settings import PROJECT_ROOT

MARKS = {
    Status.COMPLETE: "ok",
    Status.MISSING: "MISSING",
    Status.OUTDATED: "outdated",
    Status.FALLBACK: "→",
}
_STAMP_LINE = re.compile(r"^translated_from:.*$", re.MULTILINE)


def cell_text(cell: Cell) -> str:
    """One table cell as text: ok, MISSING, outdated, or → the fallback language."""
    if cell.status is Status.FALLBACK:
        return f"→ {cell.shown_in}"
    return MARKS[cell.status]


def print_status(root: Path) -> int:
    """Print the translation table; exit 1 when content has errors (fix those first)."""
    snapshot, problems = load_content(root)
    if snapshot is None:
        for problem in problems:
            if not problem.warning:
                print(problem.format(root))
        print("content has errors; run `make content-check` and fix them first")
        return 1
    table = translation_table(snapshot)
    codes = list(snapshot.languages)
    width = max(len(topic) for topic in table) + 2
    print("topic".ljust(width) + "".join(code.ljust(11) for code in codes) + "source hash")
    counts: dict[Status, int] = dict.fromkeys(Status, 0)
    for topic, row in table.items():
        source = snapshot.answers.get((topic, snapshot.source_language))
        cells = "".join(cell_text(row[code]).ljust(11) for code in codes)
        print(topic.ljust(width) + cells + (source.words_hash if source else "-"))
        for cell in row.values():
            counts[cell.status] += 1
    print(
        f"\n{counts[Status.COMPLETE]} complete, {counts[Status.OUTDATED]} outdated, "
        f"{counts[Status.MISSING]} missing, {counts[Status.FALLBACK]} shown in a fallback "
        f"language. Source language: {snapshot.source_language}. After updating a translation, "
        "run `make content-stamp FILES=content/topics/<topic>/<language>.yml`."
    )
    return 0


def stamp(path: Path, source_language: str = "en") -> str:
    """Write `translated_from:` (the source text's current hash) into one translation file."""
    original = path.parent / f"{source_language}.yml"
    if path.resolve() == original.resolve():
        raise ValueError(f"{path} is the source text itself; stamp its translations instead")
    try:
        data = load_yaml(original)
    except YamlError as exc:
        raise ValueError(f"{original}:{exc.line}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{original} is not an answer file")
    line = f"translated_from: {words_hash(data)}"
    text = path.read_text(encoding="utf-8")
    if _STAMP_LINE.search(text):
        text = _STAMP_LINE.sub(line, text, count=1)
    else:
        text = text.rstrip("\n") + f"\n{line}\n"
    path.write_text(text, encoding="utf-8")
    return line


def main(argv: list[str] | None = None) -> int:
    """Print the status table, or stamp the files given."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["stamp"]:
        parser = argparse.ArgumentParser(prog="content-stamp")
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--source-language", default="en")
        parsed = parser.parse_args(args[1:])
        for path in parsed.files:
            try:
                print(f"{path}: {stamp(path, parsed.source_language)}")
            except (OSError, ValueError) as exc:
                print(f"{path}: not stamped: {exc}")
                return 1
        return 0
    root = Path(args[0]) if args else PROJECT_ROOT / "content"
    return print_status(root)


if __name__ == "__main__":
    raise SystemExit(main())
