"""A seeded corpus of labelled metric series for benchmarks/analytics.py.

Six kinds of series an LLM-serving host exports, each generated as a function of wall-clock
time (so jittered timestamps and gaps get the values the metric really had then):

    request_rate     req/s: daily and weekly seasons, a trend, over-dispersed Poisson counts
    kv_cache_usage   0..1: creeps towards saturation, a daily swing, autocorrelated noise
    queue_depth      waiting requests: bursts that drain, mostly 0
    error_ratio      errors / requests: Poisson counts of rare errors, mostly tiny
    disk_usage       0..1: monotone growth, nightly cleanups on some days
    gpu_memory       GB: flat with rare steps (model reloads) and a little jitter

Anomalies are injected in two ways. Those that change how the metric is produced (level
shift, slow drift, variance change, seasonality break) edit the generator's inputs, so a
bounded or count-valued metric stays bounded and count-valued. Those that overwrite what is
observed (spike, dip, flat line) edit the values afterwards.

Labels follow NAB (Lavin & Ahmad 2015): each anomaly gets a window of 10 % of the series
length divided by the number of anomalies, centred on the anomaly's start, and the first
15 % of a series is a probationary period that is not scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

KINDS = ("request_rate", "kv_cache_usage", "queue_depth", "error_ratio", "disk_usage", "gpu_memory")
ANOMALY_TYPES = ("spike", "dip", "level_shift", "variance_change", "flatline", "seasonality_break", "drift")
INTERVALS_S = (60, 300, 900, 3600)
DAY_S = 86400
# Long enough that a detector has seen a day (or several) before the first anomaly.
DETECTION_DAYS = {60: 4, 300: 7, 900: 14, 3600: 42}
QUICK_DETECTION_DAYS = {60: 2, 300: 3, 900: 7, 3600: 21}
FORECAST_DAYS = {60: 3, 300: 7, 900: 14, 3600: 28}
QUICK_FORECAST_DAYS = {60: 1, 300: 3, 900: 7, 3600: 14}
# What an operator would ask for at each resolution: the next hour at 1 min ... two days at 1 h.
FORECAST_HORIZON = {60: 60, 300: 72, 900: 96, 3600: 48}
WINDOW_FRACTION = 0.10
PROBATION_FRACTION = 0.15
# A Monday, so weekends fall where a reader expects them.
START = np.datetime64("2025-03-03T00:00:00", "ns")


@dataclass(frozen=True)
class Anomaly:
    type: str
    start: int
    """Index of the first anomalous row."""
    end: int
    """Index after the last anomalous row (persistent anomalies run to the end of the series)."""


@dataclass(frozen=True)
class Series:
    name: str
    kind: str
    timestamps: np.ndarray
    """datetime64[ns], strictly increasing."""
    values: np.ndarray
    interval_s: int
    """The nominal sampling interval; irregular series are jittered around it and have gaps."""
    period: int
    """The generator's daily season in rows, or 1 for kinds without one."""
    irregular: bool
    anomaly_type: str | None
    """One type per anomalous series, so a type's score is a score over whole series; None: clean."""
    anomalies: tuple[Anomaly, ...]
    windows: tuple[tuple[int, int], ...]
    """NAB label windows as inclusive row ranges, one per anomaly, in time order."""
    probation: int
    """Rows before this index are not scored."""


@dataclass(frozen=True)
class ForecastCase:
    name: str
    kind: str
    interval_s: int
    period: int
    irregular: bool
    regime: str
    """What changed in the history: none, level_shift, trend_change or seasonality_shift."""
    history_timestamps: np.ndarray
    history_values: np.ndarray
    future_timestamps: np.ndarray
    future_values: np.ndarray


@dataclass
class Inputs:
    """Per-row knobs of a generator; neutral values produce the normal metric."""

    n: int
    shift: np.ndarray = field(init=False)
    """Added to the level, in the kind's shift unit (see KindSpec.shift)."""
    noise: np.ndarray = field(init=False)
    """Multiplies the noise (or the burst size)."""
    phase_h: np.ndarray = field(init=False)
    """Hours added to the clock that drives the seasons."""
    season: np.ndarray = field(init=False)
    """Multiplies the seasonal swing; 0 removes it."""

    def __post_init__(self) -> None:
        self.shift = np.zeros(self.n)
        self.noise = np.ones(self.n)
        self.phase_h = np.zeros(self.n)
        self.season = np.ones(self.n)


