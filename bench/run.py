"""`make bench`: the app against Rasa alone, side by side on one model; writes docs/benchmarks.md.

A third target, the architecture floor (Rasa alone with a minimal NLG endpoint,
bench/floor.py), is measured in the same repetitions: the best a gateway that keeps the
answers outside the model could do.

python -m bench.run             # the full run (about 10 minutes on 2 cores)
python -m bench.run --quick     # small samples: proves the harness works end to end
BENCH_ARGS="--quick --no-train" make bench   # options through make

Numbers are measured, never asserted: the test suite has no timed tests. Progress goes
to stderr as step names only (no message text, no ids).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import channels, cpu, micro
from bench.corpus import distress_candidates, ordinary_texts
from bench.edits import edit_visible_seconds
from bench.load import RunResult, Target, drive, first_replies
from bench.report import (
    Comparison,
    Results,
    Row,
    document,
    machine,
    ms,
    results_from_dict,
)
from bench.safety_path import SafetyRun, distress_texts, safety_path
from bench.servers import (
    APP_REDIS_URL,
    BASELINE_REDIS_URL,
    FLOOR_REDIS_URL,
    Baseline,
    EngineStores,
    Floor,
    baseline_rasa,
    child_pid,
    floor_rasa,
    flushed_redis,
    gateway_start_seconds,
    peak_rss_mb,
    postgres_version,
)
from bench.stats import summarize
from bench.training import answer_edit_retrain, copy_project, train_from_scratch
from bot.content.loader import load_content
from tests.channel_kit import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, FakeTwilio
from tools.model import ROOT, model_path
from tools.processes import fresh_database
from tools.stack import Stack, running_stack

OUTPUT = ROOT / "docs" / "benchmarks.md"
# Every simulated person writes from 127.0.0.1: the per-address and per-person limits
# would turn the load into 429s, which is the limiter working, not a cost to measure.
IDLE_SECONDS = 5.0
SQLITE_REPEATS = 1  # a side table: one repetition keeps the run under 10 minutes
SAFETY = "Safety path: a distress message to status `queued` + the `emergency` reply"
MEMORY = "Memory"
CPU = "CPU"
CHANNELS = "Channels (Telegram and WhatsApp APIs replaced by local recording servers)"
NO_RATE_LIMITS = {"RATE_LIMIT_PER_PERSON": "1000000", "RATE_LIMIT_PER_ADDRESS": "10000000"}


@dataclass(frozen=True)
class Sizes:
    """How much to send: the full run's sizes, or the quick run's."""

    repeats: int
    per_person: int
    people: tuple[int, int, int]  # conversations at 1, 8 and 32 people at once
    throughput_seconds: float
    safety_messages: int
    edits: int
    channel_messages: int
    screen: int | None  # how many candidate texts to screen (None: all)


FULL = Sizes(3, 5, (40, 64, 96), 20.0, 200, 5, 150, None)
QUICK = Sizes(1, 5, (8, 16, 32), 5.0, 30, 2, 20, 150)
LEVELS = (
    (1, "1 person at a time (sequential)"),
    (8, "8 people at once"),
    (32, "32 people at once"),
)


def step(name: str) -> None:
    """Progress on stderr: the step's name only."""
    print(f"bench {time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small samples, one repetition")
    parser.add_argument("--repeats", type=int, help="repetitions of each latency/throughput run")
    parser.add_argument("--seconds", type=float, help="length of each throughput run")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the markdown to write")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument(
        "--engine-stores",
        choices=("memory", "production"),
        default="memory",
        help="both Rasa servers' tracker/lock stores: in memory (default), or PostgreSQL "
        "tracker + Redis lock store (endpoints.production.yml)",
    )
    parser.add_argument("--no-train", action="store_true", help="skip training from scratch")
    parser.add_argument("--note", default="", help="a line to print under the title")
    parser.add_argument(
        "--render-json",
        type=Path,
        metavar="RAW",
        help="measure nothing: rewrite the markdown from the raw numbers of an earlier --json",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the app-on-SQLite table")
    parser.add_argument("--no-channels", action="store_true", help="skip Telegram/WhatsApp rows")
    if argv is None:  # `BENCH_ARGS=--quick make bench`: options through make
        argv = [*sys.argv[1:], *shlex.split(os.environ.get("BENCH_ARGS", ""))]
    return parser.parse_args(argv)


def sizes_for(args: argparse.Namespace) -> Sizes:
    """The sizes the options ask for."""
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = dataclasses.replace(sizes, repeats=max(1, args.repeats))
    if args.seconds is not None:
        sizes = dataclasses.replace(sizes, throughput_seconds=max(1.0, args.seconds))
    return sizes


@dataclass
class Tally:
    """Failures over every load run of one target (they would bias the comparison)."""

    errors: int = 0
    empty: int = 0
    escalated: int = 0

    def add(self, result: RunResult) -> None:
        """Count one run's failures."""
        self.errors += result.errors
        self.empty += result.empty
        self.escalated += result.escalated


def screen(app: Target, others: Sequence[Target], candidates: Sequence[str]) -> list[str]:
    """The ordinary texts the app answers as a bot (no escalation); all targets warm up on them."""
    answers = asyncio.run(first_replies(app, candidates))
    kept = [
        text
        for text, data in zip(candidates, answers, strict=True)
        if isinstance(data, dict)
        and data.get("status") == "bot"
        and data.get("escalation") is None
        and data.get("replies")
    ]
    for other in others:
        asyncio.run(first_replies(other, kept))
    for target in (app, *others):
        asyncio.run(drive(target, kept, concurrency=8, per_person=5, people=16))
    return kept


def run_order(
    rep: int, app: Target, rasa: Target, middle: Sequence[Target | None]
) -> tuple[Target, ...]:
    """One repetition's order: app and Rasa at the ends, alternating; the rest between them.

    The middle ones (the app's Rasa, the floor) are reversed with the ends, so that over
    two repetitions each target sits once on either side of the others.
    """
    inner = [target for target in middle if target is not None]
    if rep % 2 == 0:
        return (app, *inner, rasa)
    return (rasa, *reversed(inner), app)


def compare(
    app: Target,
    rasa: Target,
    texts: Sequence[str],
    sizes: Sizes,
    repeats: int,
    tallies: dict[str, Tally],
    throughput: dict[str, list[float]] | None,
    label: str = "app",
    engine: Target | None = None,
    floor: Target | None = None,
) -> list[Comparison]:
    """Latency at each load level (and throughput), app and Rasa alternating, `repeats` times.

    With `engine` (the app's own Rasa, called directly), its latency is measured too,
    between the two, for the breakdown table. With `floor` (Rasa alone with a minimal NLG
    endpoint), its latency and throughput are measured too, between the two.
    """
    comparisons = [Comparison(text) for _, text in LEVELS]
    for rep in range(repeats):
        for (concurrency, text), people, comparison in zip(
            LEVELS, sizes.people, comparisons, strict=True
        ):
            for target in run_order(rep, app, rasa, (engine, floor)):
                step(f"{label}: {text}, {target.kind}, repetition {rep + 1}/{repeats}")
                result = asyncio.run(
                    drive(
                        target,
                        texts,
                        concurrency=concurrency,
                        per_person=sizes.per_person,
                        people=people,
                    )
                )
                tallies[target.kind].add(result)
                getattr(comparison, target.kind).append(summarize(result.latencies_ms))
        if throughput is None:
            continue
        for target in run_order(rep, app, rasa, (floor,)):
            step(f"{label}: throughput, {target.kind}, repetition {rep + 1}/{repeats}")
            result = asyncio.run(
                drive(
                    target,
                    texts,
                    concurrency=32,
                    per_person=sizes.per_person,
                    seconds=sizes.throughput_seconds,
                )
            )
            tallies[target.kind].add(result)
            throughput[target.kind].append(result.per_second)
    return comparisons


def safety_row(what: str, run: SafetyRun) -> Row:
    """One safety-path row: p50/p95/p99, with the p99 target."""
    if not run.latencies_ms:
        return Row(what, f"no escalation in {run.missed} messages", "p99 ≤ 100 ms", False)
    s = summarize(run.latencies_ms)
    missed = f"; {run.missed} not escalated" if run.missed else ""
    return Row(
        f"{what} (n={s.n}{missed})",
        f"{ms(s.p50)} / {ms(s.p95)} / {ms(s.p99)} ms",
        "p99 ≤ 100 ms",
        s.p99 <= 100 and run.missed == 0,
    )


def engine_down(base_url: str, timeout: float = 30.0) -> None:
    """Wait until the gateway itself reports the engine unreachable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{base_url}/readyz", timeout=5).json().get("engine") != "ok":
            return
        time.sleep(0.1)
    raise TimeoutError("the gateway still reports the engine up")


def channel_env(telegram: FakeTelegram, twilio: FakeTwilio) -> dict[str, str]:
    """Telegram and WhatsApp on, their APIs the tests' recording servers on loopback."""
    return {
        "PUBLIC_URL": PUBLIC_URL,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": telegram.base_url,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_URL": twilio.url,
    }


def channel_rows(
    stack: Stack, telegram: FakeTelegram, twilio: FakeTwilio, texts: Sequence[str], n: int
) -> list[Row]:
    """Telegram and WhatsApp webhook and first-reply latencies (bench/channels.py)."""
    sample = list(texts[:n])
    rows: list[tuple[str, str]] = []
    telegram.wait_for("setWebhook", timeout=30)
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        step("channels: Telegram")
        rows += channels.summary("Telegram", *channels.telegram_latencies(client, telegram, sample))
        step("channels: WhatsApp")
        rows += channels.summary("WhatsApp", *channels.whatsapp_latencies(client, twilio, sample))
    return [Row(what, measured) for what, measured in rows]


def training_rows(model: Path, work_dir: Path, train: bool) -> list[Row]:
    """Training from scratch on a copy of the data; the retrain decision after an answer edit."""
    step("copying rasa_project/ and content/")
    rasa_copy, content_copy = copy_project(work_dir)
    rows: list[Row] = []
    models = work_dir / "models"
    if train:
        step("training from scratch (rasa train --force)")
        seconds, name = train_from_scratch(rasa_copy, models, work_dir / "train.log")
        same = f"{name}.tar.gz" == model.name
        rows.append(
            Row(
                "training from scratch: `rasa train --force`, empty cache, same data"
                + ("" if same else " (NOT the benchmarked model's data)"),
                f"{seconds:.0f} s",
            )
        )
    edit = answer_edit_retrain(rasa_copy, content_copy, models)
    before, after = (name.removesuffix(".tar.gz") for name in (edit.before, edit.after))
    measured = (
        f"a new model was needed ({before} → {after})"
        if edit.retrained
        else f"0 s: model hash unchanged ({before} = {after}); "
        f"`make train` decided in {edit.seconds * 1e3:.0f} ms"
    )
    rows.append(
        Row(
            "retraining after an answer's text changed (in a copy of content/)",
            measured,
            "no retrain",
            not edit.retrained,
        )
    )
    return rows


@dataclass
class AppFigures:
    """What the production-configured app stack measured."""

    texts: list[str]
    latency: list[Comparison]
    throughput: dict[str, list[float]]
    tallies: dict[str, Tally]
    sections: dict[str, list[Row]]
    edit_row: Row


def measure_app(
    stack: Stack,
    baseline: Baseline,
    floor: Floor,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    texts: Sequence[str],
    distress: Sequence[str],
    sizes: Sizes,
    content_dir: Path,
    with_channels: bool,
) -> AppFigures:
    """Latency, throughput, channels, edits, the safety path (engine up, then killed), memory."""
    gateway_pid = child_pid(port_of(stack.base_url), "serve")
    engine_pid = child_pid(port_of(stack.rasa_url), "run")
    app, rasa = Target("app", stack.base_url), Target("rasa", baseline.url)
    engine = Target("engine", stack.rasa_url, stack.rasa_token)
    lowest = Target("floor", floor.url)
    tallies = {"app": Tally(), "rasa": Tally(), "engine": Tally(), "floor": Tally()}
    throughput: dict[str, list[float]] = {"app": [], "rasa": [], "floor": []}
    latency = compare(
        app, rasa, texts, sizes, sizes.repeats, tallies, throughput, engine=engine, floor=lowest
    )
    pids = {
        "gateway": gateway_pid,
        "engine": engine_pid,
        "rasa": baseline.pid,
        "floor": floor.pid,
        "nlg": floor.nlg_pid,
    }
    sections = {CPU: cpu_rows(app, rasa, lowest, texts, sizes, pids)}
    if with_channels:
        sections[CHANNELS] = channel_rows(stack, telegram, twilio, texts, sizes.channel_messages)

    step("answer edit to reply")
    edits = [edit_visible_seconds(stack.base_url, content_dir) for _ in range(sizes.edits)]
    edit_row = Row(
        f"an answer-file edit visible in the web API's replies, median / max (n={len(edits)})",
        f"{statistics.median(edits):.2f} / {max(edits):.2f} s",
        "≤ 2 s",
        max(edits) <= 2.0,
    )

    step("safety path, engine up")
    up = safety_path(stack.base_url, distress, sizes.safety_messages)
    engine_peak, baseline_peak = peak_rss_mb(engine_pid), peak_rss_mb(baseline.pid)
    floor_peak = peak_rss_mb(floor.pid)
    step("safety path, engine killed")
    os.kill(engine_pid, signal.SIGKILL)  # our own child: the app's engine, by its pid
    engine_down(stack.base_url)
    down = safety_path(stack.base_url, distress, sizes.safety_messages)
    gateway_peak = peak_rss_mb(gateway_pid)
    sections[SAFETY] = [
        safety_row("safety path, engine running: p50 / p95 / p99", up),
        safety_row("safety path, engine killed (SIGKILL): p50 / p95 / p99", down),
    ]
    sections[MEMORY] = [
        Row(
            "gateway peak RSS (VmHWM), whole run",
            f"{gateway_peak:.0f} MB",
            "≤ 200 MB",
            gateway_peak <= 200,
        ),
        Row("the app's Rasa engine peak RSS (VmHWM)", f"{engine_peak:.0f} MB"),
        Row("Rasa alone peak RSS (VmHWM)", f"{baseline_peak:.0f} MB"),
        Row("the architecture floor's Rasa peak RSS (VmHWM)", f"{floor_peak:.0f} MB"),
    ]
    return AppFigures(list(texts), latency, throughput, tallies, sections, edit_row)


def cpu_rows(
    app: Target,
    rasa: Target,
    floor: Target,
    texts: Sequence[str],
    sizes: Sizes,
    pids: Mapping[str, int],
) -> list[Row]:
    """CPU per answered message (one person at a time) and while idle, per process.

    `pids`: gateway, engine (the app's Rasa), rasa (Rasa alone), floor (the floor's Rasa)
    and nlg (the floor's NLG server).
    """
    step("CPU per message, app")
    people = sizes.people[0]
    used = cpu.per_message_ms(
        app, texts, {k: pids[k] for k in ("gateway", "engine")}, people, sizes.per_person
    )
    step("CPU per message, Rasa alone")
    alone = cpu.per_message_ms(rasa, texts, {"rasa": pids["rasa"]}, people, sizes.per_person)
    step("CPU per message, the floor")
    lowest = cpu.per_message_ms(
        floor, texts, {k: pids[k] for k in ("floor", "nlg")}, people, sizes.per_person
    )
    total = used["gateway"] + used["engine"]
    floor_total = lowest["floor"] + lowest["nlg"]
    step("CPU while idle")
    time.sleep(1)
    idle = cpu.idle_share(pids, IDLE_SECONDS)
    return [
        Row(
            f"app: CPU per answered message, one person at a time (n={people * sizes.per_person})",
            f"{total:.1f} ms = gateway {used['gateway']:.1f} + its Rasa {used['engine']:.1f}",
        ),
        Row("Rasa alone: CPU per answered message, same texts", f"{alone['rasa']:.1f} ms"),
        Row("app / Rasa alone, CPU per message", f"{total / max(alone['rasa'], 1e-9):.2f}"),
        Row(
            "architecture floor: CPU per answered message, same texts",
            f"{floor_total:.1f} ms = its Rasa {lowest['floor']:.1f} "
            f"+ minimal NLG server {lowest['nlg']:.1f}",
        ),
        Row(
            "floor / Rasa alone and app / floor, CPU per message",
            f"{floor_total / max(alone['rasa'], 1e-9):.2f} and "
            f"{total / max(floor_total, 1e-9):.2f}",
        ),
        Row(
            f"CPU while idle ({IDLE_SECONDS:.0f} s, nothing sent), share of one core",
            f"gateway {idle['gateway']:.1%}, its Rasa {idle['engine']:.1%}, "
            f"Rasa alone {idle['rasa']:.1%}, the floor's Rasa {idle['floor']:.1%} "
            f"+ NLG server {idle['nlg']:.1%}",
        ),
    ]


def port_of(url: str) -> int:
    """The port of an http://host:port URL."""
    return int(url.rsplit(":", 1)[1])


def tally_note(name: str, tally: Tally) -> str:
    """One line on the failures a target had under load (all should be 0)."""
    return (
        f"{name}: {tally.errors} errors, {tally.empty} empty answers, {tally.escalated} "
        "answers that escalated, over every load run (failures are left out of the latencies)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement and write the report."""
    args = parse_args(argv)
    if args.render_json is not None:
        earlier = results_from_dict(json.loads(args.render_json.read_text(encoding="utf-8")))
        if args.note:
            earlier.note = args.note
        args.output.write_text(document(earlier), encoding="utf-8")
        step(f"wrote {args.output} from {args.render_json}")
        return 0
    sizes = sizes_for(args)
    started, clock = dt.datetime.now(), time.perf_counter()
    model = model_path()
    if not model.exists():
        raise SystemExit(f"no model at {model}; run `make train`")
    snapshot, _ = load_content(ROOT / "content")
    if snapshot is None:
        raise SystemExit("content/ has problems; run `make content-check`")
    ordinary = ordinary_texts(snapshot)
    distress = distress_texts(snapshot, distress_candidates())
    box = machine(postgres_version())
    production_stores = args.engine_stores == "production"

    step("in-process steps")
    everything = ordinary + distress
    in_process = [
        Row(
            f"safety phrase check, mean per message (n={len(everything)})",
            f"{micro.safety_check_us(snapshot, everything):.0f} µs",
        ),
        Row(
            f"language detection, mean per message (n={len(everything)})",
            f"{micro.language_ms(everything):.2f} ms",
        ),
        Row(
            "content load + check, whole tree", f"{micro.content_load_ms(ROOT / 'content'):.0f} ms"
        ),
    ]

    with (
        tempfile.TemporaryDirectory(prefix="rota-bench-") as tmp_name,
        contextlib.ExitStack() as stores_ctx,
    ):
        tmp = Path(tmp_name)
        training = training_rows(model, tmp / "train", not args.no_train)
        stack_content = tmp / "stack-content"
        shutil.copytree(ROOT / "content", stack_content)
        app_db = stores_ctx.enter_context(fresh_database("rota_bench"))
        app_redis = stores_ctx.enter_context(flushed_redis(APP_REDIS_URL))
        app_tracker: str | None = None
        stores: EngineStores | None = None
        floor_stores: EngineStores | None = None
        if production_stores:
            app_tracker = stores_ctx.enter_context(fresh_database("rota_bench_tracker"))
            stores = EngineStores(
                stores_ctx.enter_context(fresh_database("rota_bench_baseline")),
                stores_ctx.enter_context(flushed_redis(BASELINE_REDIS_URL)),
            )
            floor_stores = EngineStores(
                stores_ctx.enter_context(fresh_database("rota_bench_floor")),
                stores_ctx.enter_context(flushed_redis(FLOOR_REDIS_URL)),
            )
        step("gateway start-up, alone")
        first_start = gateway_start_seconds(app_db, stack_content, tmp / "gateway-alone.log")
        restart = gateway_start_seconds(app_db, stack_content, tmp / "gateway-alone.log")

        step("starting Rasa alone, then the floor (Rasa + a minimal NLG server)")
        with (
            baseline_rasa(model, tmp / "baseline", stores) as baseline,
            floor_rasa(model, tmp / "floor", floor_stores) as floor,
            FakeTelegram() as telegram,
            FakeTwilio() as twilio,
        ):
            extra = {**NO_RATE_LIMITS, **channel_env(telegram, twilio)}
            if not production_stores:
                extra["REDIS_URL"] = app_redis  # the gateway's; its engine keeps memory stores
            step("starting the app (engine + gateway)")
            began = time.perf_counter()
            with running_stack(
                tmp / "stack",
                database_url=app_db,
                content_dir=stack_content,
                extra_env=extra,
                model=model,
                tracker_db=app_tracker,
                redis_url=app_redis if production_stores else None,
            ) as stack:
                stack_seconds = time.perf_counter() - began
                step("screening texts and warming up all three")
                candidates = ordinary if sizes.screen is None else ordinary[: sizes.screen]
                texts = screen(
                    Target("app", stack.base_url),
                    (Target("rasa", baseline.url), Target("floor", floor.url)),
                    candidates,
                )
                figures = measure_app(
                    stack,
                    baseline,
                    floor,
                    telegram,
                    twilio,
                    texts,
                    distress,
                    sizes,
                    stack_content,
                    not args.no_channels,
                )
            sqlite_latency: list[Comparison] = []
            sqlite_tallies = {"app": Tally(), "rasa": Tally()}
            if not args.no_sqlite:
                step("starting the app on SQLite")
                with running_stack(
                    tmp / "sqlite",
                    content_dir=stack_content,
                    extra_env=NO_RATE_LIMITS,
                    model=model,
                ) as lite:
                    app_lite, rasa = Target("app", lite.base_url), Target("rasa", baseline.url)
                    asyncio.run(first_replies(app_lite, texts[:100]))
                    sqlite_latency = compare(
                        app_lite,
                        rasa,
                        texts,
                        sizes,
                        SQLITE_REPEATS,
                        sqlite_tallies,
                        None,
                        label="SQLite",
                    )

    stores_note = (
        "PostgreSQL tracker store (rasa_project/stores/erasable.py) and Redis lock store, "
        "each Rasa its own tracker database and Redis db (endpoints.production.yml)"
        if production_stores
        else "in-memory tracker and lock stores (Rasa's default; `--engine-stores production` "
        "for PostgreSQL + Redis)"
    )
    setup = [
        f"one trained model for every Rasa server: `{model.name}`",
        "the app = the gateway (`python -m bot serve`, one uvicorn process) on PostgreSQL "
        "(a throwaway database on 127.0.0.1) with REDIS_URL (Redis db 9), Telegram and WhatsApp "
        "on (their APIs local recording servers), rate limits raised out of the way; in front of "
        "its own Rasa (token channel, NLG pointed back at the gateway)",
        "Rasa alone = a second `rasa run` on the same model with Rasa's own `rest:` channel and "
        "no `nlg:` endpoint (it answers from its domain's `custom: {topic}` responses)",
        "the architecture floor = a third `rasa run` on the same model, `rest:` channel, with "
        "the app's `nlg:` endpoint pointed at a minimal NLG server (bench/floor.py, one "
        'uvicorn process answering `{"text": <response name>}`); measured between the app '
        "and Rasa alone in every repetition",
        f"every Rasa server (the app's, Rasa alone's, the floor's): {stores_note}",
        f"load: simulated people, each a new sender id sending {sizes.per_person} messages in "
        "sequence; one httpx AsyncClient per run with a keep-alive pool larger than the "
        f"concurrency; texts: {len(figures.texts)} ordinary questions of tests/data/eval/*.yml "
        "(not distress, a request for a person, deletion or a language switch; screened to be "
        "answered by the bot without escalation), the same order for every target; all warmed "
        "up first",
        f"throughput: 32 people for {sizes.throughput_seconds:.0f} s, messages answered / wall "
        "time (in-flight ones finish after the deadline)",
        "the load generator, the gateway, the three Rasa servers, the floor's NLG server, "
        "PostgreSQL and Redis share the machine's cores",
    ]
    sections: dict[str, list[Row]] = {
        **{k: figures.sections[k] for k in (SAFETY, MEMORY, CPU)},
        "Training and content edits": [*training, figures.edit_row],
        "Start-up": [
            Row(
                "gateway alone to /readyz 200, empty database (migrations run)",
                f"{first_start:.1f} s",
            ),
            Row("gateway alone to /readyz 200, database already migrated", f"{restart:.1f} s"),
            Row(
                "Rasa alone: start to model loaded (/status, polled every 50 ms)",
                f"{baseline.ready_s:.1f} s",
            ),
            Row(
                "the app's stack (engine + gateway started together) to /readyz?engine=required",
                f"{stack_seconds:.1f} s (polled every 0.5 s)",
            ),
        ],
        **{k: figures.sections[k] for k in (CHANNELS,) if k in figures.sections},
        "The gateway's own steps, in process": in_process,
    }
    notes = [
        tally_note("app", figures.tallies["app"]),
        tally_note("Rasa alone", figures.tallies["rasa"]),
        tally_note("the app's Rasa called directly", figures.tallies["engine"]),
        tally_note("the architecture floor", figures.tallies["floor"]),
    ]
    if sqlite_latency:
        notes.append(tally_note("app on SQLite", sqlite_tallies["app"]))
    load_after = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    results = Results(
        started=started,
        mode="quick" if args.quick else "full",
        repeats=sizes.repeats,
        machine=box,
        setup=setup,
        latency=figures.latency,
        throughput_app=figures.throughput["app"],
        throughput_rasa=figures.throughput["rasa"],
        throughput_floor=figures.throughput["floor"],
        throughput_label=f"32 people, {sizes.throughput_seconds:.0f} s",
        sections=sections,
        sqlite_latency=sqlite_latency,
        notes=notes,
        duration_s=time.perf_counter() - clock,
        load_after=load_after,
        sqlite_repeats=SQLITE_REPEATS,
        note=args.note,
    )
    text = document(results)
    args.output.write_text(text, encoding="utf-8")
    if args.json is not None:
        args.json.write_text(json.dumps(dataclasses.asdict(results), default=str, indent=1))
    print(text)
    step(f"done in {results.duration_s / 60:.1f} min; wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
