"""The processes the benchmark runs: plain Rasa (the baseline), the floor, a lone gateway.

The baseline is a second Rasa server on the same model file with Rasa's own `rest:`
channel and an endpoints file without `nlg:`: the domain's responses are
`custom: {topic: ...}` payloads, so Rasa answers by itself, as it would without us.
The architecture floor is a third one, `rest:` channel too, but with the app's `nlg:`
endpoint pointed at a minimal NLG server (bench/floor.py) instead of the gateway.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
import yaml
from cryptography.fernet import Fernet

from tools.model import RASA_DIR, ROOT
from tools.processes import (
    DEV_ENDPOINTS,
    POSTGRES_ADMIN,
    PRODUCTION_ENDPOINTS,
    free_port,
    production_store_env,
    start_gateway,
    start_rasa,
)
from tools.stack import RASA_LOAD_SECONDS, stop

APP_REDIS_URL = "redis://127.0.0.1:6379/9"  # the gateway's (and its Rasa's lock store) db
BASELINE_REDIS_URL = "redis://127.0.0.1:6379/10"  # plain Rasa's lock store (production stores)
FLOOR_REDIS_URL = "redis://127.0.0.1:6379/11"  # the floor's Rasa's lock store (production stores)


@contextlib.contextmanager
def flushed_redis(url: str) -> Iterator[str]:
    """A Redis db of the benchmark's own, emptied before and after."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        yield url
    finally:
        client.flushdb()
        client.close()


