"""Anomaly scores in [0, 1], computed causally: the score of a row uses that row and earlier
ones only, exactly as the live service sees the data.

Each row is compared with what the recent past expects of it:

- the baseline is the median of the recent past or, once three days show a daily season, the
  median of the same time on the last three days (one odd day does not become the norm),
  moved to the level of the last hours;
- the residual (value − baseline) is measured against the residuals before it: their median
  absolute deviation, or their standard deviation where heavy tails are the metric's normal
  (bursts, rare errors), so one outlier does not inflate its own yardstick;
- four signals are read from it: a spike or dip (this row), a level shift (the median of the
  last few rows), a change of variance (their spread), and a flat line (a run of identical
  values far longer than any seen before);
- a signal counts in full only where it exceeds what the last week showed (novelty): repeated
  bursts of a bursty series, nightly cleanups and the rows after a shift are no longer news;
- the strongest signal, in robust units, goes through a curve centred on a threshold that
  `sensitivity` moves: 0.5 puts a score of 0.5 at five robust deviations;
- a score counts in full where its signal clearly tops the last hours', half where it only
  repeats them: an alarm marks an onset, once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .seasonality import DAY, regular, seasons
from .series import interval

MAD_TO_SIGMA = 1.4826
# Rows, whatever their interval: the baseline and the yardstick look back about a day, capped.
LONG_ROWS = (60, 1440)
WARM_UP_ROWS = 30
NEWS = 1.25


def anomaly_scores(timestamps: np.ndarray, values: np.ndarray, sensitivity: float = 0.5) -> np.ndarray:
    timestamps = np.asarray(timestamps, dtype="datetime64[ns]")
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 3:
        return np.zeros(n)
    long = _rows_per(timestamps, DAY, *LONG_ROWS)
    short, trend = max(3, long // 60), max(5, long // 24)
    residual = x - _baseline(timestamps, x, long, trend)
    scale = _scale(residual, long, x)
    signals = [
        np.abs(residual) / scale,
        _level_shift(residual, scale, short),
        _variance_change(residual, scale, max(10, long // 20)),
    ]
    memory = _rows_per(timestamps, 7 * DAY, long, 7 * LONG_ROWS[1])
    z = np.maximum.reduce([_novel(signal, memory) for signal in signals] + [_flat_line(x)])
    # A Hill curve rather than a logistic one: it never rounds to exactly 1, so the strongest
    # anomalies still rank above merely strong ones.
    threshold = 7.0 - 4.0 * sensitivity
    score = z**4 / (z**4 + threshold**4)
    # An alarm says something new: a score counts in full where its signal clearly tops the
    # last few hours' (by a quarter), and half where it only repeats or inches past them: the
    # rows after an onset, and the slow growth of a drift already reported.
    recent = pd.Series(z).shift(1).rolling(4 * short, min_periods=1).max().fillna(0.0).to_numpy()
    score = np.where(z > NEWS * recent, score, score / 2)
    # Too little past to judge against: the trend needs two of its windows, the level a few rows.
    score[: min(n, max(WARM_UP_ROWS, 2 * trend + short))] = 0.0
    return np.nan_to_num(score, nan=0.0)


def _novel(signal: np.ndarray, memory: int) -> np.ndarray:
    """The signal where it exceeds everything the last `memory` rows (a week) showed, damped
    where it does not: the tenth burst of a bursty queue or the third nightly cleanup is how
    that metric behaves, and the rows after a shift repeat what the first one said."""
    seen = pd.Series(signal).shift(1).rolling(memory, min_periods=1).max().to_numpy()
    ratio = np.where(seen > 0, signal / np.where(seen > 0, seen, 1.0), 1.0)
    return np.nan_to_num(signal * np.minimum(1.0, ratio) ** 2)


def _rows_per(timestamps: np.ndarray, span: np.timedelta64, low: int, high: int) -> int:
    """How many rows cover `span` at the series' interval, kept within [low, high]."""
    return int(np.clip(span.astype("timedelta64[ns]") / interval(timestamps), low, high))


