"""Run an ASGI app under uvicorn in a background thread on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


class ServerThread:
    """A uvicorn server for `app` on 127.0.0.1 and a free port, served from a daemon thread.

    The listening socket is bound when the object is made, so `url` is known (and
    the port reserved) before `start()`.
    """

    def __init__(self, app: ASGIApp, *, name: str = "fake-server") -> None:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets
        # whose proto says TCP, and without it every response waits ~40 ms (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,  # open event streams must not hold a test up
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{self._thread.name} exited before it started serving")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._thread.name} did not start within {timeout}s")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serving(app: ASGIApp, *, name: str = "fake-server") -> Iterator[ServerThread]:
    """Serve `app` for the duration of the `with` block."""
    server = ServerThread(app, name=name)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RecordingServer:
    """Base of the fakes: serves `self.app` in a thread while started (or in a `with`)."""

    app: ASGIApp
    server_name = "fake-server"

    def __init__(self) -> None:
        self._server: ServerThread | None = None

    @property
    def url(self) -> str:
        """The base URL it serves on, e.g. "http://127.0.0.1:43121"."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.url

    def start(self) -> Self:
        """Serve on 127.0.0.1 and a free port; returns self."""
        if self._server is None:
            self._server = ServerThread(self.app, name=self.server_name)
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
