"""Where and on what a quality run happened: machine, date, model and pipeline."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
from pathlib import Path

from tools.model import RASA_DIR


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's name elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo, or None where there is none."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return None


def rasa_version() -> str:
    """The pinned Rasa version of the engine's environment."""
    for line in (RASA_DIR / "requirements.lock").read_text().splitlines():
        if line.startswith("rasa=="):
            return line.removeprefix("rasa==").strip()
    return "unknown"


def config_hash(config: Path = RASA_DIR / "config.yml") -> str:
    """A short hash of a pipeline configuration file."""
    return hashlib.sha256(config.read_bytes()).hexdigest()[:12]


def describe() -> dict[str, object]:
    """Date, machine and software of this run (JSON-ready)."""
    memory = memory_gib()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": (
            f"{cpu_name()}, {os.cpu_count()} cores"
            + (f", {memory} GiB RAM" if memory is not None else "")
            + f", {platform.system()} {platform.release()}"
        ),
        "rasa": rasa_version(),
        "python": platform.python_version(),
        "config": config_hash(),
    }
