"""Pieces of the fault tests: a gateway process to kill, a provider that retries, a cut cable.

The gateway runs as a real `python -m bot serve` process on PostgreSQL, talking to the
session's real Rasa engine; Telegram is the recording fake (tests/fakes). Faults are
made the way they happen: SIGKILL to the process, PostgreSQL restarted, the engine's
address refusing connections.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet

from bot.core import pseudonymous_id
from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN, telegram_update
from tools.model import model_path
from tools.processes import (
    PRODUCTION_ENDPOINTS,
    free_port,
    production_store_env,
    start_gateway,
    start_rasa,
    wait_for,
)
from tools.stack import Stack, stop

SOAK = os.environ.get("SOAK") == "1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Everyday questions (no danger words: each must reach Rasa, so Rasa's calls can be counted).
QUESTIONS = (
    "Olá, recebi uma oferta de emprego em Joanesburgo. É seguro?",
    "que documentos preciso para trabalhar na África do Sul",
    "como saber se a agência de emprego é legal",
    "quanto custa o visto de trabalho",
    "hola, me ofrecieron trabajo en Monterrey, es confiable?",
    "qué papeles necesito para trabajar en Estados Unidos",
    "how do I check if a recruiter is real",
    "what documents do I need to work abroad",
)


@dataclass
class Gateway:
    """One gateway process (a replica) that a test may kill and start again."""

    work: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it and wait until it serves; the seconds that took."""
        began = time.monotonic()
        self.starts += 1
        self.process = start_gateway(self.port, self.env, self.work / f"gateway-{self.port}.log")
        wait_for(f"{self.url}/readyz", 60, self.process)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing in memory survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """A normal stop (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is not None:
            stop(self.process)


def gateway_env(
    stack: Stack, database_url: str, telegram_url: str, rasa_url: str | None = None
) -> dict[str, str]:
    """Settings of a fault-test gateway: its own database, the session's Rasa, fake Telegram."""
    return {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "RASA_TOKEN": stack.rasa_token,
        "DATA_KEYS": Fernet.generate_key().decode(),
        "RASA_URL": rasa_url or stack.rasa_url,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": PUBLIC_URL,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": telegram_url,
        "RATE_LIMIT_PER_ADDRESS": "1000000",
        "RATE_LIMIT_PER_PERSON": "1000000",
        "LOG_FORMAT": "json",
    }


def update_for(number: int, chat: int, text: str) -> dict[str, Any]:
    """A Telegram text update with its own update id, chat and words."""
    update = telegram_update("text", update_id=700_000_000 + number)
    update["message"]["message_id"] = 1 + number
    update["message"]["chat"]["id"] = chat
    update["message"]["from"]["id"] = chat
    update["message"]["text"] = text
    return update


@dataclass
class Delivery:
    """What the provider saw of one webhook delivery: acknowledged or not, and when."""

    update_id: int
    acknowledged_at: float | None = None
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)


class Telegram:
    """Delivers updates the way Telegram does: again and again until a 2xx."""

    def __init__(self, url: str, retry_pause: float = 0.1) -> None:
        self._url = url
        self._pause = retry_pause
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        """One HTTP client per sending thread."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=15)
            self._local.client = client
        return client

    def deliver(self, update: dict[str, Any], give_up_after: float = 180.0) -> Delivery:
        """POST until acknowledged (any 2xx); every other answer or a dropped line is retried."""
        record = Delivery(int(update["update_id"]))
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            record.attempts += 1
            try:
                response = self._client().post(
                    f"{self._url}/webhooks/telegram", json=update, headers={HEADER: TELEGRAM_SECRET}
                )
            except httpx.HTTPError:
                record.statuses.append(0)
            else:
                record.statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    record.acknowledged_at = time.monotonic()
                    return record
            time.sleep(self._pause)
        return record

    def deliver_all(self, updates: Sequence[dict[str, Any]], in_flight: int) -> list[Delivery]:
        """Deliver many updates with `in_flight` of them at once; the records, in order."""
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            return list(pool.map(self.deliver, updates))


@dataclass(frozen=True)
class Tally:
    """What the database says happened, per person."""

    inbound: int
    inbound_unhandled: int
    awaiting_engine: int
    outbox: int
    outbound_by_person: dict[str, int]


def tally(database_url: str) -> Tally:
    """Count stored messages (in and out, per person), unanswered ones and the outbox."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        inbound = conn.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()
        unhandled = conn.execute(
            "SELECT count(*) FROM messages WHERE direction = 'in' AND handled_at IS NULL"
        ).fetchone()
        waiting = conn.execute("SELECT count(*) FROM messages WHERE awaiting_engine").fetchone()
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()
        per_person = conn.execute(
            "SELECT c.person_id, count(m.id) FROM conversations c "
            "JOIN messages m ON m.conversation_id = c.id AND m.direction = 'out' "
            "GROUP BY c.person_id"
        ).fetchall()
    return Tally(
        inbound=int(inbound[0]) if inbound else 0,
        inbound_unhandled=int(unhandled[0]) if unhandled else 0,
        awaiting_engine=int(waiting[0]) if waiting else 0,
        outbox=int(outbox[0]) if outbox else 0,
        outbound_by_person={str(person): int(n) for person, n in per_person},
    )


