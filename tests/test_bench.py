"""The benchmark harness's pure parts: percentiles, the app/Rasa tables, counting answers.

Nothing here is timed: the figures are recorded numbers, as a run would produce them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bench import floor
from bench.load import RASA_REST_PATH, RunResult, Target, judge
from bench.report import (
    Comparison,
    Results,
    Row,
    document,
    floor_table,
    floor_throughput_table,
    latency_table,
    results_from_dict,
    rows_table,
    throughput_table,
)
from bench.run import run_order
from bench.servers import baseline_files, floor_files
from bench.stats import Summary, median_summary, percentile, summarize


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    # With 10 samples, p99 is the largest: no interpolation invents a value never measured.
    assert percentile([float(v) for v in range(1, 11)], 0.99) == 10
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_medians_are_taken_per_percentile_over_repetitions() -> None:
    runs = [Summary(10, 20, 90, 200), Summary(12, 25, 40, 200), Summary(11, 21, 50, 200)]
    assert median_summary(runs) == Summary(11, 21, 50, 200)
    assert summarize([1.0, 2.0, 3.0, 4.0]) == Summary(2.0, 4.0, 4.0, 4)


def comparison(app: tuple[float, float, float], rasa: tuple[float, float, float]) -> Comparison:
    return Comparison("8 people at once", app=[Summary(*app, 320)], rasa=[Summary(*rasa, 320)])


def test_latency_table_shows_both_sides_and_marks_the_targets() -> None:
    table = latency_table([comparison((22, 30, 30), (20, 25, 20))])
    row = table.splitlines()[2]
    assert row.startswith("| 8 people at once | 320 | 22 / 30 / 30 | 20 / 25 / 20 |")
    assert "1.10 ✓" in row  # p50 ratio exactly at the 1.10 target passes
    assert "| 1.20 |" in row  # p95 has no target: no mark
    assert "1.50 ✗" in row  # p99 ratio over 1.25 fails
    assert "ratio p50 (≤ 1.10)" in table.splitlines()[0]


def test_small_latencies_keep_a_decimal() -> None:
    table = latency_table([comparison((9.54, 12, 15), (8.0, 10, 12))])
    assert "9.5 / 12 / 15" in table
    assert "8.0 / 10 / 12" in table


def test_throughput_table_reports_medians_and_the_ratio() -> None:
    table = throughput_table([45.0, 50.0, 80.0], [100.0, 90.0, 110.0], "32 people, 20 s")
    assert "| 32 people, 20 s | 50.0 | 100.0 | 0.50 ✗ |" in table
    assert "0.95 ✓" in throughput_table([95.0], [100.0], "x")


def test_rows_without_a_target_carry_no_mark() -> None:
    table = rows_table(
        [Row("training from scratch", "83 s"), Row("peak RSS", "150 MB", "≤ 200 MB", True)]
    )
    assert "| training from scratch | 83 s |  |" in table
    assert "| peak RSS | 150 MB | ≤ 200 MB ✓ |" in table


def test_answers_are_counted_by_what_they_say() -> None:
    app, rasa = Target("app", "http://x"), Target("rasa", "http://y")
    result = RunResult()
    judge(app, httpx.Response(200, json={"status": "bot", "replies": [{"text": "a"}]}), result, 5.0)
    judge(
        app, httpx.Response(200, json={"status": "queued", "replies": [{"text": "b"}]}), result, 6.0
    )
    judge(app, httpx.Response(429, json={"error": "too many"}), result, 1.0)
    judge(rasa, httpx.Response(200, json=[]), result, 1.0)
    judge(rasa, httpx.Response(200, json=[{"custom": {"topic": "welcome"}}]), result, 7.0)
    assert result.latencies_ms == [5.0, 6.0, 7.0]  # an escalated answer is still an answer
    assert (result.escalated, result.errors, result.empty) == (1, 1, 1)


def recorded_results() -> Results:
    return Results(
        started=dt.datetime(2026, 11, 26, 17, 0),
        mode="quick",
        repeats=1,
        machine=["2 cores, Test CPU, 4.0 GB RAM"],
        setup=["one trained model"],
        latency=[comparison((22, 30, 30), (20, 25, 20))],
        throughput_app=[50.0],
        throughput_rasa=[100.0],
        throughput_label="32 people, 5 s",
        sections={"Memory": [Row("gateway peak RSS", "150 MB", "≤ 200 MB", True)]},
        duration_s=150.0,
        note="Preliminary: the machine was busy.",
    )


def test_document_leads_with_the_targets_and_names_the_run() -> None:
    text = document(recorded_results())
    assert text.startswith("# Benchmarks\n")
    assert "2026-11-26 17:00" in text and "quick form" in text and "2.5 min" in text
    assert "**Preliminary: the machine was busy.**" in text
    targets = text.split("## Targets (issue 8)")[1].split("## Machine")[0]
    assert "latency at p50, worst load level: 8 people at once | 1.10 | ≤ 1.10 ✓" in targets
    assert "app / Rasa latency at p99" in targets and "1.50 | ≤ 1.25 ✗" in targets
    assert "app / Rasa throughput at saturation | 0.50 | ≥ 0.90 ✗" in targets
    assert "gateway peak RSS | 150 MB | ≤ 200 MB ✓" in targets
    assert "- 2 cores, Test CPU, 4.0 GB RAM" in text


def test_raw_numbers_render_the_same_document_again() -> None:
    results = recorded_results()
    raw = json.loads(json.dumps(dataclasses.asdict(results), default=str))
    assert document(results_from_dict(raw)) == document(results)


def test_the_floor_is_rasa_s_own_rest_channel_and_counts_like_rasa() -> None:
    lowest = Target("floor", "http://z")
    assert lowest.path == RASA_REST_PATH
    assert lowest.body("s", "hi") == {"sender": "s", "message": "hi"}
    result = RunResult()
    judge(lowest, httpx.Response(200, json=[{"text": "utter_welcome"}]), result, 4.0)
    judge(lowest, httpx.Response(200, json=[]), result, 1.0)
    assert result.latencies_ms == [4.0] and result.empty == 1


def test_the_floor_s_nlg_server_answers_the_response_name_and_nothing_else() -> None:
    async def exchange() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=floor.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nlg") as client:
            body: dict[str, Any] = {
                "response": "utter_work_visa",
                "id": None,
                "arguments": {},
                "tracker": {"sender_id": "x", "events": [], "slots": {}},
                "channel": {"name": "rest"},
            }
            return (
                await client.post("/nlg", json=body, params={"token": "ignored"}),
                await client.post("/nlg", content=b"not json"),
                await client.get("/"),
            )

    rendered, garbled, probe = asyncio.run(exchange())
    assert rendered.status_code == 200 and rendered.json() == {"text": "utter_work_visa"}
    assert garbled.status_code == 200 and garbled.json() == {"text": "?"}
    assert probe.status_code == 200


def test_the_floor_keeps_the_apps_nlg_endpoint_and_rasa_alone_drops_it(tmp_path: Path) -> None:
    _, baseline = baseline_files(tmp_path / "baseline", None)
    credentials, endpoints = floor_files(tmp_path / "floor", None)
    assert "nlg" not in (yaml.safe_load(baseline.read_text()) or {})
    nlg = yaml.safe_load(endpoints.read_text())["nlg"]
    assert nlg["type"] == "nlg.gateway.GatewayNLG" and nlg["url"] == "${ROTA_NLG_URL}"
    assert yaml.safe_load(credentials.read_text()) == {"rest": None}


def test_app_and_rasa_alternate_at_the_ends_with_the_others_between() -> None:
    app, rasa = Target("app", "a"), Target("rasa", "r")
    engine, lowest = Target("engine", "e"), Target("floor", "f")
    assert run_order(0, app, rasa, (None, None)) == (app, rasa)
    assert run_order(1, app, rasa, (None, None)) == (rasa, app)
    assert run_order(0, app, rasa, (engine, None)) == (app, engine, rasa)
    assert run_order(1, app, rasa, (engine, None)) == (rasa, engine, app)
    assert run_order(0, app, rasa, (engine, lowest)) == (app, engine, lowest, rasa)
    assert run_order(1, app, rasa, (engine, lowest)) == (rasa, lowest, engine, app)


def with_floor() -> Results:
    results = recorded_results()
    results.latency = [
        Comparison(
            "8 people at once",
            app=[Summary(22, 30, 30, 320)],
            rasa=[Summary(20, 25, 20, 320)],
            floor=[Summary(21, 26, 24, 320)],
        )
    ]
    results.throughput_floor = [80.0]
    return results


def test_floor_tables_put_the_three_ratios_side_by_side() -> None:
    row = floor_table(with_floor().latency).splitlines()[2]
    assert row == (
        "| 8 people at once | 22 / 30 / 30 | 21 / 26 / 24 | 20 / 25 / 20 "
        "| 1.10 / 1.20 / 1.50 | 1.05 / 1.04 / 1.20 | 1.05 / 1.15 / 1.25 |"
    )
    table = floor_throughput_table([50.0], [80.0], [100.0], "32 people, 5 s")
    assert "| 32 people, 5 s | 50.0 | 80.0 | 100.0 | 0.50 | 0.80 | 0.62 |" in table


def test_the_floor_section_appears_only_when_the_floor_was_measured() -> None:
    assert "architecture floor" not in document(recorded_results())
    text = document(with_floor())
    section = text.split("## The architecture floor")[1].split("\n## ")[0]
    assert "| 8 people at once | 22 / 30 / 30 | 21 / 26 / 24 |" in section
    assert "| 0.50 | 0.80 | 0.62 |" in section
    # The headline tables and the targets stay app / Rasa.
    assert "app / Rasa throughput at saturation | 0.50 | ≥ 0.90 ✗" in text


def test_raw_numbers_with_the_floor_render_the_same_and_older_ones_still_load() -> None:
    results = with_floor()
    raw = json.loads(json.dumps(dataclasses.asdict(results), default=str))
    assert document(results_from_dict(raw)) == document(results)
    older = json.loads(json.dumps(dataclasses.asdict(recorded_results()), default=str))
    del older["throughput_floor"]
    for c in older["latency"]:
        del c["floor"]
    assert document(results_from_dict(older)) == document(recorded_results())
