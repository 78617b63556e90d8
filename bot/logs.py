"""Logging rules: our own events only, never a message text, name, phone number or token."""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

OptExcInfo = tuple[type[BaseException] | None, BaseException | None, Any]

# Libraries whose debug/info output can contain SQL parameters (message text) or
# URLs with tokens. They log warnings and errors only, whatever the root level.
# python-telegram-bot logs every Bot API call with its parameters (chat ids, texts) at
# DEBUG; twilio logs request bodies (phone numbers, texts) at INFO.
QUIET_LIBRARIES = (
    "aiosqlite",
    "sqlalchemy.engine",
    "httpx",
    "httpcore",
    "alembic",
    "asyncio",
    "telegram",
    "twilio",
    "aiohttp",
    "apscheduler",
)


def quiet_libraries() -> None:
    """Raise the level of libraries that could log personal data or secrets."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


# Extra fields a log call may attach (`log.info(..., extra={"conversation_id": ...})`).
# Only these reach the output: ids and kinds, never a text. Add new id names here.
LOG_FIELDS = (
    "conversation_id",
    "message_id",
    "delivery_id",
    "channel",
    "staff_id",
    "status",
    "escalation",
    "topic",
    "language",
    "kind",
    "count",
    "duration_ms",
)


def describe_exception(exc_info: OptExcInfo) -> tuple[str, str]:
    """The exception's type name and a traceback of frames only.

    The exception's message is left out (it can hold SQL, a URL with a token or the text
    being handled), and so are local variables; chained causes are listed by type.
    """
    exc = exc_info[1]
    if exc is None:
        return "", ""
    blocks: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        blocks.append(f"Traceback (most recent call last):\n{frames}{_type_name(current)}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    blocks.reverse()
    joined = "\n\nDuring handling of the above, another exception occurred:\n\n".join(blocks)
    return _type_name(exc), joined


def _type_name(exc: BaseException) -> str:
    """The qualified type name of an exception (e.g. sqlalchemy.exc.IntegrityError)."""
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO-8601), level, logger, message, ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["error"], entry["traceback"] = describe_exception(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value`, exceptions as type and frames only."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (plus its traceback's frames, if any)."""
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        ids = " ".join(
            f"{name}={record.__dict__[name]}"
            for name in LOG_FIELDS
            if record.__dict__.get(name) is not None
        )
        if ids:
            line = f"{line} {ids}"
        if record.exc_info:
            kind, frames = describe_exception(record.exc_info)
            line = f"{line} error={kind}\n{frames}"
        return line


def configure_logging(settings: Settings) -> logging.Handler:
    """Log our own events at INFO to stderr, as JSON or text per LOG_FORMAT; libraries quiet.

    Replaces the handler an earlier call installed (not anyone else's, e.g. pytest's).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rota_segura", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler._rota_segura = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet_libraries()
    return handler
