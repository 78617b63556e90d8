"""Percentiles, medians over repetitions and app/Rasa ratios (pure functions)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SHARES = (0.50, 0.95, 0.99)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        raise ValueError("no values")
    if not 0.0 < share <= 1.0:
        raise ValueError("share must be in (0, 1]")
    ordered = sorted(values)
    rank = math.ceil(share * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


@dataclass(frozen=True)
class Summary:
    """p50/p95/p99 of one measurement, in milliseconds, and how many samples it had."""

    p50: float
    p95: float
    p99: float
    n: int

    def at(self, share: float) -> float:
        """The percentile for 0.50, 0.95 or 0.99."""
        return {0.50: self.p50, 0.95: self.p95, 0.99: self.p99}[share]


def summarize(values: Sequence[float]) -> Summary:
    """The p50/p95/p99 of one run's latencies."""
    p50, p95, p99 = (percentile(values, share) for share in SHARES)
    return Summary(p50=p50, p95=p95, p99=p99, n=len(values))


def median_summary(runs: Sequence[Summary]) -> Summary:
    """Each percentile's median over repeated runs (n is the samples of one run, the median)."""
    if not runs:
        raise ValueError("no runs")
    return Summary(
        p50=statistics.median(r.p50 for r in runs),
        p95=statistics.median(r.p95 for r in runs),
        p99=statistics.median(r.p99 for r in runs),
        n=round(statistics.median(r.n for r in runs)),
    )


def ratio(app: float, rasa: float) -> float:
    """app / Rasa; infinite when Rasa's figure is zero (nothing to compare against)."""
    return app / rasa if rasa > 0 else math.inf
