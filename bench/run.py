"""`make bench`: measured speed and memory of the gateway and the engine; writes docs/benchmarks.md.

Numbers are measured, never asserted: the test suite has no timed tests.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

from bench.channels import summary, telegram_latencies, whatsapp_latencies
from bot.content.loader import load_content
from bot.language import detector_for
from bot.safety import check_message
from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, FakeTwilio
from tools.model import ROOT
from tools.stack import running_stack

SAMPLES = 300


CHANNEL_SAMPLES = 150


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def texts() -> list[str]:
    out: list[str] = []
    for language in ("en", "pt", "es"):
        data = yaml.safe_load((ROOT / "tests/data/eval" / f"{language}.yml").read_text())
        out += [str(e["text"]) for e in data["examples"]]
    return out


def main() -> int:
    corpus = texts()
    rows: list[tuple[str, str]] = []

    snapshot, _ = load_content(ROOT / "content")
    assert snapshot is not None
    started = time.perf_counter()
    for text in corpus:
        check_message(text, snapshot.distress, snapshot.request_human)
    per = (time.perf_counter() - started) / len(corpus) * 1e6
    rows.append(("safety phrase check, per message", f"{per:.0f} µs"))

    detector = detector_for(ROOT / "rasa_project/data/nlu")
    started = time.perf_counter()
    for text in corpus:
        detector.guess(text)
    per = (time.perf_counter() - started) / len(corpus) * 1e3
    rows.append(("language detection, per message", f"{per:.2f} ms"))

    started = time.perf_counter()
    load_content(ROOT / "content")
    rows.append(
        ("content load + check (whole tree)", f"{(time.perf_counter() - started) * 1e3:.0f} ms")
    )

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeTelegram() as telegram,
        FakeTwilio() as twilio,
    ):
        began = time.perf_counter()
        channels = {
            "PUBLIC_URL": PUBLIC_URL,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": telegram.base_url,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_URL": twilio.url,
        }
        with (
            running_stack(Path(tmp), extra_env=channels) as stack,
            httpx.Client(base_url=stack.base_url, timeout=30) as client,
        ):
            rows.append(
                ("engine + gateway start to /readyz 200", f"{time.perf_counter() - began:.1f} s")
            )
            latencies: list[float] = []
            for text in corpus[:SAMPLES]:
                t0 = time.perf_counter()
                response = client.post(
                    "/api/web/messages", json={"user_id": f"bench-{uuid.uuid4()}", "text": text}
                )
                latencies.append((time.perf_counter() - t0) * 1e3)
                response.raise_for_status()
            rows.append(
                (
                    f"POST /api/web/messages, first message, p50 (n={SAMPLES})",
                    f"{statistics.median(latencies):.0f} ms",
                )
            )
            rows.append(("… p95", f"{percentile(latencies, 0.95):.0f} ms"))
            rows.append(("… max", f"{max(latencies):.0f} ms"))
            telegram.wait_for("setWebhook", timeout=30)
            rows += summary(
                "Telegram", *telegram_latencies(client, telegram, corpus[:CHANNEL_SAMPLES])
            )
            rows += summary(
                "WhatsApp", *whatsapp_latencies(client, twilio, corpus[:CHANNEL_SAMPLES])
            )
            pids = {p.name: p for p in Path("/proc").iterdir() if p.name.isdigit()}
            gateway_rss = rasa_rss = float("nan")
            for pid in pids:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if "rasa run" in cmd and stack.rasa_url.rsplit(":", 1)[1] in cmd:
                    rasa_rss = rss_mb(int(pid))
                elif "-m bot serve" in cmd and stack.base_url.rsplit(":", 1)[1] in cmd:
                    gateway_rss = rss_mb(int(pid))
            rows.append(("gateway resident memory after the run", f"{gateway_rss:.0f} MB"))
            rows.append(("Rasa engine resident memory after the run", f"{rasa_rss:.0f} MB"))

    table = "\n".join(
        ["| what | measured |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    )
    header = (
        f"# Benchmarks\n\nMeasured {dt.date.today().isoformat()} by `make bench` on "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite, one process each. "
        "Telegram and WhatsApp are on, their APIs replaced by local recording servers "
        "(bench/channels.py), so channel figures are our processing plus loopback HTTP.\n\n"
    )
    (ROOT / "docs" / "benchmarks.md").write_text(header + table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