Generator = Callable[[np.ndarray, np.ndarray, float, np.random.Generator, Inputs], tuple[np.ndarray, float]]


# --- the six kinds ---------------------------------------------------------------------------
# Each takes the rows' Unix times in seconds, their position in the series (0..1), the nominal
# interval, a generator and the inputs, and returns the values and the metric's upper bound.


def _clock(t: np.ndarray, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    shifted = t + inputs.phase_h * 3600.0
    hour = (shifted / 3600.0) % 24.0
    weekday = (np.floor(shifted / DAY_S) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    return hour, weekday


def _ar1(rng: np.random.Generator, sigma: np.ndarray, phi: float) -> np.ndarray:
    """Autocorrelated noise with a per-row standard deviation (scrapes of a smooth gauge)."""
    innovations = rng.normal(0.0, 1.0, len(sigma)) * sigma * np.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], innovations)


def request_rate(t, u, interval_s, rng, inputs):
    base = rng.uniform(20, 300)
    trend = rng.uniform(-0.15, 0.5)
    peak = rng.uniform(13, 16)
    daily, second = rng.uniform(0.4, 0.6), rng.uniform(0.05, 0.2)
    weekend = rng.uniform(0.5, 0.8)
    hour, weekday = _clock(t, inputs)
    profile = 1 + daily * np.cos(2 * np.pi * (hour - peak) / 24) + second * np.cos(4 * np.pi * (hour - peak + 3) / 24)
    profile = profile * np.where(weekday >= 5, weekend, 1.0)
    seasonal = 1 + inputs.season * (profile - 1)
    rate = base * (1 + trend * u) * seasonal * np.maximum(1 + inputs.shift, 0.02)
    # Traffic is burstier than Poisson: a log-normal factor on the rate, then counted.
    sigma = 0.06 * inputs.noise
    rate = rate * np.exp(rng.normal(0.0, 1.0, len(t)) * sigma - sigma**2 / 2)
    return rng.poisson(rate * interval_s) / interval_s, np.inf


def kv_cache_usage(t, u, interval_s, rng, inputs):
    start, end, speed = rng.uniform(0.15, 0.35), rng.uniform(0.7, 0.93), rng.uniform(2, 5)
    creep = start + (end - start) * (1 - np.exp(-speed * u)) / (1 - np.exp(-speed))
    hour, _ = _clock(t, inputs)
    swing = rng.uniform(0.05, 0.12) * np.cos(2 * np.pi * (hour - rng.uniform(13, 16)) / 24) * inputs.season
    noise = _ar1(rng, 0.012 * inputs.noise, 0.8 ** (interval_s / 60))
    return np.clip(creep + swing + inputs.shift + noise, 0.0, 1.0), 1.0


def queue_depth(t, u, interval_s, rng, inputs):
    hour, _ = _clock(t, inputs)
    load = 1 + 0.6 * np.cos(2 * np.pi * (hour - 14) / 24) * inputs.season
    burst_mean = rng.uniform(8, 40)
    # A gauge scraped at an instant: the chance of catching a burst does not grow with the interval.
    bursts = rng.random(len(t)) < rng.uniform(0.01, 0.04) * load
    sizes = rng.geometric(1 / np.maximum(burst_mean * inputs.noise, 1.0)) * bursts
    drain = 0.5 ** (interval_s / 60)  # half of the queue is served every minute
    queue = np.floor(lfilter([1.0], [1.0, -drain], sizes.astype(np.float64)))
    backlog = np.maximum(inputs.shift, 0) * burst_mean  # a stuck consumer leaves work behind
    return queue + np.round(backlog * rng.uniform(0.9, 1.1, len(t))), np.inf


