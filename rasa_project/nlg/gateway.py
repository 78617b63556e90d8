"""NLG through the gateway over kept-alive connections, sending only what the gateway reads.

Rasa's own `callback` generator opens a new HTTP session (a new TCP connection) for
every reply, serialises the whole tracker (every event of the conversation, so more
with every message) twice, once only for a debug line, and checks each answer with
jsonschema. The gateway's NLG endpoint (bot/nlg.py) reads only the response name, the
newest user message's metadata (language, country, channel) and its intent ranking.
This generator sends the same request format (response, id, arguments, tracker,
channel) with the tracker cut down to those, over one connection pool per event loop.

A kept-alive connection can die under a request: the gateway closes one that sat idle
for its keep-alive time, and if Rasa was busy (NLU, policies) when that close arrived
it still writes the next reply's request into it. Rasa then drops the reply and the
person reads "I did not understand". So idle connections are let go well before the
gateway's keep-alive (bot/__main__.py), and a request whose connection broke before
an answer is sent once more on another: rendering a reply changes nothing, so asking
twice is safe. A timeout is not retried (the gateway is slow, not gone).
"""

import asyncio
import logging
from typing import Any, Dict, Optional, Text

import aiohttp
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
# An idle pooled connection is closed after this long, well inside the gateway's
# keep-alive (KEEP_ALIVE_SECONDS in bot/__main__.py, 75 s).
IDLE_SECONDS = 15.0
# The connection failed before an answer: reset, broken pipe, closed by the server, or
# refused when opened.
BROKEN = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
# Keys of a bot message Rasa knows how to send; an answer needs at least one.
MESSAGE_KEYS = ("text", "custom", "buttons", "image", "attachment", "elements", "quick_replies")


def tracker_summary(tracker: DialogueStateTracker) -> Dict[Text, Any]:
    """The part of the tracker the gateway renders with: newest user message and slots."""
    newest: Optional[UserUttered] = None
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            newest = event
            break
    latest = tracker.latest_message
    return {
        "sender_id": tracker.sender_id,
        "latest_message": latest.parse_data if latest is not None else {},
        "events": [newest.as_dict()] if newest is not None else [],
        "slots": tracker.current_slot_values(),
    }


class GatewayNLG(NaturalLanguageGenerator):
    """Asks the gateway's NLG endpoint for each reply, reusing its connections."""

    def __init__(self, endpoint_config: EndpointConfig, domain: Any = None) -> None:
        """Keep the endpoint (URL, token); the session is made on first use."""
        if not endpoint_config.url:
            raise RasaException("the nlg endpoint needs a url")
        self._endpoint = endpoint_config
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _client(self) -> aiohttp.ClientSession:
        """One session (a keep-alive connection pool) for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS),
                headers=self._endpoint.headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            )
            self._loop = loop
        return self._session

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        """The reply the gateway renders for a response name."""
        kwargs.pop("domain_responses", None)
        body = {
            "response": utter_action,
            "id": None,
            "arguments": kwargs,
            "tracker": tracker_summary(tracker),
            "channel": {"name": output_channel},
        }
        params = self._endpoint.combine_parameters()
        try:
            try:
                content = await self._post(body, params)
            except BROKEN as exc:
                logger.info("NLG connection broke (%s); asking again", type(exc).__name__)
                content = await self._post(body, params)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            logger.warning("NLG endpoint unreachable: %s", type(exc).__name__)
            raise RasaException(f"NLG endpoint failed: {type(exc).__name__}") from exc
        if not isinstance(content, dict) or not any(key in content for key in MESSAGE_KEYS):
            raise RasaException("NLG endpoint returned an invalid response")
        return content

    async def _post(self, body: Dict[Text, Any], params: Dict[Text, Any]) -> Any:
        """One POST to the endpoint; its JSON body (RasaException on a non-200 answer)."""
        async with self._client().post(self._endpoint.url, json=body, params=params) as response:
            if response.status != 200:
                raise RasaException(f"NLG endpoint answered HTTP {response.status}")
            return await response.json(content_type=None)
