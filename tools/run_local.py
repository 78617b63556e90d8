"""`make run`: the Rasa engine and the gateway together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

from bot.settings import load_settings
from tools.model import ROOT, model_path
from tools.processes import ensure_local_secrets, start_gateway, start_rasa, wait_for


def main() -> int:
    """Start both processes, wait until ready, then until one stops or Ctrl-C."""
    ensure_local_secrets()
    settings = load_settings()
    port = int(os.environ.get("PORT", "8000"))
    rasa_port = urlparse(settings.rasa_url).port or 5005
    model = model_path()
    if not model.exists():
        print("no trained model for the current data; run `make train`", file=sys.stderr)
        return 1
    logs = ROOT / "var" / "log"
    rasa = start_rasa(
        model, rasa_port, settings.rasa_token, f"http://127.0.0.1:{port}/nlg", logs / "rasa.log"
    )
    gateway = start_gateway(port, dict(os.environ))
    processes: list[subprocess.Popen[bytes]] = [rasa, gateway]

    def stop(*_args: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a shell may start us with SIGINT ignored (background jobs).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    print(
        f"Rota Segura: chat on http://127.0.0.1:{port}  (Rasa engine loading, ~45 s; "
        f"http://127.0.0.1:{port}/readyz says when ready; Rasa log in var/log/rasa.log)"
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz?engine=required", timeout=240, process=rasa)
        print(f"ready: open http://127.0.0.1:{port} — Ctrl-C stops everything")
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("a process stopped; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"not ready: {exc}; see var/log/rasa.log", file=sys.stderr)
        return 1
    finally:
        stop()


if __name__ == "__main__":
    raise SystemExit(main())