def _baseline(timestamps: np.ndarray, x: np.ndarray, long: int, trend: int) -> np.ndarray:
    """What the past expects of each row (never the row itself)."""
    recent = _local_trend(x, trend)
    start = _daily_season_from(timestamps, x)
    if start is None:
        return recent
    same_time = np.vstack([_value_at(timestamps, x, timestamps - k * DAY) for k in (1, 2, 3)])
    seasonal = np.median(same_time[:, start:], axis=0)  # three days exist from `start` on
    # The daily shape from the past days, at the level of the last hours: a level shift is
    # news for a while, not for three days.
    offset = pd.Series(x[start:] - seasonal).shift(1).rolling(max(3, long // 8), min_periods=1).median()
    baseline = recent.copy()
    baseline[start:] = seasonal + offset.fillna(0.0).to_numpy()
    return baseline


def _local_trend(x: np.ndarray, k: int) -> np.ndarray:
    """The median of the last k rows, carried forward along the slope between it and the k
    rows before (medians, so one outlier moves neither): a trend is expected, not anomalous."""
    past = pd.Series(x).shift(1)
    last = past.rolling(k, min_periods=1).median()
    before = past.shift(k).rolling(k, min_periods=1).median()
    slope = ((last - before) / k).fillna(0.0)
    expected = (last + slope * (k + 1) / 2).to_numpy(copy=True)
    expected[0] = x[0]
    return expected


def _daily_season_from(timestamps: np.ndarray, x: np.ndarray) -> int | None:
    """The first row after three days of data, if those three days show a daily season."""
    start = int(np.searchsorted(timestamps, timestamps[0] + 3 * DAY))
    if start >= len(x) or start < 3 * LONG_ROWS[0]:
        return None
    grid = regular(timestamps[:start], x[:start])
    day = grid.steps_in(DAY)
    return start if day in seasons(grid) else None


def _value_at(timestamps: np.ndarray, x: np.ndarray, when: np.ndarray) -> np.ndarray:
    """The last value at or before each time; NaN before the series starts."""
    index = np.searchsorted(timestamps, when, side="right") - 1
    found = x[np.clip(index, 0, None)].astype(np.float64)
    found[index < 0] = np.nan
    return found


def _scale(residual: np.ndarray, long: int, x: np.ndarray) -> np.ndarray:
    """Robust spread of the residuals before each row, with a floor so that a quiet or
    quantised series does not turn its first wiggle into an infinite score."""
    past = pd.Series(residual).shift(1)
    centre = past.rolling(long, min_periods=5).median()
    spread = (past - centre).abs().rolling(long, min_periods=5).median().to_numpy() * MAD_TO_SIGMA
    # Heavy tails (bursts, rare errors, nightly cleanups) are normal for some metrics: where the
    # plain standard deviation says so, it is the yardstick.
    spread = np.fmax(spread, past.rolling(long, min_periods=5).std().to_numpy())
    level = pd.Series(np.abs(x)).shift(1).rolling(long, min_periods=1).median().to_numpy()
    steps = np.abs(np.diff(x, prepend=x[0]))
    # The smallest change seen so far: the series' resolution (integers, rounded gauges).
    quantum = np.fmin.accumulate(np.where(steps > 0, steps, np.inf))
    quantum = np.where(np.isfinite(quantum), quantum, 1.0)
    floor = np.maximum(np.nan_to_num(level) * 1e-3, quantum / 2)
    return np.fmax(np.nan_to_num(spread, nan=np.inf), floor)


def _level_shift(residual: np.ndarray, scale: np.ndarray, short: int) -> np.ndarray:
    """The median of the last `short` residuals in units of its own noise (a median of k
    points wanders about 1.25/sqrt(k) of one point's spread)."""
    recent = pd.Series(residual).rolling(short, min_periods=short).median().to_numpy()
    before = np.concatenate((np.full(short, np.inf), scale[:-short])) if len(scale) > short else scale
    return np.nan_to_num(np.abs(recent) / (1.25 * before / np.sqrt(short)), nan=0.0) / 2


def _variance_change(residual: np.ndarray, scale: np.ndarray, window: int) -> np.ndarray:
    """How much wider the last rows spread than the yardstick before them (wider only:
    a narrower spread is either calm or a flat line, which has its own signal)."""
    spread = pd.Series(residual).rolling(window, min_periods=window).std().to_numpy()
    before = np.concatenate((np.full(window, np.inf), scale[:-window])) if len(scale) > window else scale
    ratio = np.nan_to_num(spread / before, nan=0.0)
    return np.where(ratio > 1, 2.0 * np.log2(np.maximum(ratio, 1.0)), 0.0)


def _flat_line(x: np.ndarray) -> np.ndarray:
    """A run of identical values longer than three times any run seen before (and at least 20 rows):
    a stuck sensor or a dead exporter repeating its last value."""
    same = np.concatenate(([False], x[1:] == x[:-1]))
    run = np.zeros(len(x))
    count = 0
    for i, s in enumerate(same):
        count = count + 1 if s else 0
        run[i] = count
    ended = np.where(~same, np.concatenate(([0], run[:-1])), 0)  # the length of a run that just ended
    longest_before = np.maximum.accumulate(np.concatenate(([0], ended[:-1])))
    allowed = np.maximum(20, 3 * longest_before)
    # Strong from the first row past the limit: a stuck signal is certain once it is long enough.
    return np.where(run >= allowed, 9.0 + (run - allowed) / allowed, 0.0)