def conversation_ids(database_url: str) -> list[str]:
    """Every conversation id in a gateway's database (Rasa's sender ids)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [str(row[0]) for row in conn.execute("SELECT id FROM conversations").fetchall()]


def rasa_user_turns(tracker_url: str, senders: Sequence[str]) -> dict[str, int]:
    """How many messages Rasa was asked to understand, per conversation (its tracker store)."""
    with psycopg.connect(tracker_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT sender_id, count(*) FROM events WHERE type_name = 'user' "
            "AND sender_id = ANY(%s) GROUP BY sender_id",
            (list(senders),),
        ).fetchall()
    return {str(sender): int(n) for sender, n in rows}


def sends_by_person(calls: Sequence[Any], secret_key: str) -> dict[str, int]:
    """Messages the Bot API accepted, per person (pseudonymous id of the chat)."""
    counts: dict[str, int] = {}
    for call in calls:
        if call.method.lower() != "sendmessage" or call.failed:
            continue
        person = pseudonymous_id(secret_key, "telegram", str(call.params["chat_id"]))
        counts[person] = counts.get(person, 0) + 1
    return counts


def wait_until(condition: Any, timeout: float, pause: float = 0.25) -> float:
    """Poll until `condition()` is true; the seconds it took (raises on timeout)."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"not reached within {timeout:.0f} s")
        time.sleep(pause)
    return time.monotonic() - began


class CutCable:
    """A TCP relay in front of a server; `cut()` makes its address refuse connections.

    From the gateway's side this is exactly a stopped Rasa: the port answers nothing
    but "connection refused", and comes back when `restore()` is called.
    """

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The relay's address."""
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        """Listen again and relay to the target."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Stop listening and drop every relayed connection (refused from now on)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        """Relay each accepted connection until the listener closes."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.extend([client, upstream])
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def shuffled(items: Sequence[Any], seed: int) -> list[Any]:
    """A reproducible shuffle."""
    result = list(items)
    random.Random(seed).shuffle(result)
    return result


AS_POSTGRES = ("runuser", "-u", "postgres", "--")
INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL server of the test's own (initdb in a temporary directory) to restart."""

    data: Path
    port: int
    bindir: Path

    @property
    def url(self) -> str:
        """The URL of its `rota` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/rota"

    def _pg_ctl(self, *args: str) -> None:
        """Run pg_ctl as the postgres user (PostgreSQL refuses to run as root)."""
        subprocess.run(
            [*AS_POSTGRES, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.data} -c fsync=off"
        )
        self._pg_ctl("-l", str(self.data / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop it at once (fast shutdown: open connections are cut)."""
        self._pg_ctl("-m", "fast", "-w", "stop")


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A fresh PostgreSQL cluster with a `rota` database, removed afterwards."""
    bindir = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    data = Path(tempfile.mkdtemp(prefix="rota-pg-"))
    shutil.chown(data, "postgres")
    subprocess.run(
        [*AS_POSTGRES, str(bindir / "initdb"), "-D", str(data), *INITDB_OPTIONS],
        check=True,
        capture_output=True,
    )
    server = ThrowawayPostgres(data, free_port(), bindir)
    server.start()
    try:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{server.port}/postgres", autocommit=True
        ) as admin:
            admin.execute("CREATE DATABASE rota")
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Engine:
    """A Rasa engine process of the test's own (same tracker store and locks as the stack)."""

    stack: Stack
    tracker_db: str
    redis_url: str
    work: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it and wait until its model is loaded; the seconds that took."""
        began = time.monotonic()
        self.process = start_rasa(
            model_path(),
            self.port,
            self.stack.rasa_token,
            f"{self.stack.base_url}/nlg",
            self.work / f"rasa-{self.port}.log",
            endpoints=PRODUCTION_ENDPOINTS,
            extra_env=production_store_env(self.tracker_db, self.redis_url),
        )
        wait_for(f"{self.url}/status?token={self.stack.rasa_token}", 300, self.process)
        return time.monotonic() - began

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is not None:
            stop(self.process)