def error_ratio(t, u, interval_s, rng, inputs):
    requests = max(1.0, rng.uniform(2, 50) * interval_s)
    p = rng.uniform(0.0005, 0.004) * np.maximum(1 + inputs.shift, 0.05)
    sigma = 0.3 * inputs.noise
    p = np.minimum(p * np.exp(rng.normal(0.0, 1.0, len(t)) * sigma - sigma**2 / 2), 1.0)
    return rng.poisson(requests * p) / requests, 1.0


def disk_usage(t, u, interval_s, rng, inputs):
    days = max((t[-1] - t[0]) / DAY_S, 1e-9)
    start = rng.uniform(0.2, 0.5)
    growth_per_s = rng.uniform(0.3, 1.0) * (0.9 - start) / days / DAY_S
    step_s = np.diff(t, prepend=t[0] - interval_s)
    usage = start + np.cumsum(growth_per_s * step_s * rng.gamma(2.0, 0.5, len(t)))
    # Cleanup jobs at 03:00 on about a third of the days free part of what was written.
    for day in range(int(np.floor(t[0] / DAY_S)), int(np.ceil(t[-1] / DAY_S)) + 1):
        if rng.random() < 0.3:
            at = int(np.searchsorted(t, day * DAY_S + 3 * 3600 + rng.uniform(0, 1800)))
            if 0 < at < len(t):
                usage[at:] -= rng.uniform(0.3, 0.7) * max(0.0, usage[at] - start)
    noise = rng.normal(0.0, 2e-4, len(t)) * inputs.noise
    return np.clip(usage + inputs.shift + noise, 0.0, 1.0), 1.0


def gpu_memory(t, u, interval_s, rng, inputs):
    capacity = float(rng.choice([24.0, 48.0, 80.0, 141.0]))
    level = np.full(len(t), capacity * rng.uniform(0.55, 0.85))
    # Reloads (a new engine version, a changed max_model_len) move the level a little, rarely.
    for _ in range(min(2, rng.poisson((t[-1] - t[0]) / DAY_S / 7))):
        at = rng.integers(1, len(t))
        level[at:] += capacity * rng.uniform(0.02, 0.05) * rng.choice([-1, 1])
    jitter = rng.normal(0.0, 0.002 * capacity, len(t)) * inputs.noise
    used = level + inputs.shift * capacity + jitter
    return np.clip(used, 0.0, capacity), capacity


@dataclass(frozen=True)
class KindSpec:
    generate: Generator
    seasonal: bool
    anomalies: tuple[str, ...]
    shift: tuple[float, float]
    """Size of a level shift (and of a drift after two windows) in the generator's shift unit."""
    signed: bool
    """Level shifts may go down as well as up (drifts only for request rates: leaks and creep grow)."""
    spike: tuple[float, float]
    """Spike height in units of the series' 1-99 % quantile range."""
    dip: tuple[float, float] = (0.05, 0.4)
    """Values are multiplied by this during a dip."""


SPECS: dict[str, KindSpec] = {
    "request_rate": KindSpec(request_rate, True, ANOMALY_TYPES, (0.3, 0.6), True, (0.6, 1.2)),
    "kv_cache_usage": KindSpec(kv_cache_usage, True, ANOMALY_TYPES, (0.1, 0.2), True, (0.6, 1.2), (0.1, 0.5)),
    "queue_depth": KindSpec(
        queue_depth, False, ("spike", "level_shift", "variance_change", "flatline", "drift"), (0.5, 1.5), False, (2, 4)
    ),
    "error_ratio": KindSpec(
        error_ratio, False, ("spike", "level_shift", "variance_change", "flatline", "drift"), (2.0, 5.0), False, (3, 10)
    ),
    "disk_usage": KindSpec(
        disk_usage,
        False,
        ("spike", "dip", "level_shift", "flatline", "drift"),
        (0.05, 0.15),
        True,
        (0.6, 1.2),
        (0.6, 0.85),
    ),
    "gpu_memory": KindSpec(
        gpu_memory,
        False,
        ("spike", "dip", "level_shift", "variance_change", "flatline", "drift"),
        (0.08, 0.2),
        True,
        (0.6, 1.2),
        (0.0, 0.1),
    ),
}
PERSISTENT = {"level_shift", "seasonality_break", "drift"}


