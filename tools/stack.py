"""Start the real Rasa engine and gateway on free ports (for tests, eval and benchmarks)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from tools.model import model_path
from tools.processes import (
    DEV_ENDPOINTS,
    PRODUCTION_ENDPOINTS,
    free_port,
    production_store_env,
    start_gateway,
    start_rasa,
    wait_for,
)

RASA_LOAD_SECONDS = 180


@dataclass(frozen=True)
class Stack:
    """A running engine + gateway pair."""

    base_url: str
    rasa_url: str
    rasa_token: str
    secret_key: str
    database_url: str
    log_dir: Path
    tracker_db: str | None = None
    redis_url: str | None = None


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process, killing it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_stack(
    work_dir: Path,
    database_url: str | None = None,
    content_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    model: Path | None = None,
    tracker_db: str | None = None,
    redis_url: str | None = None,
) -> Iterator[Stack]:
    """Run Rasa and the gateway until the block ends; logs go to work_dir.

    `extra_env` adds gateway settings (e.g. channels pointed at recording servers);
    `model` runs another trained model than the one for rasa_project/ and content/.
    `tracker_db` (a PostgreSQL URL) and `redis_url` together run Rasa as in production
    (endpoints.production.yml: tracker in that database, lock store in that Redis db)
    and give the gateway REDIS_URL; without them Rasa keeps both in memory.
    """
    if (tracker_db is None) != (redis_url is None):
        raise ValueError("tracker_db and redis_url go together (endpoints.production.yml)")
    model = model or model_path()
    if not model.exists():
        raise RuntimeError(f"no model at {model}; run `make train`")
    work_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    secret_key = secrets.token_urlsafe(32)
    gateway_port, rasa_port = free_port(), free_port()
    db_url = database_url or f"sqlite:///{work_dir / 'rota.db'}"
    env = {
        **os.environ,
        "SECRET_KEY": secret_key,
        "RASA_TOKEN": token,
        "DATA_KEYS": Fernet.generate_key().decode(),
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "DATABASE_URL": db_url,
    }
    if content_dir is not None:
        env["CONTENT_DIR"] = str(content_dir)
    rasa_env: dict[str, str] = {}
    endpoints = DEV_ENDPOINTS
    if tracker_db is not None and redis_url is not None:
        rasa_env = production_store_env(tracker_db, redis_url)
        endpoints = PRODUCTION_ENDPOINTS
        env["REDIS_URL"] = redis_url
    env.update(extra_env or {})
    rasa = start_rasa(
        model,
        rasa_port,
        token,
        f"http://127.0.0.1:{gateway_port}/nlg",
        work_dir / "rasa.log",
        endpoints=endpoints,
        extra_env=rasa_env,
    )
    gateway = start_gateway(gateway_port, env, work_dir / "gateway.log")
    try:
        wait_for(f"http://127.0.0.1:{gateway_port}/healthz", 60, gateway)
        wait_for(f"http://127.0.0.1:{gateway_port}/readyz?engine=required", RASA_LOAD_SECONDS, rasa)
        yield Stack(
            base_url=f"http://127.0.0.1:{gateway_port}",
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            rasa_token=token,
            secret_key=secret_key,
            database_url=db_url,
            log_dir=work_dir,
            tracker_db=tracker_db,
            redis_url=redis_url,
        )
    finally:
        stop(gateway)
        stop(rasa)
