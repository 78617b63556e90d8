"""The gateway's outer guard: body size, per-address rate limits, console security headers.

A pure ASGI middleware (not BaseHTTPMiddleware), so the console's server-sent events
stream through untouched. For every HTTP request it:

1. Refuses a body over 1 MiB with 413 before any handler reads a byte of it: by
   Content-Length up front; a body without one (chunked) is read here, counted and
   refused as soon as it passes the limit, else handed on whole.
2. Rate-limits public endpoints per network address (RATE_LIMIT_PER_ADDRESS a minute):
   `/api/web/...` and `/console/login`; 429 with Retry-After and a JSON error.
   `/nlg` (Rasa, one address), `/healthz`, `/readyz`, `/metrics`, `/static`, the demo
   page and the signed-in console are not limited here.
3. Webhooks (`/webhooks/...`) are different: Telegram and Twilio deliver every person's
   messages from a handful of addresses, so a per-address limit on all calls would
   throttle legitimate traffic exactly when many people write. Only *refused* calls
   count: each 403 (missing or wrong secret or signature) counts against the caller's
   address, and an address with RATE_LIMIT_PER_ADDRESS refusals in a window gets 429 on
   every webhook call until the window ends. A real provider is never refused, so it is
   never throttled; a forger gets a bounded number of guesses.
4. Adds security headers to everything under /console. The console's handlers already
   set Cache-Control no-store, X-Frame-Options, X-Content-Type-Options, Referrer-Policy
   and a Content-Security-Policy without 'unsafe-inline' (the templates have no inline
   script or style); this adds those only where a response lacks them (e.g. Starlette's
   own 404 or 405), plus Permissions-Policy, and Strict-Transport-Security when the
   request came over https or PUBLIC_URL is https.

The address is the socket peer. X-Forwarded-For is not honoured (a client can write it).
Behind a reverse proxy every request has the proxy's address, so there the proxy must
rate-limit per client (e.g. nginx `limit_req` keyed on `$binary_remote_addr`) and the
limit here acts as a ceiling for the whole proxy; set RATE_LIMIT_PER_ADDRESS to match.
"""

from __future__ import annotations

import json
import math

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.ratelimit import RateLimiter, address_key, forged_key
from bot.settings import Settings
from handlers.console import SECURITY_HEADERS, is_https

MAX_BODY_BYTES = 1_048_576
SCOPE_LIMITER = "rota.limiter"
CONSOLE_EXTRA_HEADERS = {
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
}
HSTS = "max-age=31536000; includeSubDomains"
LIMITED_PREFIXES = ("/api/web/",)
LIMITED_PATHS = frozenset({"/api/web", "/console/login"})
WEBHOOK_PREFIX = "/webhooks/"


def limiter_of(request: Request) -> RateLimiter | None:
    """The gateway's rate limiter, for handlers behind the middleware (None without it)."""
    limiter = request.scope.get(SCOPE_LIMITER)
    return limiter if isinstance(limiter, RateLimiter) else None


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def peer(scope: Scope) -> str:
    """The socket peer's address (never a header a client can write)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def is_console(path: str) -> bool:
    """Whether a path is one of the console's."""
    return path == "/console" or path.startswith("/console/")


async def answer(
    send: Send, status: int, error: str, headers: dict[str, str] | None = None
) -> None:
    """Send a small JSON error response."""
    body = json.dumps({"error": error}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def too_large(send: Send) -> None:
    """The 413 for a body over the limit."""
    await answer(send, 413, f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)")


class SecurityMiddleware:
    """Body limit, rate limits and console headers around the gateway (see the module)."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self.public_https = (settings.public_url or "").startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard one HTTP request; close the limiter when the app shuts down."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SCOPE_LIMITER] = self.limiter
        path: str = scope["path"]
        address = peer(scope)
        if path in LIMITED_PATHS or path.startswith(LIMITED_PREFIXES):
            wait = await self.limiter.hit(address_key(address))
            if wait is not None:
                await self._throttled(send, wait, "too many requests from this address")
                return
        webhook = path.startswith(WEBHOOK_PREFIX)
        if webhook:
            wait = await self.limiter.blocked(forged_key(address))
            if wait is not None:
                await self._throttled(send, wait, "too many refused webhook calls")
                return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
                if declared.isdigit():
                    await too_large(send)
                else:
                    await answer(send, 400, "Content-Length is not a number")
                return
        elif scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            buffered = await self._read_whole(receive)
            if buffered is None:
                await too_large(send)
                return
            receive = self._replay(buffered, receive)
        overflow = _Overflow(receive)
        outgoing = self._console_headers(scope, send) if is_console(path) else send
        status: list[int] = []
        try:
            await self.app(scope, overflow.receive, overflow.guard(outgoing, status))
        except Exception:
            if overflow.exceeded and not status:
                await too_large(send)
                return
            raise
        if overflow.exceeded and not status:
            await too_large(send)
        if webhook and status and status[0] == 403:
            await self.limiter.hit(forged_key(address))

    @staticmethod
    async def _throttled(send: Send, wait: float, what: str) -> None:
        """The 429 with Retry-After."""
        seconds = retry_after(wait)
        await answer(send, 429, f"{what}; try again in {seconds} seconds", {"Retry-After": seconds})

    @staticmethod
    async def _read_whole(receive: Receive) -> list[Message] | None:
        """Every body message of a request without Content-Length; None past the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                return None
            if not message.get("more_body", False):
                return messages

    @staticmethod
    def _replay(messages: list[Message], receive: Receive) -> Receive:
        """A receive that hands on the read messages, then the real ones."""
        pending = list(messages)

        async def replayed() -> Message:
            """The next buffered message, then the connection's."""
            if pending:
                return pending.pop(0)
            return await receive()

        return replayed

    def _console_headers(self, scope: Scope, send: Send) -> Send:
        """A send that adds the security headers a console response lacks."""
        https = self.public_https or is_https(Request(scope))

        async def with_headers(message: Message) -> None:
            """Add missing headers to the response start."""
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                wanted = {**SECURITY_HEADERS, **CONSOLE_EXTRA_HEADERS}
                if https:
                    wanted["Strict-Transport-Security"] = HSTS
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        return with_headers

    def _closing(self, send: Send) -> Send:
        """A lifespan send that closes the limiter's connections before shutdown completes."""

        async def closing(message: Message) -> None:
            """Close the limiter, then report shutdown."""
            if message["type"] == "lifespan.shutdown.complete":
                await self.limiter.close()
            await send(message)

        return closing


class _Overflow:
    """Counts body bytes a handler receives; past the limit the handler gets a disconnect."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._size = 0
        self.exceeded = False

    async def receive(self) -> Message:
        """The next message; a disconnect once the body passes the limit."""
        if self.exceeded:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self._size += len(message.get("body", b""))
            if self._size > MAX_BODY_BYTES:
                self.exceeded = True
                return {"type": "http.disconnect"}
        return message

    def guard(self, send: Send, status: list[int]) -> Send:
        """A send that records the status and drops the app's response after an overflow."""

        async def guarded(message: Message) -> None:
            """Pass the message on unless the body overflowed before the response began."""
            if message["type"] == "http.response.start":
                if self.exceeded:
                    return
                status.append(int(message["status"]))
            elif message["type"] == "http.response.body" and not status:
                return
            await send(message)

        return guarded


def secure(app: ASGIApp, settings: Settings, limiter: RateLimiter | None = None) -> ASGIApp:
    """Wrap an ASGI app in the security middleware (the limiter from settings by default)."""
    return SecurityMiddleware(app, settings, limiter or RateLimiter.from_settings(settings))
