"""Put a series on a regular grid and find the seasons in it (a day, a week), never assumed.

Models want evenly spaced points; inputs may be jittered or have gaps. The grid takes the
inferred interval and, for long series, a coarser multiple of it, so that a fit stays within
a few thousand points: two weeks at one minute become 15-minute points, the scale at which
daily and weekly patterns live.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .series import interval

DAY = np.timedelta64(1, "D")
WEEK = np.timedelta64(7, "D")
MAX_POINTS = 3000
# A season counts when the autocorrelation at its lag clears this and at least three whole
# seasons were seen (two leave nothing to check a model against); daily traffic reaches 0.5
# to 0.9, noise stays near 0.
MIN_AUTOCORRELATION = 0.3
MIN_SEASONS = 3


@dataclass(frozen=True)
class Grid:
    start: np.datetime64
    step: np.timedelta64
    values: np.ndarray
    """One value per step: the mean of the input rows in it, gaps filled by interpolation."""

    def timestamps(self) -> np.ndarray:
        return self.start + self.step * np.arange(len(self.values))

    def steps_in(self, span: np.timedelta64) -> int:
        return int(span // self.step)


def regular(timestamps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> Grid:
    base = interval(timestamps)
    span = timestamps[-1] - timestamps[0]
    factor = max(1, int(np.ceil(span / base / max_points)))
    step = base * factor
    frame = pd.Series(values, index=pd.DatetimeIndex(timestamps))
    binned = frame.resample(pd.Timedelta(step), origin=pd.Timestamp(timestamps[0])).mean()
    filled = binned.interpolate(limit_direction="both").to_numpy(dtype=np.float64)
    return Grid(np.datetime64(binned.index[0].to_datetime64()), step, filled)


def seasons(grid: Grid) -> list[int]:
    """Season lengths in grid steps, strongest first: a day and/or a week where the data show them."""
    found = []
    for span in (DAY, WEEK):
        lag = grid.steps_in(span)
        if lag < 2 or len(grid.values) < MIN_SEASONS * lag or np.ptp(grid.values) == 0:
            continue
        # Imported only for a series long enough to hold seasons: it costs a second.
        from statsmodels.tsa.stattools import acf

        correlation = acf(grid.values, nlags=lag, fft=True)
        strength = correlation[lag]
        # A true season peaks at its lag; a trend correlates at every lag alike.
        neighbours = correlation[max(1, lag - max(1, lag // 4)) : lag]
        if strength >= MIN_AUTOCORRELATION and strength >= np.median(neighbours):
            found.append((strength, lag))
    return [lag for _, lag in sorted(found, reverse=True)]
