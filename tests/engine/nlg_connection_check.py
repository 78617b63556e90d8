"""Run with the Rasa venv's Python (tests/test_rasa_project.py does): Rasa's NLG generator
(rasa_project/nlg/gateway.py) against a local HTTP server that behaves like the gateway
closing kept-alive connections, and prints JSON facts the test asserts on.

The server runs on its own thread and event loop, as the gateway runs in its own
process: it can close a connection while Rasa's loop is busy and cannot notice.
"""

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "rasa_project"))
from nlg.gateway import TIMEOUT_SECONDS, GatewayNLG

ANSWER = json.dumps({"custom": {"topic": "job_offer_check", "text": "..."}}).encode()


class Gateway:
    """A keep-alive HTTP server: answers, drops, or stalls requests; counts what it saw."""

    def __init__(self, keep_alive: float, behaviour: str = "answer") -> None:
        """`behaviour`: answer, drop (close unanswered) or stall (answer after the timeout)."""
        self.keep_alive = keep_alive
        self.behaviour = behaviour
        self.connections = 0
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        """Serve on this thread's own loop until the loop is stopped."""
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection; close it after `keep_alive` seconds idle."""
        self.connections += 1
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.keep_alive)
                except (asyncio.TimeoutError, asyncio.IncompleteReadError):
                    return
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                await reader.readexactly(length)
                self.requests += 1
                if self.behaviour == "drop":
                    return
                if self.behaviour == "stall":
                    await asyncio.sleep(TIMEOUT_SECONDS + 1)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: keep-alive\r\n"
                    + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
                    + ANSWER
                )
                await writer.drain()
        finally:
            writer.close()

    def stop(self) -> None:
        """Stop the server's loop."""
        self.loop.call_soon_threadsafe(self.loop.stop)


def busy(seconds: float) -> None:
    """Keep this thread's loop from running, as NLU and the policies do."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def render(nlg: GatewayNLG) -> dict[str, Any] | None:
    """One reply, as Rasa's processor asks for it; None if the generator raised."""
    tracker = DialogueStateTracker.from_events("someone", [])
    try:
        return await nlg.generate("utter_job_offer_check", tracker, "rota")
    except RasaException:
        return None


async def idle_then_busy(gateway: Gateway) -> dict[str, Any]:
    """Reply, stay idle until just before the server's keep-alive ends, then be busy past it."""
    nlg = GatewayNLG(EndpointConfig(url=f"http://127.0.0.1:{gateway.port}/nlg"))
    answered: list[bool] = []
    for _ in range(3):
        answered.append(await render(nlg) is not None)
        await asyncio.sleep(gateway.keep_alive * 0.8)
        busy(gateway.keep_alive * 0.6)
    answered.append(await render(nlg) is not None)
    return {"answered": answered, "connections": gateway.connections}


async def refused(behaviour: str) -> dict[str, Any]:
    """What the generator does when every request is dropped or stalls."""
    gateway = Gateway(keep_alive=5.0, behaviour=behaviour)
    try:
        nlg = GatewayNLG(EndpointConfig(url=f"http://127.0.0.1:{gateway.port}/nlg"))
        started = time.monotonic()
        answer = await render(nlg)
        return {
            "answered": answer is not None,
            "requests": gateway.requests,
            "seconds": round(time.monotonic() - started, 2),
        }
    finally:
        gateway.stop()


def main() -> None:
    """Print the facts of three servers: closing idle connections, dropping, stalling."""
    closing = Gateway(keep_alive=0.5)
    try:
        race = asyncio.run(idle_then_busy(closing))
    finally:
        closing.stop()
    facts = {
        "idle_close": race,
        "dropped": asyncio.run(refused("drop")),
        "stalled": asyncio.run(refused("stall")),
        "timeout_seconds": TIMEOUT_SECONDS,
    }
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