def postgres_version() -> str:
    """The server version of the local PostgreSQL, e.g. '15.20'."""
    with psycopg.connect(POSTGRES_ADMIN) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def child_pid(port: int, *words: str) -> int:
    """The pid of this process's child listening on `port` (its argv has --port PORT + words)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")), "")
        if parent != me or "--port" not in argv:
            continue
        at = argv.index("--port")
        if at + 1 < len(argv) and argv[at + 1] == str(port) and all(w in argv for w in words):
            return int(entry.name)
    raise LookupError(f"no child process listens on port {port}")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for pid {pid}")


def wait_ok(url: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll a URL every 50 ms until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


def wait_engine(url: str, token: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll Rasa's /status until a model is loaded; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Rasa exited with {process.returncode}; see its log")
        try:
            response = httpx.get(f"{url}/status", params={"token": token}, timeout=2)
            if response.status_code == 200 and response.json().get("model_id"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"Rasa at {url} loaded no model within {timeout:.0f} s")


@dataclass(frozen=True)
class EngineStores:
    """Production tracker and lock stores for Rasa (endpoints.production.yml's settings)."""

    tracker_db: str
    redis_url: str


@dataclass(frozen=True)
class Baseline:
    """A running plain Rasa server."""

    url: str
    pid: int
    ready_s: float


@dataclass(frozen=True)
class Floor:
    """A running architecture floor: plain Rasa and its minimal NLG server."""

    url: str
    pid: int
    nlg_pid: int
    ready_s: float


def rest_credentials(work_dir: Path) -> Path:
    """A credentials file with Rasa's own `rest:` channel only."""
    work_dir.mkdir(parents=True, exist_ok=True)
    credentials = work_dir / "credentials.yml"
    credentials.write_text("rest:\n", encoding="utf-8")
    return credentials


def endpoints_source(stores: EngineStores | None) -> str:
    """The app's endpoints file in rasa_project/ for these stores."""
    return PRODUCTION_ENDPOINTS if stores is not None else DEV_ENDPOINTS


def baseline_files(work_dir: Path, stores: EngineStores | None) -> tuple[Path, Path]:
    """Credentials with Rasa's own `rest:` channel, and our endpoints file minus `nlg:`."""
    credentials = rest_credentials(work_dir)
    source = endpoints_source(stores)
    endpoints_data = yaml.safe_load((RASA_DIR / source).read_text(encoding="utf-8")) or {}
    endpoints_data.pop("nlg", None)
    endpoints = work_dir / "endpoints.yml"
    endpoints.write_text(
        "# The benchmark's plain Rasa: no NLG endpoint, Rasa answers from its domain.\n"
        + (yaml.safe_dump(endpoints_data, sort_keys=False) if endpoints_data else "{}\n"),
        encoding="utf-8",
    )
    return credentials, endpoints


@contextlib.contextmanager
def plain_rasa(
    model: Path,
    work_dir: Path,
    stores: EngineStores | None,
    files: tuple[Path, Path],
    nlg_url: str,
    log_name: str,
) -> Iterator[tuple[str, int, float]]:
    """Rasa's REST channel on `model` with these credentials and endpoints until the block ends.

    Yields its URL, pid and seconds to ready; logs in work_dir/log_name.
    """
    credentials, endpoints = files
    token = secrets.token_urlsafe(24)
    port = free_port()
    extra = production_store_env(stores.tracker_db, stores.redis_url) if stores else {}
    began = time.perf_counter()
    process = start_rasa(
        model,
        port,
        token,
        nlg_url,
        work_dir / log_name,
        endpoints=str(endpoints),
        credentials=str(credentials),
        extra_env=extra,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_engine(url, token, RASA_LOAD_SECONDS, process)
        yield url, process.pid, time.perf_counter() - began
    finally:
        stop(process)


@contextlib.contextmanager
def baseline_rasa(model: Path, work_dir: Path, stores: EngineStores | None) -> Iterator[Baseline]:
    """Plain Rasa on the given model until the block ends; logs in work_dir/rasa-baseline.log."""
    files = baseline_files(work_dir, stores)
    unused = "http://127.0.0.1:9/unused"
    with plain_rasa(model, work_dir, stores, files, unused, "rasa-baseline.log") as running:
        url, pid, ready_s = running
        yield Baseline(url=url, pid=pid, ready_s=ready_s)


def floor_files(work_dir: Path, stores: EngineStores | None) -> tuple[Path, Path]:
    """Credentials with Rasa's own `rest:` channel, and our endpoints file as it is (`nlg:` kept).

    The `nlg:` entry is the app's own client (nlg/gateway.py: kept-alive connections, the
    tracker cut down); its URL comes from ROTA_NLG_URL, here the minimal NLG server's.
    """
    credentials = rest_credentials(work_dir)
    endpoints = work_dir / "endpoints.yml"
    shutil.copyfile(RASA_DIR / endpoints_source(stores), endpoints)
    return credentials, endpoints


def start_floor_nlg(port: int, log_file: Path) -> subprocess.Popen[bytes]:
    """Start the minimal NLG server (python -m bench.floor) on 127.0.0.1:port."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def floor_rasa(model: Path, work_dir: Path, stores: EngineStores | None) -> Iterator[Floor]:
    """Plain Rasa whose `nlg:` is the minimal NLG server, until the block ends; logs in work_dir."""
    files = floor_files(work_dir, stores)
    nlg_port = free_port()
    nlg = start_floor_nlg(nlg_port, work_dir / "floor-nlg.log")
    try:
        nlg_url = f"http://127.0.0.1:{nlg_port}"
        wait_ok(nlg_url, 30, nlg)
        with plain_rasa(model, work_dir, stores, files, f"{nlg_url}/nlg", "rasa-floor.log") as (
            url,
            pid,
            ready_s,
        ):
            yield Floor(url, pid, nlg.pid, ready_s)
    finally:
        stop(nlg)


def gateway_start_seconds(database_url: str, content_dir: Path, log_file: Path) -> float:
    """Start a lone gateway (no engine behind it) and time it to /readyz 200; then stop it."""
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "RASA_TOKEN": secrets.token_urlsafe(24),
        "DATA_KEYS": Fernet.generate_key().decode(),
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "DATABASE_URL": database_url,
        "CONTENT_DIR": str(content_dir),
    }
    began = time.perf_counter()
    process = start_gateway(port, env, log_file)
    try:
        wait_ok(f"http://127.0.0.1:{port}/readyz", 120, process)
        return time.perf_counter() - began
    finally:
        stop(process)