# --- timestamps, windows, injection ----------------------------------------------------------


def timestamps(rng: np.random.Generator, interval_s: int, rows: int, irregular: bool, keep_tail: int = 0) -> np.ndarray:
    """`rows` scrapes from a start within the first week; irregular ones are jittered by up to a
    quarter interval and lose one to three stretches of 1-4 % of the rows (outside the last
    `keep_tail` rows)."""
    offset_s = int(rng.integers(0, 7 * 24)) * 3600
    seconds = offset_s + np.arange(rows, dtype=np.float64) * interval_s
    if not irregular:
        return START + (seconds * 1e9).astype(np.int64).astype("timedelta64[ns]")
    seconds += rng.uniform(-0.25, 0.25, rows) * interval_s
    keep = np.ones(rows, dtype=bool)
    for _ in range(rng.integers(1, 4)):
        length = int(rows * rng.uniform(0.01, 0.04))
        at = int(rng.integers(int(0.05 * rows), max(int(0.05 * rows) + 1, rows - keep_tail - length)))
        keep[at : at + length] = False
    return START + (seconds[keep] * 1e9).astype(np.int64).astype("timedelta64[ns]")


def unix_seconds(stamps: np.ndarray) -> np.ndarray:
    return stamps.astype("datetime64[ns]").astype(np.int64) / 1e9


