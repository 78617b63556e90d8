"""How to start the Rasa engine and the gateway as processes (shared by make run and tests)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.parse import unquote, urlsplit
from urllib.request import urlopen

import psycopg
from cryptography.fernet import Fernet

from tools.model import RASA_BIN, RASA_DIR, ROOT

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"  # this machine's, trust auth


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on this machine (name starting with `prefix`), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ENV_FILE = ROOT / ".env"
GENERATED_SECRETS = ("SECRET_KEY", "RASA_TOKEN", "DATA_KEYS")
DEV_ENDPOINTS = "endpoints.yml"  # NLG only: in-memory tracker and lock store
PRODUCTION_ENDPOINTS = "endpoints.production.yml"  # + PostgreSQL tracker, Redis lock store


def _new_secret(name: str) -> str:
    """A random value for a generated secret (DATA_KEYS must be a Fernet key)."""
    if name == "DATA_KEYS":
        return Fernet.generate_key().decode()
    return secrets.token_urlsafe(32)


def ensure_local_secrets(env_file: Path = ENV_FILE) -> None:
    """Write random SECRET_KEY, RASA_TOKEN and DATA_KEYS into .env where missing (local runs)."""
    existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    keys = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    missing = [name for name in GENERATED_SECRETS if name not in keys and name not in os.environ]
    if not missing:
        return
    lines = [f"{name}={_new_secret(name)}" for name in missing]
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    header = "" if existing else "# Local secrets written by `make run`; never commit this file.\n"
    env_file.write_text(existing + prefix + header + "\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    print(f"wrote {', '.join(missing)} to {env_file.name}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_store_env(tracker_db: str, redis_url: str) -> dict[str, str]:
    """Rasa's TRACKER_DB_* and LOCK_STORE_* settings (endpoints.production.yml) from two URLs.

    `tracker_db` is postgresql://user[:password]@host[:port]/database and `redis_url` is
    redis://host[:port][/db]; Rasa's lock store takes them as separate values.
    """
    db = urlsplit(tracker_db)
    if db.scheme not in ("postgresql", "postgres") or not db.hostname or len(db.path) < 2:
        raise ValueError("tracker_db must be postgresql://user@host[:port]/database")
    redis = urlsplit(redis_url)
    if redis.scheme != "redis" or not redis.hostname:
        raise ValueError("redis_url must be redis://host[:port][/db]")
    return {
        "TRACKER_DB_HOST": db.hostname,
        "TRACKER_DB_PORT": str(db.port or 5432),
        "TRACKER_DB_NAME": unquote(db.path[1:]),
        "TRACKER_DB_USER": unquote(db.username or "postgres"),
        "TRACKER_DB_PASSWORD": unquote(db.password or ""),
        "LOCK_STORE_HOST": redis.hostname,
        "LOCK_STORE_PORT": str(redis.port or 6379),
        "LOCK_STORE_DB": redis.path.strip("/") or "0",
    }


def start_rasa(
    model: Path,
    port: int,
    token: str,
    nlg_url: str,
    log_file: Path,
    *,
    endpoints: str = DEV_ENDPOINTS,
    extra_env: dict[str, str] | None = None,
    credentials: str = "credentials.yml",
) -> subprocess.Popen[bytes]:
    """Start the Rasa server on 127.0.0.1 behind the token, rendering through our NLG.

    `endpoints` names a file in rasa_project/ (PRODUCTION_ENDPOINTS for the PostgreSQL
    tracker and Redis lock store, whose settings then come in `extra_env`). `endpoints`
    and `credentials` may also be absolute paths (the benchmark's plain-Rasa baseline).
    """
    for kind, name in (("endpoints", endpoints), ("credentials", credentials)):
        if not (RASA_DIR / name).is_file():
            raise FileNotFoundError(f"no {kind} file {name} in {RASA_DIR}")
    env = {
        **os.environ,
        "RASA_TOKEN": token,
        "ROTA_NLG_URL": nlg_url,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
        **(extra_env or {}),
    }
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [
                str(RASA_BIN),
                "run",
                "--enable-api",
                # One argument with "=": a token may start with "-" (token_urlsafe), which
                # argparse would read as the next option and refuse to start.
                f"--auth-token={token}",
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
                "--model",
                str(model),
                "--credentials",
                credentials,
                "--endpoints",
                endpoints,
            ],
            cwd=RASA_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_gateway(
    port: int, env: dict[str, str], log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start the gateway (python -m bot serve) with the given environment."""
    out = log_file.open("ab") if log_file else None
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )


def wait_for(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll a URL until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
