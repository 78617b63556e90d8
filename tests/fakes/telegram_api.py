"""A recording stand-in for Telegram's Bot API, served over HTTP on 127.0.0.1.

Point python-telegram-bot at it with `Bot(token, base_url=fake.base_url)` (that is
`f"{fake.url}/bot"`); PTB then calls `POST {fake.url}/bot<token>/<method>`.

On the wire PTB (HTTPXRequest) sends every call as a POST whose parameters are
form fields (`application/x-www-form-urlencoded`), or `multipart/form-data` when
the call uploads a file. String values go as they are; every other value
(ints, bools, lists, dicts such as `reply_markup`) is JSON-encoded first. The
fake decodes those back, so `Call.params` holds Python values.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import RecordingServer

BOT_USER: dict[str, Any] = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Rota Segura",
    "username": "rota_segura_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Bot API parameters whose type is String: kept verbatim even when they look like JSON
# (a message text "42" stays "42"). Every other value is JSON-decoded when it parses.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_query_id",
        "url",
        "language_code",
        "name",
        "description",
        "short_description",
        "action",
        "secret_token",
        "ip_address",
        "emoji",
        "title",
        "question",
        "explanation",
        "address",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "file_id",
        "business_connection_id",
        "message_effect_id",
        "custom_title",
        "start_parameter",
        "payload",
        "currency",
        "photo",
        "audio",
        "document",
        "video",
        "voice",
        "sticker",
        "animation",
        "video_note",
    }
)

# Methods whose result is the Message that was sent.
MESSAGE_SENDERS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "sendaudio",
        "senddocument",
        "sendsticker",
        "sendvideo",
        "sendvideonote",
        "sendanimation",
        "sendvoice",
        "sendlocation",
        "sendvenue",
        "sendcontact",
        "senddice",
        "forwardmessage",
    }
)
MESSAGE_EDITORS = frozenset(
    {"editmessagetext", "editmessagecaption", "editmessagereplymarkup", "editmessagemedia"}
)

UPDATE_WAIT_CAP = 1.0  # seconds getUpdates long-polls at most when nothing is queued


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    token: str
    failed: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None


def decode_value(name: str, raw: str) -> Any:
    """A form field as PTB encoded it, back as a Python value."""
    if name in STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, str]], dict[str, bytes]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    assert isinstance(message, EmailMessage)
    fields: list[tuple[str, str]] = []
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        if part.get_filename() is not None:
            files[name] = data
        else:
            fields.append((name, data.decode(part.get_content_charset() or "utf-8")))
    return fields, files


async def read_params(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Query, form, multipart or JSON parameters of a Bot API request, decoded."""
    fields: list[tuple[str, str]] = list(request.query_params.multi_items())
    files: dict[str, bytes] = {}
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if body and content_type.startswith("application/json"):
        payload = json.loads(body)
        params: dict[str, Any] = {k: decode_value(k, v) for k, v in fields}
        params.update(payload)
        return params, files
    if body and content_type.startswith("multipart/form-data"):
        parts, files = _parse_multipart(body, content_type)
        fields.extend(parts)
    elif body:
        fields.extend(parse_qsl(body.decode(), keep_blank_values=True))
    return {name: decode_value(name, raw) for name, raw in fields}, files


def _chat(chat_id: Any) -> dict[str, Any]:
    try:
        number = int(chat_id)
    except (TypeError, ValueError):
        username = str(chat_id).removeprefix("@")
        return {"id": -1001000000001, "type": "channel", "title": username, "username": username}
    if number > 0:
        return {"id": number, "type": "private"}
    kind = "supergroup" if str(number).startswith("-100") else "group"
    return {"id": number, "type": kind, "title": "Test group"}


