"""A recording stand-in for Twilio's REST API (sending messages), served on 127.0.0.1.

Point the twilio library at it with `client.api.base_url = fake.url`; the library then
posts `POST {fake.url}/2010-04-01/Accounts/<AccountSid>/Messages.json` with the
parameters as form fields (To, From, Body, ContentSid, ContentVariables,
StatusCallback, MediaUrl, ...) and HTTP basic auth (account sid : auth token).
`DELETE .../Messages/<MessageSid>.json` (deleting a message) is recorded in `deleted`
and answered 204, or with a queued failure (`fail_next_delete`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import RecordingServer

API_VERSION = "2010-04-01"
TEST_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TEST_AUTH_TOKEN = "f" * 32  # made up; the fake only compares it


@dataclass
class Sent:
    """One Messages.json request the fake received (rejected ones included).

    `params` maps each form field to its (last) value; `form` keeps every pair in
    order, for repeated fields such as MediaUrl. `sid` is "" unless it was accepted.
    """

    account_sid: str
    auth_ok: bool
    params: dict[str, str]
    sid: str
    status: int = 201
    form: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    code: int
    message: str


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """An error body in Twilio's shape."""
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class FakeTwilio(RecordingServer):
    """Twilio's Messages API for one account, recording every send.

    Use as a context manager (`with FakeTwilio() as fake:`) or `start()`/`stop()`.
    """

    server_name = "fake-twilio"

    def __init__(
        self, account_sid: str = TEST_ACCOUNT_SID, auth_token: str = TEST_AUTH_TOKEN
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.sent: list[Sent] = []
        self._failures: list[_Failure] = []
        self.deleted: list[str] = []
        self._delete_failures: list[_Failure] = []
        self.app = Starlette(
            routes=[
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json",
                    self._create_message,
                    methods=["POST"],
                ),
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages/{{message_sid}}.json",
                    self._delete_message,
                    methods=["DELETE"],
                ),
            ]
        )
        super().__init__()

    # --- lifecycle -------------------------------------------------------------

    # --- test helpers ----------------------------------------------------------

    @property
    def accepted(self) -> list[Sent]:
        """The sends that were answered 201 (the messages Twilio would deliver)."""
        with self._lock:
            return [sent for sent in self.sent if sent.status == 201]

    def _describe(self) -> str:
        return ", ".join(f"{s.params.get('To', '?')} -> {s.status}" for s in self.sent)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Sent]:
        """Block until at least `count` requests (of any outcome) were recorded.

        Do not call this from the event loop that sends the messages; use
        `wait_for_async` there.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.sent) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s; recorded: [{self._describe()}]"
                )
            return list(self.sent)

    async def wait_for_async(self, count: int = 1, timeout: float = 10.0) -> list[Sent]:
        """`wait_for` for async tests: yields to the running event loop while it waits."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.sent) >= count:
                    return list(self.sent)
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"expected {count} message(s) within {timeout}s; "
                        f"recorded: [{self._describe()}]"
                    )
            await asyncio.sleep(0.01)

    def clear(self) -> None:
        """Forget recorded sends, deletions and pending failures."""
        with self._lock:
            self.sent.clear()
            self._failures.clear()
            self.deleted.clear()
            self._delete_failures.clear()

    def deletions(self) -> list[str]:
        """The MessageSids deleted so far (answered 204), in order."""
        with self._lock:
            return list(self.deleted)

    def fail_next_delete(
        self,
        times: int = 1,
        status: int = 409,
        code: int = 20009,
        message: str = "Cannot delete this resource before it is complete",
    ) -> None:
        """Answer the next `times` deletions with Twilio's error JSON."""
        with self._lock:
            self._delete_failures.extend([_Failure(status, code, message)] * times)

    def fail_next(
        self,
        times: int = 1,
        status: int = 400,
        code: int = 63016,
        message: str = (
            "Failed to send freeform message because you are outside the allowed window."
        ),
    ) -> None:
        """Answer the next `times` sends with Twilio's error JSON (e.g. 429 / 20429)."""
        with self._lock:
            self._failures.extend([_Failure(status, code, message)] * times)

    # --- the HTTP side ----------------------------------------------------------

    def _record(self, sent: Sent) -> None:
        with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()

    async def _create_message(self, request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        form = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        params = dict(form)
        credentials = _basic_auth(request.headers.get("authorization", ""))
        auth_ok = credentials == (self.account_sid, self.auth_token) and (
            account_sid == self.account_sid
        )

        def reject(status: int, code: int, message: str) -> Response:
            self._record(Sent(account_sid, auth_ok, params, "", status, form))
            return twilio_error(status, code, message)

        if not auth_ok:
            return reject(401, 20003, "Authenticate")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return reject(failure.status, failure.code, failure.message)
        if not params.get("To"):
            return reject(400, 21604, "A 'To' phone number is required.")
        if not params.get("From") and not params.get("MessagingServiceSid"):
            return reject(400, 21603, "A 'From' phone number is required.")
        media = [value for name, value in form if name == "MediaUrl"]
        if not params.get("Body") and not media and not params.get("ContentSid"):
            return reject(400, 21619, "A text message body or media URL must be specified.")

        sid = "SM" + secrets.token_hex(16)
        self._record(Sent(account_sid, auth_ok, params, sid, 201, form))
        return JSONResponse(self._resource(account_sid, sid, params, len(media)), status_code=201)

    async def _delete_message(self, request: Request) -> Response:
        credentials = _basic_auth(request.headers.get("authorization", ""))
        if credentials != (self.account_sid, self.auth_token) or (
            request.path_params["account_sid"] != self.account_sid
        ):
            return twilio_error(401, 20003, "Authenticate")
        with self._changed:
            failure = self._delete_failures.pop(0) if self._delete_failures else None
            if failure is None:
                self.deleted.append(request.path_params["message_sid"])
                self._changed.notify_all()
        if failure is not None:
            return twilio_error(failure.status, failure.code, failure.message)
        return Response(status_code=204)

    @staticmethod
    def _resource(account_sid: str, sid: str, params: dict[str, str], media: int) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        service = params.get("MessagingServiceSid")
        return {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": params.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "messaging_service_sid": service,
            "num_media": str(media),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not params.get("From") else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": params.get("To"),
            "uri": f"{uri}.json",
        }


@contextmanager
def running_fake_twilio(
    account_sid: str = TEST_ACCOUNT_SID, auth_token: str = TEST_AUTH_TOKEN
) -> Iterator[FakeTwilio]:
    """A started FakeTwilio for the duration of the `with` block."""
    with FakeTwilio(account_sid, auth_token) as fake:
        yield fake
