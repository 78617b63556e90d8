"""REST input channel that only answers callers presenting the shared engine token.

Rasa's built-in REST webhook has no authentication (the `--auth-token` flag only
guards the HTTP API), so the gateway talks to this channel instead, with
`Authorization: Bearer <RASA_TOKEN>`.
"""

import hmac
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


class TokenRestInput(RestInput):
    """The REST channel behind a bearer token compared in constant time."""

    @classmethod
    def name(cls) -> Text:
        """Name used in the webhook path: /webhooks/rota/webhook."""
        return "rota"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TokenRestInput":
        """Build the channel from credentials.yml; refuse to start without a token."""
        token = (credentials or {}).get("token") or ""
        if len(str(token)) < 16:
            raise ValueError("rota channel: set RASA_TOKEN (at least 16 characters)")
        return cls(str(token))

    def __init__(self, token: Text) -> None:
        self._expected = f"Bearer {token}".encode()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """The REST blueprint with a token check in front of every route."""
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def require_token(request: Request) -> Optional[HTTPResponse]:
            supplied = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(supplied, self._expected):
                return response.json({"error": "missing or wrong token"}, status=401)
            return None

        return bp
