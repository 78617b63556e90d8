"""docs/benchmarks.md from recorded numbers: the app/Rasa table, the floor, the other rows."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import SHARES, Summary, median_summary, ratio
from tools.model import RASA_BIN

# The targets for the app/Rasa ratios (at most) and the throughput ratio (at least).
RATIO_TARGETS = {0.50: 1.10, 0.99: 1.25}
THROUGHPUT_TARGET = 0.90
PASS, FAIL = "✓", "✗"
SIDES = ("app", "rasa", "engine", "floor")  # what a Comparison holds summaries of


def ms(value: float) -> str:
    """Milliseconds as a reader wants them: one decimal below 10, whole above."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def verdict(met: bool) -> str:
    """The mark next to a figure with a target."""
    return PASS if met else FAIL


def ratios_of(top: list[Summary], bottom: list[Summary]) -> dict[float, float]:
    """top / bottom at p50, p95 and p99, from the medians over repetitions."""
    over, under = median_summary(top), median_summary(bottom)
    return {share: ratio(over.at(share), under.at(share)) for share in SHARES}


@dataclass
class Comparison:
    """One load level, measured on the app and on Rasa alone, once per repetition."""

    label: str
    app: list[Summary] = field(default_factory=list)
    rasa: list[Summary] = field(default_factory=list)
    engine: list[Summary] = field(default_factory=list)  # the app's Rasa, called directly
    floor: list[Summary] = field(default_factory=list)  # Rasa alone + a minimal NLG server

    def ratios(self) -> dict[float, float]:
        """app / Rasa at p50, p95 and p99, from the medians over repetitions."""
        return ratios_of(self.app, self.rasa)


def triple(summary: Summary) -> str:
    """p50 / p95 / p99 in ms."""
    return " / ".join(ms(summary.at(share)) for share in SHARES)


def ratio_cell(share: float, value: float) -> str:
    """A ratio, with its target's mark when the issue sets one."""
    target = RATIO_TARGETS.get(share)
    text = f"{value:.2f}"
    return f"{text} {verdict(value <= target)}" if target is not None else text


