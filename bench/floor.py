"""The architecture floor's NLG server: answers Rasa's NLG request with the response's name.

python -m bench.floor --port 8123

A bare ASGI app on uvicorn (the gateway's event loop and HTTP parser, keep-alive on, no
access log) that reads the request body, takes `response` and answers
`{"text": "<response>"}`: no content, no tracker, no database, no check. Rasa on the
same model with this behind its `nlg:` endpoint is the best any gateway that keeps the
answers outside the model could do. Any GET answers 200 (the readiness probe).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

KEEP_ALIVE_SECONDS = 60  # longer than the pauses between load runs: no reconnect race


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many chunks it came in."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    return b"".join(chunks)


def reply_for(body: bytes) -> dict[str, Any]:
    """`{"text": <the response name>}` for one NLG request body."""
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        data = {}
    name = data.get("response") if isinstance(data, dict) else None
    return {"text": name if isinstance(name, str) and name else "?"}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The whole server: POST renders the response name, anything else answers 200."""
    if scope["type"] != "http":
        return
    reply = reply_for(await read_body(receive)) if scope["method"] == "POST" else {"ok": True}
    payload = json.dumps(reply).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main(argv: Sequence[str] | None = None) -> int:
    """Serve on 127.0.0.1 until stopped."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