def label_windows(rows: int, starts: list[int]) -> tuple[tuple[int, int], ...]:
    """NAB windows: 10 % of the rows shared among the anomalies, centred on each start."""
    if not starts:
        return ()
    width = max(2, int(round(WINDOW_FRACTION * rows / len(starts))))
    return tuple((max(0, s - width // 2), min(rows - 1, s - width // 2 + width - 1)) for s in sorted(starts))


def _starts(rng: np.random.Generator, rows: int, count: int) -> list[int]:
    """Anomaly starts after the probationary period and a quarter of the series, far enough apart
    that their windows (and the anomalies themselves) do not overlap."""
    for k in range(count, 0, -1):
        width = int(round(WINDOW_FRACTION * rows / k))
        low = max(int(PROBATION_FRACTION * rows) + width // 2 + 1, int(0.25 * rows))
        high = int(0.9 * rows)
        for _ in range(200):
            starts = sorted(int(s) for s in rng.integers(low, high, k))
            if all(b - a > 2 * width for a, b in zip(starts, starts[1:], strict=False)):
                return starts
    return [int(rng.integers(int(0.3 * rows), int(0.8 * rows)))]


def _edit_inputs(kind: str, type_: str, inputs: Inputs, start: int, width: int, rng: np.random.Generator) -> int:
    """Anomalies in how the metric is produced; returns the end of the anomaly."""
    spec = SPECS[kind]
    n = inputs.n
    signed = spec.signed and (type_ != "drift" or kind == "request_rate")
    sign = rng.choice([-1.0, 1.0]) if signed else 1.0
    size = sign * rng.uniform(*spec.shift)
    if type_ == "level_shift":
        inputs.shift[start:] += size
        return n
    if type_ == "drift":
        # Slow: it reaches a level shift's size two windows later and goes on, up to three times that.
        ramp = np.minimum(np.arange(n - start) / (2 * width), 3.0)
        inputs.shift[start:] += size * ramp
        return n
    if type_ == "variance_change":
        end = min(n, start + int(width * rng.uniform(0.5, 1.5)))
        inputs.noise[start:end] *= rng.uniform(3, 6)
        return end
    if type_ == "seasonality_break":
        if rng.random() < 0.5:
            inputs.phase_h[start:] += rng.choice([-1, 1]) * rng.uniform(4, 12)  # a time-zone or cron change
        else:
            inputs.season[start:] = 0.0  # the pattern disappears (a batch tenant flattens the load)
        return n
    raise ValueError(type_)


def _edit_values(
    kind: str, type_: str, values: np.ndarray, upper: float, start: int, width: int, rng: np.random.Generator
) -> int:
    """Anomalies in what is observed; edits `values` in place and returns the end of the anomaly."""
    spec = SPECS[kind]
    n = len(values)
    spread = float(np.quantile(values, 0.99) - np.quantile(values, 0.01)) or float(np.max(np.abs(values))) or 1.0
    if type_ == "spike":
        end = min(n, start + int(rng.integers(1, 4)))
        values[start:end] += rng.uniform(*spec.spike) * spread
    elif type_ == "dip":
        end = min(n, start + max(2, int(width * rng.uniform(0.05, 0.3))))
        values[start:end] *= rng.uniform(*spec.dip)
    elif type_ == "flatline":
        end = min(n, start + max(5, int(width * rng.uniform(0.3, 0.8))))
        # A stuck exporter repeats its last sample; for a mostly-zero metric, its last non-zero one.
        before = values[:start]
        if kind in ("queue_depth", "error_ratio") and (before > 0).any():
            stuck = before[before > 0][-1]
        else:
            stuck = values[start - 1]
        values[start:end] = stuck
    else:
        raise ValueError(type_)
    np.clip(values, 0.0, upper, out=values)
    return end


def make_series(
    name: str,
    kind: str,
    interval_s: int,
    days: float,
    anomaly_type: str | None,
    irregular: bool,
    rng: np.random.Generator,
) -> Series:
    stamps = timestamps(rng, interval_s, int(round(days * DAY_S / interval_s)), irregular)
    n = len(stamps)
    t = unix_seconds(stamps)
    inputs = Inputs(n)
    anomalies: list[Anomaly] = []
    starts: list[int] = []
    if anomaly_type is not None:
        count = 1 if anomaly_type in PERSISTENT else int(rng.integers(1, 4))
        starts = _starts(rng, n, count)
    width = int(round(WINDOW_FRACTION * n / max(1, len(starts))))
    post_hoc = anomaly_type in ("spike", "dip", "flatline")
    if not post_hoc:
        for s in starts:
            anomalies.append(Anomaly(anomaly_type, s, _edit_inputs(kind, anomaly_type, inputs, s, width, rng)))
    values, upper = _generate(kind, t, interval_s, rng, inputs)
    if post_hoc:
        for s in starts:
            anomalies.append(Anomaly(anomaly_type, s, _edit_values(kind, anomaly_type, values, upper, s, width, rng)))
    return Series(
        name=name,
        kind=kind,
        timestamps=stamps,
        values=values,
        interval_s=interval_s,
        period=period_of(kind, interval_s),
        irregular=irregular,
        anomaly_type=anomaly_type,
        anomalies=tuple(anomalies),
        windows=label_windows(n, starts),
        probation=int(PROBATION_FRACTION * n),
    )


def _generate(kind: str, t: np.ndarray, interval_s: int, rng: np.random.Generator, inputs: Inputs):
    """The kind's generator over epoch seconds `t`, with `u` (0 to 1 along the series) derived."""
    values, upper = SPECS[kind].generate(t, (t - t[0]) / max(t[-1] - t[0], 1.0), interval_s, rng, inputs)
    return np.asarray(values, dtype=np.float64), upper


def period_of(kind: str, interval_s: int) -> int:
    return max(1, round(DAY_S / interval_s)) if SPECS[kind].seasonal else 1


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


# --- the three sets --------------------------------------------------------------------------


def detection_corpus(seed: int = 0, quick: bool = False) -> list[Series]:
    """Every anomaly type each kind can show (twice, at different intervals; once when quick),
    plus clean series of every kind as the false-positive control."""
    days = QUICK_DETECTION_DAYS if quick else DETECTION_DAYS
    plan: list[tuple[str, str | None, int]] = []
    if quick:
        for i, type_ in enumerate(ANOMALY_TYPES):
            kinds = [k for k in KINDS if type_ in SPECS[k].anomalies]
            plan.append((kinds[i % len(kinds)], type_, INTERVALS_S[i % len(INTERVALS_S)]))
        plan += [(KINDS[i], None, INTERVALS_S[(i + 1) % len(INTERVALS_S)]) for i in (0, 2, 5)]
    else:
        for k, kind in enumerate(KINDS):
            for a, type_ in enumerate(SPECS[kind].anomalies):
                for rep in range(2):
                    plan.append((kind, type_, INTERVALS_S[(k + a + 2 * rep) % len(INTERVALS_S)]))
            plan += [(kind, None, interval_s) for interval_s in INTERVALS_S]
    corpus = []
    for i, (kind, type_, interval_s) in enumerate(plan):
        irregular = i % 4 == 3
        name = f"{kind}-{type_ or 'clean'}-{interval_s}s-{i:03d}" + ("-irregular" if irregular else "")
        corpus.append(make_series(name, kind, interval_s, days[interval_s], type_, irregular, _rng(seed, 1, i)))
    return corpus


REGIMES = ("level_shift", "trend_change", "seasonality_shift")


def forecast_corpus(seed: int = 0, quick: bool = False) -> list[ForecastCase]:
    """Each kind at every interval, once as it is and once after a regime change in the history
    that the forecast must follow (when quick: one interval and one of the two per kind)."""
    days = QUICK_FORECAST_DAYS if quick else FORECAST_DAYS
    cases = []
    i = changes = 0
    for k, kind in enumerate(KINDS):
        intervals = [INTERVALS_S[k % len(INTERVALS_S)]] if quick else list(INTERVALS_S)
        for interval_s in intervals:
            for changed in (k % 2 == 1,) if quick else (False, True):
                regimes = REGIMES if SPECS[kind].seasonal else REGIMES[:2]
                regime = regimes[changes % len(regimes)] if changed else "none"
                changes += changed
                cases.append(_forecast_case(kind, interval_s, days[interval_s], regime, i % 5 == 3, _rng(seed, 2, i)))
                i += 1
    return cases


def _forecast_case(
    kind: str, interval_s: int, days: float, regime: str, irregular: bool, rng: np.random.Generator
) -> ForecastCase:
    horizon = FORECAST_HORIZON[interval_s]
    history_rows = int(round(days * DAY_S / interval_s))
    stamps = timestamps(rng, interval_s, history_rows + horizon, irregular, keep_tail=horizon)
    n = len(stamps)
    history = n - horizon
    inputs = Inputs(n)
    width = int(WINDOW_FRACTION * history)
    if regime == "level_shift":
        _edit_inputs(kind, "level_shift", inputs, int(history * rng.uniform(0.8, 0.92)), width, rng)
    elif regime == "trend_change":
        _edit_inputs(kind, "drift", inputs, int(history * rng.uniform(0.6, 0.85)), width, rng)
    elif regime == "seasonality_shift":
        inputs.phase_h[int(history * rng.uniform(0.5, 0.7)) :] += rng.choice([-1, 1]) * rng.uniform(4, 12)
    t = unix_seconds(stamps)
    values, _ = _generate(kind, t, interval_s, rng, inputs)
    name = f"{kind}-{interval_s}s-{regime}" + ("-irregular" if irregular else "")
    return ForecastCase(
        name=name,
        kind=kind,
        interval_s=interval_s,
        period=period_of(kind, interval_s),
        irregular=irregular,
        regime=regime,
        history_timestamps=stamps[:history],
        history_values=values[:history],
        future_timestamps=stamps[history:],
        future_values=values[history:],
    )


def speed_corpus(seed: int, count: int, rows: int, interval_s: int = 60) -> list[Series]:
    """`count` series of `rows` rows, the kinds in turn, every fifth one with an anomaly: the load
    of one analytics cycle over a host's metrics."""
    corpus = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        type_ = SPECS[kind].anomalies[(i // len(KINDS)) % len(SPECS[kind].anomalies)] if i % 5 == 4 else None
        days = rows * interval_s / DAY_S
        series = make_series(f"speed-{i:03d}", kind, interval_s, days, type_, False, _rng(seed, 3, i))
        corpus.append(series)
    return corpus
