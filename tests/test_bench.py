"""The benchmark harness's pure parts: percentiles, the app/Rasa tables, counting answers.

Nothing here is timed: the figures are recorded numbers, as a run would produce them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import httpx
import pytest

from bench.load import RunResult, Target, judge
from bench.report import (
    Comparison,
    Results,
    Row,
    document,
    latency_table,
    results_from_dict,
    rows_table,
    throughput_table,
)
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
