"""YAML loading that remembers the line of every key and list item, for editor messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode


class LineDict(dict[Any, Any]):
    """A dict that knows the line of each key (1-based), where each text value starts, and itself.

    `text_lines[key]` is the line of a text value's first character: the line after the key
    for a `|` or `>` block, the key's own line for text written after the colon.
    """

    line: int = 1
    lines: dict[Any, int]
    text_lines: dict[Any, int]


class LineList(list[Any]):
    """A list that knows the line of each item (1-based) and of itself."""

    line: int = 1
    lines: list[int]


class _LineLoader(yaml.CSafeLoader):
    """Safe (libyaml) loader building LineDict/LineList instead of dict/list."""


def _mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    """Construct a mapping, keeping key lines; duplicate keys are an error."""
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    result.text_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a word, not a list", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {key!r} appears twice; keep one",
                key_node.start_mark,
            )
        try:
            result[key] = loader.construct_object(value_node, deep=True)
        except ValueError as exc:
            # PyYAML turns 2026-11-31 into a date and fails with a plain ValueError.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{value_node.value!r} is not a real date ({exc}); write it as YYYY-MM-DD",
                value_node.start_mark,
            ) from exc
        result.lines[key] = key_node.start_mark.line + 1
        block = isinstance(value_node, ScalarNode) and value_node.style in ("|", ">")
        result.text_lines[key] = value_node.start_mark.line + 1 + (1 if block else 0)
    return result


def _sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    """Construct a sequence, keeping item lines."""
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


class YamlError(ValueError):
    """A file is not valid YAML; carries the line for the editor."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def load_yaml(path: Path) -> Any:
    """Load one YAML file with line information; raise YamlError with the line on bad syntax."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(1, "the file is not UTF-8 text; save it as UTF-8") from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
            # The end of the file is where libyaml noticed; the open quote is the fault.
            raise YamlError(
                exc.context_mark.line + 1,
                "this quote is never closed; add the closing quote at the end of the text "
                "(or remove the opening one)",
            ) from exc
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        raise YamlError(
            line,
            f"this is not valid YAML ({problem}); check the indentation and that text "
            "with a colon is inside a `|` block or quotes",
        ) from exc


def line_of(container: Any, key: Any, default: int = 1) -> int:
    """Best-known line of a key (dict) or index (list), or the container's own line."""
    if isinstance(container, LineDict):
        return container.lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int) and key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", default)


def text_line_of(container: Any, key: Any) -> int:
    """The line where a key's text value starts (see LineDict.text_lines)."""
    if isinstance(container, LineDict):
        return container.text_lines.get(key, line_of(container, key))
    return line_of(container, key)
