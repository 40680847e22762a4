"""Accuracy, detection quality and cost of hxgen.analytics on a seeded corpus of labelled series.

Prints one JSON document on stdout (progress on stderr) with three sections:

    forecast  MASE of forecast() against seasonal-naive and a predict_linear-style trend over the
              last 6 h, 90 % interval coverage, the models forecast() chose
    anomaly   NAB standard-profile score (threshold optimised once over the corpus), precision,
              recall and earliness of anomaly_scores() against a rolling z-score and a rolling
              median/MAD detector, overall, per anomaly type and per metric kind
    speed     one analytics cycle over 200 series of two weeks at 1 min: anomaly scores for all,
              a 60-point forecast for all; wall time, per-series times, peak RSS

    python benchmarks/analytics.py [--quick] [--seed 0] [--section all|forecast|anomaly|speed]

The corpus is benchmarks/analytics_corpus.py; the method is in docs/analytics-benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from analytics_corpus import (
    ANOMALY_TYPES,
    FORECAST_HORIZON,
    KINDS,
    Series,
    detection_corpus,
    forecast_corpus,
    speed_corpus,
)
from memory import peak_rss_mb

LEVEL = 0.9
TREND_LOOKBACK_S = 6 * 3600
SPEED_SERIES, SPEED_ROWS, SPEED_HORIZON = 200, 20160, 60
QUICK_SPEED_SERIES, QUICK_SPEED_ROWS = 6, 1440
# Repeat the speed cycle (and report the median) only while three runs stay affordable.
REPEAT_BELOW_S = 60.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rounded(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def median(values: Iterable[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return statistics.median(finite) if finite else None


# --- NAB scoring (Lavin & Ahmad 2015; numenta/NAB nab/scorer.py and nab/sweeper.py) ---------

A_TP, A_FP, A_FN = 1.0, -0.11, -1.0


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's reward curve: ~1 at a window's start (position -1), 0 at its end (position 0),
    falling to -1 three window lengths after it."""
    position = np.asarray(position, dtype=np.float64)
    curve = 2.0 / (1.0 + np.exp(5.0 * np.clip(position, -10.0, 10.0))) - 1.0
    return np.where(position > 3.0, -1.0, curve)


# Normalises the reward so that a detection on a window's first row earns exactly A_TP.
MAX_TP = float(scaled_sigmoid(-1.0))


@dataclass(frozen=True)
class RowWeights:
    """What detecting each row of one series is worth under NAB."""

    windows: tuple[tuple[int, int], ...]
    window: np.ndarray
    """Index of the label window a row is in, -1 outside every window."""
    value: np.ndarray
    """Inside a window: the reward if this row is the window's first detection. Outside: the
    (negative) cost of a false positive, which shrinks just after a window, as in NAB."""
    scored: np.ndarray
    """False in the probationary period, whose detections NAB ignores."""


def row_weights(rows: int, windows: tuple[tuple[int, int], ...], probation: int) -> RowWeights:
    index = np.arange(rows)
    window = np.full(rows, -1)
    value = np.full(rows, A_FP)  # before the first window: a full false positive
    for j, (lo, hi) in enumerate(windows):
        width = hi - lo + 1
        inside = slice(lo, hi + 1)
        window[inside] = j
        value[inside] = A_TP * scaled_sigmoid(-(hi - index[inside] + 1) / width) / MAX_TP
        after_end = windows[j + 1][0] if j + 1 < len(windows) else rows
        after = slice(hi + 1, after_end)
        value[after] = -A_FP * scaled_sigmoid((index[after] - hi) / max(1, width - 1))
    scored = index >= probation
    return RowWeights(windows, window, np.where(scored, value, 0.0), scored)


@dataclass
class Outcome:
    """One series at one threshold."""

    score: float
    windows: int
    detected: int
    earliness: list[float]
    """Position of the first detection in each detected window: 0 = its first row, ~1 = its last."""
    fp_rows: int
    fp_events: int
    """Runs of consecutive false-positive rows: alerts a person would receive."""


