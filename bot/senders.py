"""What a channel's sender promises: send one reply part by part and say what became of each."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from bot.messages import Reply

OUTSIDE_WINDOW = "outside_24h_window"
# The reason kept on a part that was the approved template sent to reopen the window.
TEMPLATE_SENT = "template"


@dataclass(frozen=True)
class SentPart:
    """What a channel did with one part of a reply.

    Status "retry" means nothing was sent and it may work later (rate limit, outage):
    after `retry_after` seconds when the provider said so. It is never recorded.
    """

    status: str
    provider_message_id: str | None = None
    error_code: str | None = None
    reason: str | None = None
    retry_after: float | None = None


class ChannelSender(Protocol):
    """How one channel sends a reply; adapters implement it."""

    channel: str
    # How long after the person's last message free-form replies are allowed (None: always).
    reply_window: dt.timedelta | None

    def send(
        self, address: str, reply: Reply, outside_window: bool, skip: int = 0
    ) -> AsyncIterator[SentPart]:
        """Send one reply from part `skip` on, yielding each part; never raise for a refusal."""
        ...
