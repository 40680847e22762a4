"""Forecast what follows a series, with a prediction interval.

Candidates, from the simplest: the last value (naive), the same point one season ago
(seasonal naive), the trend of the recent past (drift, what PromQL's predict_linear does) and
of the last horizon alone (recent drift, robust to steps further back), and
exponential smoothing with a damped trend, fitted after MSTL removes every season found
(ETS alone when there is none). The model is chosen by a rolling-origin backtest on the
series itself: each candidate forecasts the horizon from a few past origins, and the smallest
mean absolute error wins. Intervals are the model's own (ETS) or the textbook ones of the
simple methods (Hyndman & Athanasopoulos, FPP3 5.5).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# scipy.stats and statsmodels take a second or more to import: each is imported by the method
# that uses it, so that `hxgen analyze anomalies` never pays for them.
from .seasonality import regular, seasons
from .series import SeriesError, interval

MIN_POINTS = 8
# Fits stay within this many grid points (two weeks at one minute become 10-minute points).
MAX_POINTS = 2000
BACKTEST_ORIGINS = 3


@dataclass(frozen=True)
class Choice:
    """What the backtest decided: the method, and how much its interval must widen. The live
    service keeps it for a while: the backtest is most of a forecast's cost, and what suits a
    series changes over hours, not minutes."""

    method: str
    widen: float


@dataclass(frozen=True)
class Forecast:
    timestamps: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    model: str
    choice: Choice | None
    """The backtest's decision, to pass back in; None when the chosen method failed to fit."""


@dataclass(frozen=True)
class Path:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


Method = Callable[[np.ndarray, int, list[int], float], Path]


def forecast(
    timestamps: np.ndarray, values: np.ndarray, horizon: int, level: float = 0.9, choice: Choice | None = None
) -> Forecast:
    """The `horizon` points after the input, with a `level` prediction interval. The method is
    chosen by backtest unless a recent `choice` is given."""
    if horizon < 1:
        raise SeriesError("the horizon must be at least one point")
    if len(values) < MIN_POINTS:
        raise SeriesError(f"{len(values)} rows are too few to forecast from; give at least {MIN_POINTS}")
    timestamps = np.asarray(timestamps, dtype="datetime64[ns]")
    values = np.asarray(values, dtype=np.float64)
    step = interval(timestamps)
    future = timestamps[-1] + step * np.arange(1, horizon + 1)
    grid = regular(timestamps, values, MAX_POINTS)
    found = seasons(grid)
    steps = max(1, int(np.ceil((future[-1] - grid.timestamps()[-1]) / grid.step)))
    if choice is None:
        choice = Choice(*choose(grid.values, steps, found, level))
    name, widen = choice.method, choice.widen
    path = _attempt(name, grid.values, steps, found, level)
    if path is None:  # it fitted every backtest origin (or the last series) but not this one
        name, path, choice = "drift", drift(grid.values, steps, found, level), None
    half = (path.upper - path.lower) / 2 * widen
    path = Path(path.mean, path.mean - half, path.mean + half)
    # Back from the grid to the input's own interval.
    at = (grid.timestamps()[-1] + grid.step * np.arange(0, len(path.mean) + 1)).astype(np.int64)

    def on_input_interval(points: np.ndarray) -> np.ndarray:
        return np.interp(future.astype(np.int64), at, np.concatenate(([grid.values[-1]], points)))

    return Forecast(future, *(on_input_interval(p) for p in (path.mean, path.lower, path.upper)), name, choice)


def choose(y: np.ndarray, steps: int, found: list[int], level: float) -> tuple[str, float]:
    """The candidate with the smallest mean absolute error over a few past origins, and how
    much its interval must widen to have held `level` of the backtest's actual values (a
    model's own interval ignores that the model itself may be wrong)."""
    candidates = [n for n in METHODS if n != "seasonal_naive" or found]
    errors: dict[str, list[float]] = {n: [] for n in candidates}
    misses: dict[str, list[np.ndarray]] = {n: [] for n in candidates}
    minimum_history = max(MIN_POINTS, 2 * max(found, default=0) + 1)
    for k in range(1, BACKTEST_ORIGINS + 1):
        origin = len(y) - k * steps
        if origin < minimum_history:
            break
        actual = y[origin : origin + steps]
        for n in candidates:
            path = _attempt(n, y[:origin], len(actual), found, level)
            if path is None:
                continue
            errors[n].append(float(np.mean(np.abs(path.mean - actual))))
            half = np.maximum((path.upper - path.lower) / 2, 1e-12)
            misses[n].append(np.abs(actual - path.mean) / half)
    scored = {n: np.mean(e) for n, e in errors.items() if e}
    if not scored:  # too short to backtest: the method that assumes least
        return "drift", 1.0
    best = min(scored, key=lambda n: (scored[n], candidates.index(n)))
    widen = float(np.quantile(np.concatenate(misses[best]), level))
    return best, max(1.0, widen)