def score_series(scores: np.ndarray, weights: RowWeights, threshold: float) -> Outcome:
    hit = (np.nan_to_num(scores, nan=0.0) >= threshold) & weights.scored
    false = hit & (weights.window < 0)
    total = float(weights.value[false].sum())
    detected, earliness = 0, []
    for lo, hi in weights.windows:
        rows = np.flatnonzero(hit[lo : hi + 1])
        if rows.size:
            detected += 1
            earliness.append(rows[0] / (hi - lo + 1))
            total += weights.value[lo + rows[0]]
        else:
            total += A_FN
    events = int(np.count_nonzero(false[1:] & ~false[:-1]) + (false[0] if len(false) else 0))
    return Outcome(total, len(weights.windows), detected, earliness, int(false.sum()), events)


def optimise_threshold(items: list[tuple[np.ndarray, RowWeights]]) -> tuple[float, float]:
    """The threshold that maximises the corpus's total NAB score, and that score: one threshold
    for every series, as NAB's sweeper does. Exact: every distinct score is tried, in one pass
    over the rows sorted by score (adding a row changes the total by its FP cost, or by how much
    it improves its window's best reward)."""
    scores, window, value = [], [], []
    windows = 0
    for s, w in items:
        scores.append(np.nan_to_num(s[w.scored], nan=0.0))
        window.append(np.where(w.window[w.scored] >= 0, w.window[w.scored] + windows, -1))
        value.append(w.value[w.scored])
        windows += len(w.windows)
    score, win, val = (np.concatenate(a) if a else np.zeros(0) for a in (scores, window, value))
    null = A_FN * windows
    if score.size == 0:
        return float("inf"), null
    order = np.argsort(-score, kind="stable")
    score, win, val = score[order], win[order].astype(np.int64), val[order]
    delta = np.where(win < 0, val, 0.0)
    inside = np.flatnonzero(win >= 0)
    if inside.size:
        # Running best reward per window, in score order: offsetting each window by 4 (rewards lie
        # in [0, 1]) lets one cumulative maximum run over all windows without crossing between them.
        by_window = inside[np.lexsort((inside, win[inside]))]
        group = np.cumsum(np.concatenate(([0], np.diff(win[by_window]) != 0)))
        best = np.maximum.accumulate(val[by_window] + 4.0 * group) - 4.0 * group
        first = np.concatenate(([True], group[1:] != group[:-1]))
        before = np.where(first, A_FN, np.concatenate(([A_FN], best[:-1])))
        delta[by_window] = best - before
    total = null + np.cumsum(delta)
    # A threshold takes every row scoring at least as much, so only the last row of a tie counts.
    last_of_tie = np.concatenate((score[1:] != score[:-1], [True]))
    candidates = np.concatenate(([np.inf], score[last_of_tie]))
    totals = np.concatenate(([null], total[last_of_tie]))
    best_index = int(np.argmax(totals))  # the first maximum: the highest threshold among equals
    return float(candidates[best_index]), float(totals[best_index])


def normalised(raw: float, windows: int) -> float | None:
    """100 = every window detected on its first row and no false positive; 0 = never detecting."""
    perfect, null = A_TP * windows, A_FN * windows
    return None if perfect == null else 100.0 * (raw - null) / (perfect - null)


def summarise(outcomes: list[Outcome], clean_days: float | None = None) -> dict:
    windows = sum(o.windows for o in outcomes)
    detected = sum(o.detected for o in outcomes)
    events = sum(o.fp_events for o in outcomes)
    summary = {
        "series": len(outcomes),
        "windows": windows,
        "nab_score": rounded(normalised(sum(o.score for o in outcomes), windows), 2),
        "recall": rounded(detected / windows) if windows else None,
        "precision": rounded(detected / (detected + events)) if detected + events else None,
        "median_earliness": rounded(median(e for o in outcomes for e in o.earliness)),
        "fp_events": events,
    }
    if clean_days is not None:
        summary["false_alarms_per_day"] = rounded(events / clean_days) if clean_days else None
        summary["series_with_alarm"] = rounded(sum(o.fp_events > 0 for o in outcomes) / max(1, len(outcomes)))
    return summary


