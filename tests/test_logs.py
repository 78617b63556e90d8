"""Structured logs: one JSON object per line with ids, and never a text, number or secret."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, TextFormatter, configure_logging
from tests.conftest import make_settings
from tests.factories import App, message

pytestmark = pytest.mark.anyio

CANARIES = ("canary-logs-9b1e", "kanarie-0c44")
PHONE = "+258841234567"
PHONE_DIGITS = "841234567"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and above, through the JSON formatter, into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(buffer: io.StringIO) -> list[dict[str, object]]:
    """Each line as JSON (fails the test on a line that is not)."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_every_line_is_one_json_object_with_time_level_logger_message_and_ids(
    json_lines: io.StringIO,
) -> None:
    """Ids passed in `extra` become fields; the time is ISO-8601 UTC."""
    log = logging.getLogger("bot.test")
    log.info("conversation %s escalated", "c-1", extra={"conversation_id": "c-1", "channel": "web"})
    log.warning("second line\nwith a newline", extra={"message_id": 42})
    first, second = parsed(json_lines)
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["message"] == "conversation c-1 escalated"
    assert first["conversation_id"] == "c-1" and first["channel"] == "web"
    when = dt.datetime.fromisoformat(str(first["time"]).replace("Z", "+00:00"))
    assert when.utcoffset() == dt.timedelta(0)
    assert second["message_id"] == 42 and second["level"] == "WARNING"


def test_extra_fields_outside_the_allow_list_are_left_out(json_lines: io.StringIO) -> None:
    """A text passed as an extra by mistake does not reach the output."""
    logging.getLogger("bot.test").info("stored", extra={"text": CANARIES[0], "channel": "web"})
    (line,) = parsed(json_lines)
    assert "text" not in line and CANARIES[0] not in json_lines.getvalue()


def test_exceptions_are_logged_by_type_and_frames_without_their_message(
    json_lines: io.StringIO,
) -> None:
    """An exception's message (SQL, a URL with a token, a text) never reaches the logs."""
    try:
        try:
            raise KeyError(CANARIES[0])
        except KeyError as inner:
            raise ValueError(f"could not store {CANARIES[1]} for {PHONE}") from inner
    except ValueError:
        logging.getLogger("bot.test").exception("storing failed")
    (line,) = parsed(json_lines)
    assert line["error"] == "ValueError"
    trace = str(line["traceback"])
    assert "KeyError" in trace and "test_logs.py" in trace
    output = json_lines.getvalue()
    assert not any(canary in output for canary in CANARIES) and PHONE_DIGITS not in output


def test_the_text_format_has_ids_and_hides_exception_messages() -> None:
    """LOG_FORMAT=text: one readable line, ids as key=value, exceptions without messages."""
    record = logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "failed", (), None)
    record.conversation_id = "c-9"
    try:
        raise RuntimeError(CANARIES[0])
    except RuntimeError as exc:
        record.exc_info = (RuntimeError, exc, exc.__traceback__)
    line = TextFormatter().format(record)
    assert "ERROR bot.x failed conversation_id=c-9 error=RuntimeError" in line
    assert CANARIES[0] not in line


def test_configure_logging_installs_one_handler_per_format() -> None:
    """Called twice, it replaces its own handler; json or text per LOG_FORMAT."""
    root = logging.getLogger()
    level = root.level
    try:
        first = configure_logging(make_settings(log_format="text"))
        second = configure_logging(make_settings())
        assert first not in root.handlers and second in root.handlers
        assert isinstance(second.formatter, JsonFormatter)
        assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
    finally:
        root.removeHandler(second)
        root.setLevel(level)


async def test_a_whole_conversation_logs_no_canary_and_no_phone_number(
    gateway: App, json_lines: io.StringIO
) -> None:
    """Messages, escalation, Rasa down, a caseworker-bound message and erasure: no text logged."""
    async with gateway.client() as client:
        await client.post("/api/web/messages", json=message(PHONE, f"hello {CANARIES[0]}"))
        await client.post(
            "/api/web/messages", json=message(PHONE, f"my number is {PHONE} {CANARIES[1]}")
        )
        gateway.rasa.up = False
        await client.post("/api/web/messages", json=message(PHONE, f"still {CANARIES[0]}"))
        gateway.rasa.up = True
        await client.post(
            "/api/web/messages", json=message(PHONE, f"they took my passport {CANARIES[1]}")
        )
        await client.post("/api/web/messages", json=message(PHONE, f"help {CANARIES[0]}"))
        await client.post("/api/web/messages", json=message(PHONE, payload="delete:confirm"))
    lines = parsed(json_lines)
    assert lines, "the conversation logged nothing at all"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    output = json_lines.getvalue()
    assert not any(canary in output for canary in CANARIES)
    assert PHONE_DIGITS not in output