def latency_table(comparisons: list[Comparison], app_name: str = "app") -> str:
    """The headline table: medians of p50/p95/p99 over the repetitions, and app/Rasa ratios."""
    lines = [
        f"| load | messages per run | {app_name} p50 / p95 / p99 ms "
        "| Rasa alone p50 / p95 / p99 ms | ratio p50 (≤ 1.10) | ratio p95 | ratio p99 (≤ 1.25) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in comparisons:
        app, rasa = median_summary(c.app), median_summary(c.rasa)
        ratios = c.ratios()
        cells = " | ".join(ratio_cell(share, ratios[share]) for share in SHARES)
        lines.append(f"| {c.label} | {app.n} | {triple(app)} | {triple(rasa)} | {cells} |")
    return "\n".join(lines)


def breakdown_table(comparisons: list[Comparison]) -> str:
    """Where the app's time goes: the gateway's part and its engine's part (with NLG) at p50."""
    lines = [
        "| load | app p50 / p95 / p99 ms | the app's Rasa, called directly, p50 / p95 / p99 ms "
        "| Rasa alone p50 / p95 / p99 ms | gateway's part at p50 (app − its Rasa) "
        "| token channel + NLG callbacks at p50 (its Rasa − Rasa alone) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in comparisons:
        if not c.engine:
            continue
        app, engine, rasa = (median_summary(x) for x in (c.app, c.engine, c.rasa))
        lines.append(
            f"| {c.label} | {triple(app)} | {triple(engine)} | {triple(rasa)} "
            f"| {ms(app.p50 - engine.p50)} ms | {ms(engine.p50 - rasa.p50)} ms |"
        )
    return "\n".join(lines)


def ratio_triple(ratios: dict[float, float]) -> str:
    """Ratios at p50 / p95 / p99, no marks."""
    return " / ".join(f"{ratios[share]:.2f}" for share in SHARES)


def floor_table(comparisons: list[Comparison]) -> str:
    """The app, the architecture floor and Rasa alone, with the three ratios between them."""
    lines = [
        "| load | app p50 / p95 / p99 ms | floor p50 / p95 / p99 ms "
        "| Rasa alone p50 / p95 / p99 ms | app / Rasa p50 / p95 / p99 "
        "| floor / Rasa p50 / p95 / p99 | app / floor p50 / p95 / p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in comparisons:
        if not c.floor:
            continue
        app, floor, rasa = (median_summary(x) for x in (c.app, c.floor, c.rasa))
        lines.append(
            f"| {c.label} | {triple(app)} | {triple(floor)} | {triple(rasa)} "
            f"| {ratio_triple(c.ratios())} | {ratio_triple(ratios_of(c.floor, c.rasa))} "
            f"| {ratio_triple(ratios_of(c.app, c.floor))} |"
        )
    return "\n".join(lines)


def floor_throughput_table(
    app: list[float], floor: list[float], rasa: list[float], label: str
) -> str:
    """Messages per second at saturation for all three (medians), and the ratios between them."""
    a, f, r = (statistics.median(x) for x in (app, floor, rasa))
    return "\n".join(
        [
            "| load | app messages/s | floor messages/s | Rasa alone messages/s | app / Rasa "
            "| floor / Rasa | app / floor |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {label} | {a:.1f} | {f:.1f} | {r:.1f} | {ratio(a, r):.2f} | {ratio(f, r):.2f} "
            f"| {ratio(a, f):.2f} |",
        ]
    )


def throughput_table(app: list[float], rasa: list[float], label: str) -> str:
    """Messages per second at saturation: medians over repetitions, and app / Rasa."""
    a, r = statistics.median(app), statistics.median(rasa)
    share = ratio(a, r)
    return "\n".join(
        [
            "| load | app messages/s | Rasa alone messages/s | app / Rasa (≥ 0.90) |",
            "| --- | ---: | ---: | ---: |",
            f"| {label} | {a:.1f} | {r:.1f} | {share:.2f} {verdict(share >= THROUGHPUT_TARGET)} |",
        ]
    )


@dataclass(frozen=True)
class Row:
    """One measured figure, with the issue's target and whether it is met, if it has one."""

    what: str
    measured: str
    target: str = ""
    met: bool | None = None


def rows_table(rows: list[Row]) -> str:
    """A what / measured / target table."""
    lines = ["| what | measured | target |", "| --- | ---: | --- |"]
    for row in rows:
        mark = "" if row.met is None else f" {verdict(row.met)}"
        lines.append(f"| {row.what} | {row.measured} | {row.target}{mark} |")
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gb() -> float:
    """Total memory in GB from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def rasa_versions() -> tuple[str, str]:
    """(Rasa version, the engine's Python version), asked of the engine's venv."""
    python = RASA_BIN.parent / "python"
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, platform; "
            "print(m.version('rasa'), platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1]


def machine(postgres: str) -> list[str]:
    """The machine description lines."""
    rasa, rasa_python = rasa_versions()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"{os.cpu_count()} cores, {cpu_model()}, {ram_gb():.1f} GB RAM, "
        f"{platform.system()} {platform.release()}",
        f"gateway: Python {platform.python_version()}; engine: Rasa {rasa} on Python "
        f"{rasa_python}; PostgreSQL {postgres}",
        f"load average at the start (1 / 5 / 15 min): {load}",
    ]


@dataclass
class Results:
    """Everything one `make bench` run measured, ready to render."""

    started: dt.datetime
    mode: str
    repeats: int
    machine: list[str]
    setup: list[str]
    latency: list[Comparison]
    throughput_app: list[float]
    throughput_rasa: list[float]
    throughput_label: str
    sections: dict[str, list[Row]]
    sqlite_latency: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    load_after: str = ""
    sqlite_repeats: int = 1
    note: str = ""  # said under the title, e.g. that the machine was busy
    throughput_floor: list[float] = field(default_factory=list)  # empty: no floor measured


def results_from_dict(data: dict[str, Any]) -> Results:
    """A Results back from its JSON form (dataclasses.asdict, dates as text)."""

    def comparisons(items: list[dict[str, Any]]) -> list[Comparison]:
        """Comparisons with their summaries rebuilt."""
        return [
            Comparison(
                c["label"],
                **{side: [Summary(**s) for s in c.get(side, [])] for side in SIDES},
            )
            for c in items
        ]

    return Results(
        **{
            **data,
            "started": dt.datetime.fromisoformat(str(data["started"])),
            "latency": comparisons(data["latency"]),
            "sqlite_latency": comparisons(data.get("sqlite_latency") or []),
            "sections": {k: [Row(**r) for r in v] for k, v in data["sections"].items()},
        }
    )


def target_rows(results: Results) -> list[Row]:
    """Every figure the issue sets a target for, worst load level first for the ratios."""
    rows: list[Row] = []
    for share, limit in RATIO_TARGETS.items():
        worst = max(results.latency, key=lambda c: c.ratios()[share])
        value = worst.ratios()[share]
        rows.append(
            Row(
                f"app / Rasa latency at p{round(share * 100)}, worst load level: {worst.label}",
                f"{value:.2f}",
                f"≤ {limit:.2f}",
                value <= limit,
            )
        )
    app = statistics.median(results.throughput_app)
    share = ratio(app, statistics.median(results.throughput_rasa))
    rows.append(
        Row(
            "app / Rasa throughput at saturation",
            f"{share:.2f}",
            f"≥ {THROUGHPUT_TARGET:.2f}",
            share >= THROUGHPUT_TARGET,
        )
    )
    for section in results.sections.values():
        rows += [row for row in section if row.met is not None]
    return rows


def floor_section(results: Results) -> list[str]:
    """The architecture floor's section: its latency and throughput next to the other two."""
    parts = [
        "## The architecture floor: Rasa alone with a minimal NLG endpoint",
        "",
        "A third `rasa run` on the same model, Rasa's own `rest:` channel as for Rasa alone, "
        "but with the app's `nlg:` endpoint (rasa_project/endpoints.yml: nlg/gateway.py's "
        "client, kept-alive connections, the tracker cut down) pointed at a minimal NLG "
        "server (bench/floor.py: bare ASGI on uvicorn, keep-alive on, answers each request "
        'with `{"text": <response name>}` and does nothing else). It is the best any gateway '
        "that keeps the answers outside the model could do: floor / Rasa is what fetching "
        "each answer over HTTP costs by itself, app / floor what the gateway adds on top. "
        "Measured in the same repetitions as the tables above, between the app and Rasa "
        "alone; medians over the repetitions, ratios of those medians, no targets marked.",
        "",
        floor_table(results.latency),
        "",
    ]
    if results.throughput_floor:
        parts += [
            floor_throughput_table(
                results.throughput_app,
                results.throughput_floor,
                results.throughput_rasa,
                results.throughput_label,
            ),
            "",
        ]
    return parts


def document(results: Results) -> str:
    """The whole docs/benchmarks.md."""
    when = results.started.strftime("%Y-%m-%d %H:%M")
    times = "one repetition" if results.repeats == 1 else f"{results.repeats} repetitions"
    kind = (
        f"the quick form (`--quick`: small samples, {times}; a check that the harness works, "
        "not figures to quote)"
        if results.mode == "quick"
        else f"the full form ({times}, medians over them)"
    )
    parts = [
        "# Benchmarks",
        "",
        f"Measured {when} by `make bench` (`python -m bench.run`), {kind}; the run took "
        f"{results.duration_s / 60:.1f} min. Regenerate with `make bench`; "
        "`.venv/bin/python -m bench.run --quick` checks the harness in a few minutes "
        '(through make: `BENCH_ARGS="--quick" make bench`).',
        "",
        *([f"**{results.note}**", ""] if results.note else []),
        "## Targets (issue 8)",
        "",
        rows_table(target_rows(results)),
        "",
        "## Machine",
        "",
        *(f"- {line}" for line in results.machine),
        *([f"- load average at the end: {results.load_after}"] if results.load_after else []),
        "",
        "## Set-up",
        "",
        *(f"- {line}" for line in results.setup),
        "",
        "## Reply latency: the app vs Rasa alone",
        "",
        "Each figure is the median over the repetitions of that run's percentile (nearest "
        "rank); ratios are app / Rasa of those medians. App and Rasa alternate within each "
        "repetition so that drift on the machine hits both.",
        "",
        latency_table(results.latency),
        "",
        "## Throughput at saturation",
        "",
        throughput_table(results.throughput_app, results.throughput_rasa, results.throughput_label),
        "",
    ]
    if any(c.floor for c in results.latency):
        parts += floor_section(results)
    if any(c.engine for c in results.latency):
        parts += [
            "## Where the app's time goes (diagnostic)",
            "",
            "The app's own Rasa called directly on its token channel, as the gateway calls "
            "it, in the same repetitions. Its replies still come from the gateway's NLG "
            "endpoint (rasa_project/endpoints.yml `nlg:`), which Rasa alone never calls: the "
            "last column is that round trip plus the token check; the one before it is the "
            "gateway's own work around the engine call.",
            "",
            breakdown_table(results.latency),
            "",
        ]
    if results.sqlite_latency:
        times = (
            "one repetition"
            if results.sqlite_repeats == 1
            else f"medians of {results.sqlite_repeats} repetitions"
        )
        parts += [
            "## The app on SQLite (the `make run` default), for comparison",
            "",
            f"The same load against the gateway on SQLite without Redis ({times}, alternating "
            "with Rasa alone, which kept running).",
            "",
            latency_table(results.sqlite_latency, app_name="app on SQLite"),
            "",
        ]
    for title, rows in results.sections.items():
        parts += [f"## {title}", "", rows_table(rows), ""]
    if results.notes:
        parts += ["## Notes", "", *(f"- {note}" for note in results.notes), ""]
    return "\n".join(parts)
