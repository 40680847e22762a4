"""One member's analysis in a cycle: its latest anomaly score, its forecast at each horizon
and, for a resource with a limit, when the forecast reaches that limit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .anomaly import anomaly_scores
from .forecast import MIN_POINTS, Choice, forecast

WARMING_UP = "warming-up"
"""The method named while the history is too short to forecast from."""


@dataclass(frozen=True)
class Bounds:
    forecast: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Analysis:
    anomaly_score: float
    method: str
    """The forecasting method the backtest chose, or WARMING_UP."""
    horizons: dict[int, Bounds]
    """Minutes ahead → the forecast then; empty while warming up."""
    exhaustion_s: float | None
    """Seconds until the forecast reaches the limit: 0 when it already has, +inf when not
    within the longest horizon; None without a limit or a forecast."""
    points: int
    choice: Choice | None = None
    """The backtest's decision, for the next cycles to reuse."""


def analyse(
    timestamps_s: np.ndarray,
    values: np.ndarray,
    *,
    step_s: int,
    horizons_minutes: list[int],
    level: float,
    sensitivity: float,
    limit: float | None,
    choice: Choice | None = None,
) -> Analysis:
    when = (np.asarray(timestamps_s) * 1e9).astype("datetime64[ns]")
    score = float(anomaly_scores(when, values, sensitivity)[-1])
    if len(values) < MIN_POINTS:
        return Analysis(score, WARMING_UP, {}, None, len(values))
    steps = {h: max(1, math.ceil(h * 60 / step_s)) for h in horizons_minutes}
    f = forecast(when, values, max(steps.values()), level, choice)
    bounds = {h: Bounds(float(f.mean[n - 1]), float(f.lower[n - 1]), float(f.upper[n - 1])) for h, n in steps.items()}
    exhaustion = None
    if limit is not None:
        exhaustion = _time_to_limit(values[-1], f.mean, f.timestamps, when[-1], limit)
    return Analysis(score, f.model, bounds, exhaustion, len(values), f.choice)


def _time_to_limit(now: float, path: np.ndarray, at: np.ndarray, last: np.datetime64, limit: float) -> float:
    if now >= limit:
        return 0.0
    reached = np.flatnonzero(path >= limit)
    if not len(reached):
        return math.inf
    return float((at[reached[0]] - last) / np.timedelta64(1, "s"))
