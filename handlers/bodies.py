"""Reading request bodies with a size cap, before anything is parsed or stored."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request


class BodyTooLarge(ValueError):
    """The body is over the limit; nothing of it was kept."""


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, or BodyTooLarge as soon as it (or its declared length) exceeds `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(body: bytes) -> ImmutableMultiDict[str, str] | None:
    """A urlencoded body as a multi-dict (repeated keys kept), or None if it is not one."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        return None
    return ImmutableMultiDict(pairs)
