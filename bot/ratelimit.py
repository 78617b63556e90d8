"""Fixed-window rate limits, shared through Redis across replicas or kept in this process.

A key is `kind:identity` (see `person_key`, `address_key`, `forged_key`); the kind picks
the limit. Identities are never stored raw: each is replaced by an HMAC of the gateway's
SECRET_KEY, so neither Redis nor this process's memory holds a phone number or an address.

With REDIS_URL set, every replica counts in the same Redis keys (`rota:rl:<kind>:<hmac>:
<window>`, INCR and EXPIRE in one MULTI/EXEC), so a limit holds however many replicas run.
Without it, counts live in a dict of this process (at most `max_keys` identities a window;
the oldest is dropped first), which is right for one replica only.

If Redis cannot be reached the check fails OPEN: the request is allowed, the outage is
logged once per kind of error and counted in `rota_ratelimit_unavailable_total`. A safety
chatbot must not go silent because a counter is down. After a failure Redis is not asked
again for `RETRY_REDIS_SECONDS`, so an outage adds no latency to every request.

Fixed windows let a burst of up to twice the limit through across a window boundary; for
flood protection that is enough, and it costs one round trip per check.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.metrics import REGISTRY

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "rota:rl:"
WINDOW_SECONDS = 60.0
MAX_MEMORY_KEYS = 100_000
REDIS_TIMEOUT_SECONDS = 0.5
RETRY_REDIS_SECONDS = 5.0

RATE_LIMITED = Counter(
    "rota_rate_limited_total",
    "Requests refused by a rate limit, by the limit's kind",
    ["kind"],
    registry=REGISTRY,
)
LIMITER_UNAVAILABLE = Counter(
    "rota_ratelimit_unavailable_total",
    "Rate-limit checks allowed unchecked because Redis could not be reached, by error kind",
    ["error"],
    registry=REGISTRY,
)


def wall_clock() -> float:
    """Seconds since the epoch: the same on every replica, so windows line up."""
    return time.time()


def person_key(channel: str, channel_user_id: str) -> str:
    """The key of one person on one channel (erasure forgets it with `forget`)."""
    return f"person:{channel}:{channel_user_id}"


def _network(host: str) -> str:
    """An IPv4 address as is; an IPv6 address as its /64 (one customer's usual allocation)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def address_key(host: str) -> str:
    """The key of a network address for requests to public endpoints."""
    return f"address:{_network(host)}"


def forged_key(host: str) -> str:
    """The key of a network address for webhook calls refused as unsigned or forged."""
    return f"forged:{_network(host)}"


class _MemoryCounts:
    """Counts of the current window in a bounded dict (one process only)."""

    def __init__(self, max_keys: int) -> None:
        self._max_keys = max_keys
        self._window = -1
        self._counts: dict[str, int] = {}

    def _roll(self, window: int) -> None:
        """Forget every count when a new window starts."""
        if window != self._window:
            self._window = window
            self._counts.clear()

    async def incr(self, name: str, window: int, _ttl: int) -> int:
        """Add one to a count in this window; the new count."""
        self._roll(window)
        if name not in self._counts and len(self._counts) >= self._max_keys:
            del self._counts[next(iter(self._counts))]
        self._counts[name] = self._counts.get(name, 0) + 1
        return self._counts[name]

    async def get(self, name: str, window: int) -> int:
        """A count in this window (0 if none)."""
        self._roll(window)
        return self._counts.get(name, 0)

    async def delete(self, name: str, _windows: list[int]) -> None:
        """Drop a count."""
        self._counts.pop(name, None)

    async def close(self) -> None:
        """Nothing to close."""


class _RedisCounts:
    """Counts in Redis, one key per identity and window, shared by every replica."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._client: Redis | None = None

    def _redis(self) -> Redis:
        """The client, made on first use (inside the running event loop)."""
        if self._client is None:
            self._client = Redis.from_url(
                self._url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
        return self._client

    def _key(self, name: str, window: int) -> str:
        """The Redis key of a count."""
        return f"{self._prefix}{name}:{window}"

    async def incr(self, name: str, window: int, ttl: int) -> int:
        """INCR and EXPIRE in one transaction; the new count."""
        key = self._key(name, window)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl)
            results: list[Any] = await pipe.execute()
        return int(results[0])

    async def get(self, name: str, window: int) -> int:
        """A count in this window (0 if none)."""
        value = await self._redis().get(self._key(name, window))
        return int(value or 0)

    async def delete(self, name: str, windows: list[int]) -> None:
        """Delete the keys of the given windows."""
        await self._redis().delete(*(self._key(name, w) for w in windows))

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class RateLimiter:
    """Counts hits per key in fixed windows; `hit` says whether (and how long) to refuse."""

    def __init__(
        self,
        secret: str,
        limits: Mapping[str, int],
        redis_url: str | None = None,
        window_seconds: float = WINDOW_SECONDS,
        prefix: str = KEY_PREFIX,
        max_keys: int = MAX_MEMORY_KEYS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._secret = hmac.new(secret.encode(), b"rota-ratelimit-v1", hashlib.sha256).digest()
        self._limits = dict(limits)
        self._window = window_seconds
        self._clock = clock
        self._counts: _MemoryCounts | _RedisCounts = (
            _RedisCounts(redis_url, prefix) if redis_url else _MemoryCounts(max_keys)
        )
        self._shared = redis_url is not None
        self._paused_until = 0.0
        self._logged: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limits of RATE_LIMIT_PER_PERSON and RATE_LIMIT_PER_ADDRESS, on REDIS_URL if set."""
        return cls(
            settings.secret_key,
            {
                "person": settings.rate_per_person,
                "address": settings.rate_per_address,
                "forged": settings.rate_per_address,
            },
            settings.redis_url,
        )

    @property
    def shared(self) -> bool:
        """Whether counts are shared with other replicas (kept in Redis)."""
        return self._shared

    def limit(self, key: str) -> int:
        """The limit of a key's kind (ValueError for a kind without one)."""
        kind = key.partition(":")[0]
        if kind not in self._limits:
            raise ValueError(f"no rate limit for keys of kind {kind!r}")
        return self._limits[kind]

    def _now(self) -> float:
        """The current time (the injected clock, else the wall clock)."""
        return (self._clock or wall_clock)()

    def _name(self, key: str) -> str:
        """`kind:hmac` of a key: the identity itself is never stored."""
        kind, _, identity = key.partition(":")
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{kind}:{digest}" if identity else kind

    def _wait(self, now: float, window: int) -> float:
        """Seconds from now until the window ends."""
        return max((window + 1) * self._window - now, 0.001)

    def _store_failed(self, exc: BaseException, now: float) -> None:
        """Count an unreachable store; log it once per kind of error."""
        kind = type(exc).__name__
        LIMITER_UNAVAILABLE.labels(kind).inc()
        self._paused_until = now + RETRY_REDIS_SECONDS
        if kind not in self._logged:
            self._logged.add(kind)
            log.error("rate-limit store unreachable (%s); allowing requests unchecked", kind)

    def _store_answered(self) -> None:
        """Note that the store answers again after an outage."""
        if self._logged:
            self._logged.clear()
            log.warning("rate-limit store answers again; limits apply")

    def _unavailable(self, now: float) -> bool:
        """Within the pause after a failure: allow without asking the store."""
        if now < self._paused_until:
            LIMITER_UNAVAILABLE.labels("paused").inc()
            return True
        return False

    async def hit(self, key: str) -> float | None:
        """Count one hit; None if allowed, else the seconds until the key is allowed again."""
        limit = self.limit(key)
        now = self._now()
        if self._unavailable(now):
            return None
        window = int(now // self._window)
        try:
            count = await self._counts.incr(self._name(key), window, math.ceil(self._window) + 1)
        except Exception as exc:  # any store failure fails open
            self._store_failed(exc, now)
            return None
        self._store_answered()
        if count <= limit:
            return None
        RATE_LIMITED.labels(key.partition(":")[0]).inc()
        return self._wait(now, window)

    async def blocked(self, key: str) -> float | None:
        """Like `hit` without counting: None if the key is under its limit, else the wait."""
        limit = self.limit(key)
        now = self._now()
        if self._unavailable(now):
            return None
        window = int(now // self._window)
        try:
            count = await self._counts.get(self._name(key), window)
        except Exception as exc:  # any store failure fails open
            self._store_failed(exc, now)
            return None
        self._store_answered()
        if count < limit:
            return None
        RATE_LIMITED.labels(key.partition(":")[0]).inc()
        return self._wait(now, window)

    async def forget(self, key: str) -> None:
        """Delete every count of a key (a person's erasure calls this)."""
        window = int(self._now() // self._window)
        try:
            await self._counts.delete(self._name(key), [window - 1, window, window + 1])
        except Exception as exc:  # the keys expire within two windows anyway
            self._store_failed(exc, self._now())

    async def close(self) -> None:
        """Close the connection to Redis, if any."""
        try:
            await self._counts.close()
        except Exception as exc:  # closing a dead connection must not fail shutdown
            log.warning("closing the rate-limit store failed (%s)", type(exc).__name__)