class FakeTelegram(RecordingServer):
    """Telegram's Bot API, recording every call; see the module docstring for the wire format.

    Use as a context manager (`with FakeTelegram() as fake:`) or `start()`/`stop()`.
    Any token is accepted. State is guarded by a lock: the server thread writes it,
    tests read it.
    """

    server_name = "fake-telegram"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.calls: list[Call] = []
        self.webhook_url: str | None = None
        self.my_name: str = BOT_USER["first_name"]
        self._names: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}
        self._short_descriptions: dict[str, str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._failures: dict[str, list[_Failure]] = defaultdict(list)
        # Like Telegram, message ids count per chat (two chats see the same ids).
        self._next_message_id: dict[str, int] = defaultdict(lambda: 1000)
        self._next_update_id = 900000000
        self.files: dict[str, bytes] = {}
        # Flood control as Telegram applies it to one chat: at most one message per
        # `per_chat_interval` seconds, else 429 with retry_after (0 = no limit).
        self.per_chat_interval = 0.0
        self._last_sent: dict[str, float] = {}
        self._not_before: dict[str, float] = {}
        # Sends to a chat made before the retry_after it was given had passed.
        self.early_sends = 0
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )
        super().__init__()

    # --- lifecycle -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass as PTB's `base_url` (the token and method are appended)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass as PTB's `base_file_url`."""
        return f"{self.url}/file/bot"

    # --- test helpers ----------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of `method` (failed attempts included), oldest first."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def _describe(self) -> str:
        return ", ".join(call.method + (" (failed)" if call.failed else "") for call in self.calls)

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until at least `count` calls of `method` were recorded; returns them.

        Do not call this from the event loop that runs the bot (it would block it);
        use `wait_for_async` there.
        """

        def enough() -> bool:
            return sum(call.method == method for call in self.calls) >= count

        with self._changed:
            if not self._changed.wait_for(enough, timeout):
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s; "
                    f"recorded: [{self._describe()}]"
                )
            return [call for call in self.calls if call.method == method]

    async def wait_for_async(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        """`wait_for` for async tests: yields to the running event loop while it waits."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            if time.monotonic() > deadline:
                with self._lock:
                    recorded = self._describe()
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s; "
                    f"recorded: [{recorded}]"
                )
            await asyncio.sleep(0.01)

    def clear(self) -> None:
        """Forget recorded calls, queued updates and pending failures."""
        with self._lock:
            self.calls.clear()
            self._updates.clear()
            self._failures.clear()

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an Update for the next getUpdates; an `update_id` is added if missing."""
        with self._lock:
            if "update_id" not in update:
                self._next_update_id += 1
                update = {"update_id": self._next_update_id, **update}
            self._updates.append(update)
        return update

    def fail_next(
        self,
        method: str,
        times: int = 1,
        retry_after: int = 1,
        *,
        status: int = 429,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail.

        By default with 429 Too Many Requests and `parameters.retry_after` (PTB raises
        `RetryAfter`); with another `status`, with that status and `description`
        (400 makes PTB raise `BadRequest`, 403 `Forbidden`).
        """
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
            )
        failure = _Failure(status, description, retry_after if status == 429 else None)
        with self._lock:
            self._failures[method].extend([failure] * times)

    # --- the HTTP side ----------------------------------------------------------

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _endpoint(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        params, files = await read_params(request)
        with self._lock:
            pending = self._failures.get(method)
            failure = pending.pop(0) if pending else None
        if failure is None and method.lower() == "sendmessage" and self.per_chat_interval:
            failure = self._flood_control(str(params.get("chat_id")))
        if failure is not None:
            self._record(Call(method, params, token, failed=True, files=files))
            error: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                error["parameters"] = {"retry_after": failure.retry_after}
            return JSONResponse(error, status_code=failure.status)
        if method.lower() == "getupdates":
            result: Any = await self._get_updates(request, params)
        else:
            result = self._answer(method.lower(), params)
        self._record(Call(method, params, token, files=files, result=result))
        return JSONResponse({"ok": True, "result": result})

    def _flood_control(self, chat: str) -> _Failure | None:
        """Refuse a send that comes too soon after the chat's last one (and count early ones)."""
        now = time.monotonic()
        with self._lock:
            if now < self._not_before.get(chat, 0.0):
                self.early_sends += 1
            last = self._last_sent.get(chat)
            if last is not None and now - last < self.per_chat_interval:
                wait = max(1, math.ceil(self.per_chat_interval - (now - last)))
                self._not_before[chat] = now + wait
                return _Failure(429, f"Too Many Requests: retry after {wait}", wait)
            self._last_sent[chat] = now
        return None

    async def _download(self, request: Request) -> Response:
        path = request.path_params["path"]
        with self._lock:
            content = self.files.get(path)
        if content is None:
            return JSONResponse(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404
            )
        return Response(content, media_type="application/octet-stream")

    async def _get_updates(self, request: Request, params: dict[str, Any]) -> list[dict[str, Any]]:
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), UPDATE_WAIT_CAP)
        deadline = time.monotonic() + wait
        while True:
            if await request.is_disconnected():
                return []  # the poller gave up (e.g. PTB stopped): leave the queue alone
            with self._lock:
                if self._updates:
                    taken, self._updates = self._updates[:limit], self._updates[limit:]
                    return taken
            if time.monotonic() >= deadline:
                return []
            await asyncio.sleep(0.01)

    def _message(self, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        with self._lock:
            if message_id is None:
                chat = str(params.get("chat_id"))
                message_id = self._next_message_id[chat]
                self._next_message_id[chat] += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": _chat(params.get("chat_id")),
            "date": int(time.time()),
        }
        for key in ("text", "caption", "reply_markup"):
            if key in params:
                message[key] = params[key]
        if "latitude" in params and "longitude" in params:
            message["location"] = {
                "latitude": params["latitude"],
                "longitude": params["longitude"],
            }
        return message

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        language = str(params.get("language_code") or "")
        handlers: dict[str, Callable[[], Any]] = {
            "getme": lambda: BOT_USER,
            "getwebhookinfo": lambda: {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            },
            "setwebhook": lambda: self._set_webhook(str(params.get("url") or "")),
            "deletewebhook": lambda: self._set_webhook(""),
            "setmyname": lambda: self._store(self._names, language, params.get("name")),
            "getmyname": lambda: {"name": self._names.get(language, self.my_name)},
            "setmydescription": lambda: self._store(
                self._descriptions, language, params.get("description")
            ),
            "getmydescription": lambda: {"description": self._descriptions.get(language, "")},
            "setmyshortdescription": lambda: self._store(
                self._short_descriptions, language, params.get("short_description")
            ),
            "getmyshortdescription": lambda: {
                "short_description": self._short_descriptions.get(language, "")
            },
            "setmycommands": lambda: self._set_commands(params, params.get("commands") or []),
            "deletemycommands": lambda: self._set_commands(params, []),
            "getmycommands": lambda: self._commands.get(self._command_key(params), []),
            "copymessage": lambda: {"message_id": self._message(params)["message_id"]},
            "getfile": lambda: {
                "file_id": params.get("file_id"),
                "file_unique_id": f"u{params.get('file_id')}"[:16],
                "file_size": len(self.files.get(str(params.get("file_id")), b"")),
                "file_path": str(params.get("file_id")),
            },
        }
        if method in handlers:
            return handlers[method]()
        if method in MESSAGE_SENDERS:
            return self._message(params)
        if method in MESSAGE_EDITORS and "chat_id" in params:
            edited = self._message(params, message_id=int(params.get("message_id") or 0))
            edited["edit_date"] = edited["date"]
            return edited
        return True

    def _set_webhook(self, url: str) -> bool:
        with self._lock:
            self.webhook_url = url or None
        return True

    def _store(self, table: dict[str, str], language: str, value: Any) -> bool:
        with self._lock:
            if value:
                table[language] = str(value)
            else:
                table.pop(language, None)
        return True

    @staticmethod
    def _command_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_commands(self, params: dict[str, Any], commands: list[dict[str, Any]]) -> bool:
        with self._lock:
            self._commands[self._command_key(params)] = list(commands)
        return True


@contextmanager
def running_fake_telegram() -> Iterator[FakeTelegram]:
    """A started FakeTelegram for the duration of the `with` block."""
    with FakeTelegram() as fake:
        yield fake