# --- baseline detectors ----------------------------------------------------------------------


def _window_rows(timestamps: np.ndarray) -> int:
    """A trailing day of rows, at least 60 and at most 1440: the look-back hxgen.analytics uses,
    so the baselines differ from it in method, not in memory."""
    step = float(np.median(np.diff(timestamps).astype(np.int64))) / 1e9 if len(timestamps) > 1 else 60.0
    return int(np.clip(86400 / max(step, 1e-9), 60, 1440))


def _to_score(z: np.ndarray) -> np.ndarray:
    """Deviation in standard units to [0, 1). NAB's windowedGaussian reports 1 - Q(|z|), which
    rounds to 1.0 beyond about 8 sigma and so merges all large deviations into one threshold;
    z / (z + 3) keeps their order (0.5 at three sigma), which is all the threshold sweep uses."""
    z = np.nan_to_num(np.abs(z), nan=0.0, posinf=1e12)
    return z / (z + 3.0)


def rolling_zscore(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Windowed Gaussian: distance from the trailing window's mean in its standard deviations."""
    past = pd.Series(values).shift(1).rolling(_window_rows(timestamps), min_periods=30)
    mean, std = past.mean().to_numpy(), past.std().to_numpy()
    return _to_score((values - mean) / np.fmax(std, 1e-12))


def rolling_mad(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Robust z-score: distance from the trailing median in units of the median absolute
    deviation (of each row from its own trailing median, the streaming form). When more than
    half the window is identical (a mostly-zero queue), MAD is 0 and the window's standard
    deviation stands in."""
    rows = _window_rows(timestamps)
    past = pd.Series(values).shift(1)
    centre = past.rolling(rows, min_periods=30).median().to_numpy()
    deviation = pd.Series(np.abs(values - centre)).shift(1)
    mad = deviation.rolling(rows, min_periods=30).median().to_numpy() * 1.4826
    std = past.rolling(rows, min_periods=30).std().to_numpy()
    scale = np.where(mad > 0, mad, std)
    return _to_score((values - centre) / np.fmax(scale, 1e-12))


def hx_detector(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    from hxgen.analytics.anomaly import anomaly_scores

    return anomaly_scores(timestamps, values)


DETECTORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "hx": hx_detector,
    "rolling_zscore": rolling_zscore,
    "rolling_mad": rolling_mad,
}


# --- baseline forecasts ----------------------------------------------------------------------


def seasonal_naive(values: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The same point one season back (the last value when there is no season)."""
    period = period if len(values) >= period else 1
    return values[len(values) - period + np.arange(horizon) % period]


def linear_trend(timestamps: np.ndarray, values: np.ndarray, horizon: int) -> np.ndarray:
    """PromQL's predict_linear(x[6h], t): least squares over the last 6 h, extended."""
    t = timestamps.astype(np.int64) / 1e9
    recent = t >= t[-1] - TREND_LOOKBACK_S
    if recent.sum() < 2:
        recent[-2:] = True
    slope, intercept = np.polyfit(t[recent] - t[-1], values[recent], 1)
    step = float(np.median(np.diff(t)))
    return intercept + slope * step * np.arange(1, horizon + 1)


def mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray, period: int) -> float | None:
    """Mean absolute error scaled by the in-sample seasonal-naive error (lag 1 when there is no
    season, or when the seasonal one is zero: a queue that sat at 0 for days)."""
    for lag in dict.fromkeys((period, 1)):
        if len(history) > lag:
            scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
            if scale > 0:
                return float(np.mean(np.abs(actual - predicted))) / scale
    return None


# --- sections --------------------------------------------------------------------------------

FORECASTERS = ("hx", "seasonal_naive", "linear_trend_6h")


def forecast_section(seed: int, quick: bool) -> dict:
    from hxgen.analytics.forecast import forecast

    cases = forecast_corpus(seed, quick)
    rows, failures = [], []
    for i, case in enumerate(cases):
        horizon = len(case.future_values)
        start = time.perf_counter()
        try:
            result = forecast(case.history_timestamps, case.history_values, horizon, level=LEVEL)
            if not all(len(a) == horizon for a in (result.timestamps, result.mean, result.lower, result.upper)):
                raise ValueError(f"forecast returned arrays that are not {horizon} long")
        except Exception as exc:  # a benchmark reports a failing case and goes on
            failures.append({"case": case.name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        seconds = time.perf_counter() - start
        predictions = {
            "hx": result.mean,
            "seasonal_naive": seasonal_naive(case.history_values, horizon, case.period),
            "linear_trend_6h": linear_trend(case.history_timestamps, case.history_values, horizon),
        }
        actual = case.future_values
        rows.append(
            {
                "kind": case.kind,
                "regime": case.regime,
                "interval_s": case.interval_s,
                "mase": {m: mase(actual, p, case.history_values, case.period) for m, p in predictions.items()},
                "coverage": float(np.mean((actual >= result.lower) & (actual <= result.upper))),
                "model": result.model,
                "seconds": seconds,
            }
        )
        log(f"forecast {i + 1}/{len(cases)} {case.name}: {result.model}, {seconds:.2f} s")

    def group(selected: list[dict]) -> dict:
        medians = {m: median(r["mase"][m] for r in selected) for m in FORECASTERS}
        summary = {
            "cases": len(selected),
            "median_mase": {m: rounded(v) for m, v in medians.items()},
            "hx_ratio": {},
            "hx_wins": {},
            "interval_coverage": rounded(statistics.fmean(r["coverage"] for r in selected)) if selected else None,
            "models": dict(sorted(Counter(r["model"] for r in selected).items())),
        }
        for base in FORECASTERS[1:]:
            pairs = [
                (r["mase"]["hx"], r["mase"][base]) for r in selected if None not in (r["mase"]["hx"], r["mase"][base])
            ]
            hx, other = medians["hx"], medians[base]
            summary["hx_ratio"][base] = rounded(hx / other) if hx is not None and other else None
            summary["hx_wins"][base] = rounded(sum(a < b for a, b in pairs) / len(pairs)) if pairs else None
        known = {m: v for m, v in medians.items() if v is not None}
        summary["best"] = min(known, key=known.get) if known else None
        return summary

    return {
        "cases": len(cases),
        "level": LEVEL,
        "horizon_points": {str(k): v for k, v in FORECAST_HORIZON.items()},
        "overall": group(rows),
        "per_kind": {k: group([r for r in rows if r["kind"] == k]) for k in KINDS if any(r["kind"] == k for r in rows)},
        "per_regime": {
            g: group([r for r in rows if r["regime"] == g]) for g in dict.fromkeys(r["regime"] for r in rows)
        },
        "unscaled_cases": sum(r["mase"]["hx"] is None for r in rows),
        "median_seconds": rounded(median(r["seconds"] for r in rows)),
        "failures": failures,
    }


def _checked(name: str, scores: np.ndarray, rows: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (rows,):
        raise ValueError(f"{name} returned {scores.shape} scores for {rows} rows")
    if np.isnan(scores).any() or (scores < 0).any() or (scores > 1).any():
        raise ValueError(f"{name} returned scores outside [0, 1]")
    return scores


def anomaly_section(seed: int, quick: bool) -> dict:
    corpus = detection_corpus(seed, quick)
    weights = [row_weights(len(s.values), s.windows, s.probation) for s in corpus]
    clean_days = sum(_scored_days(s) for s in corpus if s.anomaly_type is None)
    result: dict[str, dict] = {}
    failures = []
    for name, detect in DETECTORS.items():
        scores: list[np.ndarray] = []
        start = time.perf_counter()
        for s in corpus:
            try:
                scores.append(_checked(name, detect(s.timestamps, s.values), len(s.values)))
            except Exception as exc:  # scored as never detecting, and reported
                failures.append({"detector": name, "series": s.name, "error": f"{type(exc).__name__}: {exc}"[:300]})
                scores.append(np.zeros(len(s.values)))
        seconds = time.perf_counter() - start
        threshold, _ = optimise_threshold(list(zip(scores, weights, strict=True)))
        outcomes = [score_series(sc, w, threshold) for sc, w in zip(scores, weights, strict=True)]
        detector = summarise(outcomes)
        detector["threshold"] = rounded(threshold, 6)
        detector["seconds"] = rounded(seconds, 2)
        detector["clean"] = summarise(
            [o for o, s in zip(outcomes, corpus, strict=True) if s.anomaly_type is None], clean_days
        )
        detector["per_type"] = {
            t: summarise([o for o, s in zip(outcomes, corpus, strict=True) if s.anomaly_type == t])
            for t in ANOMALY_TYPES
            if any(s.anomaly_type == t for s in corpus)
        }
        detector["per_kind"] = {
            k: summarise([o for o, s in zip(outcomes, corpus, strict=True) if s.kind == k])
            for k in KINDS
            if any(s.kind == k for s in corpus)
        }
        if name == "hx":
            # As shipped: the score the library itself calls even odds, without tuning.
            detector["at_0_5"] = summarise([score_series(sc, w, 0.5) for sc, w in zip(scores, weights, strict=True)])
        result[name] = detector
        log(f"anomaly {name}: NAB {detector['nab_score']} at threshold {detector['threshold']}, {seconds:.1f} s")

    def winner(pick: Callable[[dict], float | None]) -> str | None:
        """The detector with the highest NAB score; None when the best score is shared."""
        scored = {d: pick(r) for d, r in result.items() if pick(r) is not None}
        best = max(scored.values(), default=None)
        leaders = [d for d, v in scored.items() if v == best]
        return leaders[0] if len(leaders) == 1 else None

    types = next(iter(result.values()))["per_type"]
    kinds = next(iter(result.values()))["per_kind"]
    return {
        "profile": {"A_TP": A_TP, "A_FP": A_FP, "A_FN": A_FN},
        "detectors": result,
        "winners": {
            "overall": winner(lambda r: r["nab_score"]),
            "per_type": {t: winner(lambda r, t=t: r["per_type"][t]["nab_score"]) for t in types},
            "per_kind": {k: winner(lambda r, k=k: r["per_kind"][k]["nab_score"]) for k in kinds},
        },
        "failures": failures,
    }


def _scored_days(series: Series) -> float:
    stamps = series.timestamps[series.probation :]
    return float((stamps[-1] - stamps[0]) / np.timedelta64(1, "s")) / 86400 if len(stamps) > 1 else 0.0


def speed_section(seed: int, quick: bool) -> dict:
    from hxgen.analytics.anomaly import anomaly_scores
    from hxgen.analytics.forecast import forecast

    count, rows = (QUICK_SPEED_SERIES, QUICK_SPEED_ROWS) if quick else (SPEED_SERIES, SPEED_ROWS)
    corpus = speed_corpus(seed, count, rows)
    rss_before = peak_rss_mb()

    def cycle() -> tuple[float, list[float], list[float]]:
        detect, predict = [], []
        start = time.perf_counter()
        for s in corpus:
            t0 = time.perf_counter()
            anomaly_scores(s.timestamps, s.values)
            t1 = time.perf_counter()
            forecast(s.timestamps, s.values, SPEED_HORIZON, level=LEVEL)
            predict.append(time.perf_counter() - t1)
            detect.append(t1 - t0)
        return time.perf_counter() - start, detect, predict

    runs = [cycle()]
    log(f"speed: run 1 took {runs[0][0]:.1f} s")
    while runs[0][0] < REPEAT_BELOW_S and len(runs) < 3:
        runs.append(cycle())
        log(f"speed: run {len(runs)} took {runs[-1][0]:.1f} s")
    wall = statistics.median(r[0] for r in runs)
    # Each series' median over the runs, then the spread over series.
    detect = [statistics.median(r[1][i] for r in runs) for i in range(count)]
    predict = [statistics.median(r[2][i] for r in runs) for i in range(count)]
    peak = peak_rss_mb()
    kinds = [s.kind for s in corpus]

    def spread(seconds: list[float]) -> dict:
        ms = np.asarray(seconds) * 1000
        return {
            "median_ms": rounded(np.median(ms), 2),
            "p95_ms": rounded(np.quantile(ms, 0.95), 2),
            "max_ms": rounded(ms.max(), 2),
            "total_s": rounded(ms.sum() / 1000, 3),
        }

    baselines = {}
    for name in ("rolling_zscore", "rolling_mad"):
        start = time.perf_counter()
        for s in corpus:
            DETECTORS[name](s.timestamps, s.values)
        baselines[name] = rounded(time.perf_counter() - start, 3)
    return {
        "series": count,
        "rows_per_series": rows,
        "horizon": SPEED_HORIZON,
        "runs": len(runs),
        "wall_s": rounded(wall, 3),
        "anomaly_scores": spread(detect),
        "forecast": spread(predict),
        "per_kind_median_ms": {
            k: {
                "anomaly_scores": rounded(1000 * median(d for d, s in zip(detect, kinds, strict=True) if s == k), 2),
                "forecast": rounded(1000 * median(p for p, s in zip(predict, kinds, strict=True) if s == k), 2),
            }
            for k in KINDS
            if k in kinds
        },
        "rss_before_cycle_mb": rounded(rss_before, 1),
        "peak_rss_mb": rounded(peak, 1),
        "baseline_detectors_s": baselines,
    }


def speed_in_child(seed: int, quick: bool) -> dict:
    """In a fresh process, so that peak RSS is the cycle's and not the other sections'."""
    command = [sys.executable, os.path.abspath(__file__), "--section", "speed", "--seed", str(seed)]
    done = subprocess.run([*command, *(["--quick"] if quick else [])], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)["speed"]


def corpus_summary(seed: int, quick: bool) -> dict:
    corpus = detection_corpus(seed, quick)
    return {
        "detection_series": len(corpus),
        "anomalous_series": sum(s.anomaly_type is not None for s in corpus),
        "clean_series": sum(s.anomaly_type is None for s in corpus),
        "irregular_series": sum(s.irregular for s in corpus),
        "windows": sum(len(s.windows) for s in corpus),
        "rows": sum(len(s.values) for s in corpus),
        "series_per_type": dict(Counter(s.anomaly_type or "none" for s in corpus)),
        "forecast_cases": len(forecast_corpus(seed, quick)),
    }


def versions() -> dict:
    import scipy
    import statsmodels

    return {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus, for development and the test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", choices=("all", "forecast", "anomaly", "speed"), default="all")
    args = parser.parse_args(argv)
    result: dict[str, object] = {
        "benchmark": "analytics",
        "seed": args.seed,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "versions": versions(),
        "corpus": corpus_summary(args.seed, args.quick),
    }
    if args.section in ("all", "forecast"):
        result["forecast"] = forecast_section(args.seed, args.quick)
    if args.section in ("all", "anomaly"):
        result["anomaly"] = anomaly_section(args.seed, args.quick)
    if args.section == "all":
        result["speed"] = speed_in_child(args.seed, args.quick)
    elif args.section == "speed":
        result["speed"] = speed_section(args.seed, args.quick)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