def _attempt(name: str, y: np.ndarray, steps: int, found: list[int], level: float) -> Path | None:
    """One candidate's forecast, or None when it cannot fit these data: statsmodels fails in
    many ways on degenerate series (constant, tiny, huge), and a candidate that fails loses."""
    try:
        with np.errstate(all="ignore"):
            path = METHODS[name](y, steps, found, level)
    except Exception:  # noqa: BLE001 - any failure of a fit only disqualifies that candidate
        return None
    if not all(np.isfinite(p).all() for p in (path.mean, path.lower, path.upper)):
        return None
    return path


def _z(level: float) -> float:
    from scipy.special import ndtri  # what scipy.stats.norm.ppf computes, without scipy.stats

    return float(ndtri(0.5 + level / 2))


def naive(y: np.ndarray, steps: int, found: list[int], level: float) -> Path:
    sigma = np.std(np.diff(y)) if len(y) > 1 else 0.0
    mean = np.full(steps, y[-1])
    width = _z(level) * sigma * np.sqrt(np.arange(1, steps + 1))
    return Path(mean, mean - width, mean + width)


def seasonal_naive(y: np.ndarray, steps: int, found: list[int], level: float) -> Path:
    season = found[0]  # the strongest
    h = np.arange(1, steps + 1)
    seasons_ahead = np.ceil(h / season).astype(int)
    mean = y[len(y) + (h - 1) - season * seasons_ahead]  # the same point, whole seasons back
    sigma = np.std(y[season:] - y[:-season]) if len(y) > season else 0.0
    width = _z(level) * sigma * np.sqrt(seasons_ahead)
    return Path(mean, mean - width, mean + width)


def drift(y: np.ndarray, steps: int, found: list[int], level: float) -> Path:
    """A straight line through the recent past (the last three horizons, or a season when
    there is one), extended: what predict_linear does, with its uncertainty."""
    return _line(y, steps, max(3 * steps, max(found, default=0), MIN_POINTS), level, robust=False)


def recent_drift(y: np.ndarray, steps: int, found: list[int], level: float) -> Path:
    """The same over one horizon, with a Theil-Sen slope: the trend of right now, which a step
    earlier in a longer window (a disk cleanup, a restart) would tilt."""
    return _line(y, steps, max(steps, MIN_POINTS), level, robust=True)


def _line(y: np.ndarray, steps: int, window: int, level: float, robust: bool) -> Path:
    window = min(len(y), window)
    recent = y[-window:]
    x = np.arange(window, dtype=np.float64)
    if robust:
        from scipy.stats import theilslopes

        slope, intercept = theilslopes(recent, x)[:2]
    else:
        slope, intercept = np.polyfit(x, recent, 1)
    residuals = recent - (slope * x + intercept)
    sigma = np.sqrt(np.sum(residuals**2) / max(1, window - 2))
    ahead = np.arange(window, window + steps, dtype=np.float64)
    mean = slope * ahead + intercept
    spread = np.sqrt(1 + 1 / window + (ahead - x.mean()) ** 2 / np.sum((x - x.mean()) ** 2))
    width = _z(level) * sigma * spread
    return Path(mean, mean - width, mean + width)


def ets(y: np.ndarray, steps: int, found: list[int], level: float) -> Path:
    """Exponential smoothing with a damped trend, after MSTL took out every season found;
    the seasons come back as they were in their last cycle."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.seasonal import MSTL

    usable = [s for s in found if len(y) >= 2 * s + 1]
    seasonal_future = np.zeros(steps)
    adjusted = y
    if usable:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            components = np.asarray(MSTL(y, periods=usable).fit().seasonal).reshape(len(y), -1)
        adjusted = y - components.sum(axis=1)
        h = np.arange(1, steps + 1)
        for column, season in zip(components.T, usable, strict=True):
            seasonal_future += column[len(y) + (h - 1) - season * np.ceil(h / season).astype(int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a poor fit loses the backtest
        fitted = ETSModel(pd.Series(adjusted), error="add", trend="add", damped_trend=True).fit(disp=False)
        frame = fitted.get_prediction(start=len(y), end=len(y) + steps - 1).summary_frame(alpha=1 - level)
    return Path(
        frame["mean"].to_numpy() + seasonal_future,
        frame["pi_lower"].to_numpy() + seasonal_future,
        frame["pi_upper"].to_numpy() + seasonal_future,
    )


METHODS: dict[str, Method] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "recent_drift": recent_drift,
    "ets": ets,
}


__all__ = ["Forecast", "forecast"]
