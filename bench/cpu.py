"""CPU time per answered message, per process, read from /proc (utime + stime)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.load import Target, drive

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def idle_share(pids: Mapping[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU use while nothing is sent, as a share of one core."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


def per_message_ms(
    target: Target, texts: Sequence[str], pids: Mapping[str, int], people: int, per_person: int
) -> dict[str, float]:
    """CPU milliseconds each process spends per answered message, one person at a time."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = asyncio.run(drive(target, texts, concurrency=1, per_person=per_person, people=people))
    done = max(1, result.completed)
    return {name: (cpu_seconds(pid) - before[name]) * 1e3 / done for name, pid in pids.items()}
