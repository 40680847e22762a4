"""benchmarks/analytics.py: the quick run prints the documented JSON with sane values, its NAB
scoring gives the rewards and costs the NAB paper defines, and the corpus is seeded and labelled
as docs/analytics-benchmark.md says. Nothing here asserts on time."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
DETECTORS = {"hx", "rolling_zscore", "rolling_mad"}
FORECASTERS = {"hx", "seasonal_naive", "linear_trend_6h"}


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(request):
    # The script imports its corpus as a sibling module, as it does when run from the shell.
    sys.path.insert(0, str(BENCHMARKS))
    request.addfinalizer(lambda: sys.path.remove(str(BENCHMARKS)))
    return _load("hx_benchmark_analytics", BENCHMARKS / "analytics.py")


@pytest.fixture(scope="module")
def corpus(bench):
    return sys.modules["analytics_corpus"]


@pytest.fixture(scope="module")
def quick(quick_benchmark):
    done = quick_benchmark("analytics.py", "--quick", "--seed", "3")  # tests/test_benchmarks.py runs it too
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# --- the quick run ---------------------------------------------------------------------------


def _fraction(value) -> bool:
    return value is not None and 0.0 <= value <= 1.0


def test_quick_run_prints_every_section(quick):
    assert set(quick) == {"benchmark", "seed", "quick", "cpus", "versions", "corpus", "forecast", "anomaly", "speed"}
    assert quick["seed"] == 3 and quick["quick"] is True
    assert quick["corpus"]["anomalous_series"] > 0 and quick["corpus"]["clean_series"] > 0


def test_forecast_section_compares_hx_with_both_baselines(quick, corpus):
    forecast = quick["forecast"]
    assert forecast["failures"] == []
    overall = forecast["overall"]
    assert overall["cases"] == forecast["cases"] == quick["corpus"]["forecast_cases"]
    assert set(overall["median_mase"]) == FORECASTERS
    assert all(0 < v < 1000 for v in overall["median_mase"].values())
    assert set(overall["hx_ratio"]) == set(overall["hx_wins"]) == FORECASTERS - {"hx"}
    assert all(_fraction(v) for v in overall["hx_wins"].values())
    assert _fraction(overall["interval_coverage"])
    assert sum(overall["models"].values()) == overall["cases"]
    assert overall["best"] in FORECASTERS
    assert set(forecast["per_kind"]) == set(corpus.KINDS)  # the quick set still has every kind
    assert sum(r["cases"] for r in forecast["per_kind"].values()) == overall["cases"]
    assert "none" in forecast["per_regime"] and len(forecast["per_regime"]) > 1


def test_anomaly_section_scores_hx_and_both_baselines_on_one_scale(quick):
    anomaly = quick["anomaly"]
    assert anomaly["failures"] == []
    assert anomaly["profile"] == {"A_TP": 1.0, "A_FP": -0.11, "A_FN": -1.0}
    assert set(anomaly["detectors"]) == DETECTORS
    types = set(quick["corpus"]["series_per_type"]) - {"none"}
    for detector in anomaly["detectors"].values():
        assert detector["windows"] == quick["corpus"]["windows"]
        # The optimised threshold never scores below the null detector (which it could choose).
        assert 0.0 <= detector["nab_score"] <= 100.0
        assert _fraction(detector["recall"])
        # No threshold (null) means never alerting scored best: possible on a tiny corpus.
        assert _fraction(detector["threshold"]) or (detector["threshold"] is None and detector["nab_score"] == 0)
        assert detector["precision"] is None or _fraction(detector["precision"])
        assert detector["median_earliness"] is None or _fraction(detector["median_earliness"])
        assert set(detector["per_type"]) == types
        assert sum(t["windows"] for t in detector["per_type"].values()) == detector["windows"]
        assert detector["clean"]["windows"] == 0 and _fraction(detector["clean"]["series_with_alarm"])
    assert anomaly["winners"]["overall"] in DETECTORS | {None}  # None: a tie
    assert set(anomaly["winners"]["per_type"]) == types


def test_speed_section_measures_one_cycle(quick):
    speed = quick["speed"]
    assert speed["series"] > 0 and speed["rows_per_series"] > 0 and speed["horizon"] == 60
    assert speed["runs"] in (1, 3)
    detect, predict = speed["anomaly_scores"], speed["forecast"]
    for part in (detect, predict):  # one set of timings, in the units the keys name
        assert 0 < part["median_ms"] <= part["p95_ms"] <= part["max_ms"] <= part["total_s"] * 1000 + 0.01
        assert part["total_s"] * 1000 >= part["median_ms"] * speed["series"] / 2 - 0.01  # half are above the median
    # The cycle contains every series' scoring and forecast: its wall time cannot be shorter.
    assert speed["wall_s"] * 1000 >= max(detect["max_ms"], predict["max_ms"]) - 1
    if speed["runs"] == 1:
        assert speed["wall_s"] >= detect["total_s"] + predict["total_s"] - 0.002
    assert speed["peak_rss_mb"] >= speed["rss_before_cycle_mb"] > 0


def test_docs_name_every_key_of_the_output(quick):
    text = (ROOT / "docs/analytics-benchmark.md").read_text()
    keys = set(quick) | set(quick["corpus"])
    keys |= set(quick["forecast"]) | set(quick["forecast"]["overall"])
    keys |= set(quick["anomaly"]) | set(quick["anomaly"]["detectors"]["hx"]) | set(quick["anomaly"]["detectors"])
    keys |= set(quick["anomaly"]["detectors"]["hx"]["clean"]) | set(quick["speed"]) | set(quick["speed"]["forecast"])
    assert {k for k in keys if f"`{k}`" not in text} == set()


# --- NAB scoring on hand-made cases ----------------------------------------------------------

ROWS, WINDOW, PROBATION = 100, (40, 49), 10


def _score(bench, detections: list[int], windows=(WINDOW,)) -> float:
    scores = np.zeros(ROWS)
    scores[detections] = 1.0
    return bench.score_series(scores, bench.row_weights(ROWS, windows, PROBATION), 0.5).score


def test_nab_rewards_a_detection_on_the_window_start_in_full(bench):
    assert _score(bench, [40]) == pytest.approx(1.0)
    assert _score(bench, [40, 41, 45]) == pytest.approx(1.0)  # only the first detection in a window counts


def test_nab_rewards_later_detections_less(bench):
    middle, end = _score(bench, [45]), _score(bench, [49])
    assert 1.0 > middle > end > 0.0


def test_nab_costs_a_false_positive_a_fp_and_a_missed_window_a_fn(bench):
    assert _score(bench, []) == pytest.approx(-1.0)
    assert _score(bench, [20]) == pytest.approx(-0.11 - 1.0)
    assert _score(bench, [20, 40]) == pytest.approx(-0.11 + 1.0)
    assert _score(bench, [99]) == pytest.approx(-0.11 - 1.0)  # far after a window: a full FP
    assert -0.11 < _score(bench, [50, 40]) - 1.0 < 0  # just after a window: NAB forgives most of it


def test_nab_ignores_the_probationary_period(bench):
    assert _score(bench, [5]) == pytest.approx(-1.0)


def test_nab_normalises_null_to_0_and_perfect_to_100(bench):
    assert bench.normalised(-3.0, 3) == 0.0 and bench.normalised(3.0, 3) == 100.0


def test_threshold_sweep_finds_the_best_threshold_exactly(bench):
    rng = np.random.default_rng(7)
    items = []
    for n in (80, 120, 150):
        windows = ((30, 39), (60, 69)) if n > 100 else ()
        scores = np.round(rng.random(n), 2)
        scores[[31, 62] if windows else []] = 0.97
        items.append((scores, bench.row_weights(n, windows, 10)))
    threshold, total = bench.optimise_threshold(items)

    def direct(t: float) -> float:
        return sum(bench.score_series(s, w, t).score for s, w in items)

    assert total == pytest.approx(direct(threshold))
    for t in np.unique(np.concatenate([s for s, _ in items])):
        assert direct(t) <= total + 1e-9


# --- baselines and corpus --------------------------------------------------------------------


def test_baseline_forecasts_are_exact_on_the_shapes_they_assume(bench):
    stamps = np.datetime64("2025-01-01", "ns") + np.arange(48) * np.timedelta64(3600, "s")
    line = 2.0 + 0.5 * np.arange(48)
    np.testing.assert_allclose(bench.linear_trend(stamps, line, 3), [26.0, 26.5, 27.0])
    season = np.tile([1.0, 5.0, 3.0, 0.0], 12)
    np.testing.assert_array_equal(bench.seasonal_naive(season, 6, 4), [1.0, 5.0, 3.0, 0.0, 1.0, 5.0])
    assert bench.mase(season[:6], bench.seasonal_naive(season, 6, 4), season, 4) == 0.0
    assert bench.mase(np.ones(3), np.zeros(3), np.full(10, 4.0), 4) is None  # a flat history has no scale
    assert bench.mase(np.array([2.0]), np.array([1.0]), np.array([0.0, 1.0, 0.0, 1.0]), 1) == pytest.approx(1.0)


def test_corpus_is_seeded(corpus):
    first, again, other = (corpus.detection_corpus(seed, quick=True) for seed in (1, 1, 2))
    assert [s.name for s in first] == [s.name for s in again]
    assert all(np.array_equal(a.values, b.values) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a.values, b.values) for a, b in zip(first, other, strict=True))


def test_corpus_labels_follow_nab(corpus):
    for s in corpus.detection_corpus(0, quick=True):
        n = len(s.values)
        assert len(s.timestamps) == n and (np.diff(s.timestamps) > np.timedelta64(0)).all()
        assert len(s.windows) == len(s.anomalies) == (0 if s.anomaly_type is None else len(s.windows))
        for (lo, hi), anomaly in zip(s.windows, s.anomalies, strict=True):
            assert s.probation <= lo <= anomaly.start <= hi < n
            assert abs((hi - lo + 1) - 0.1 * n / len(s.windows)) <= 1
            assert abs((lo + hi) / 2 - anomaly.start) <= 1  # centred on the start
            assert anomaly.type == s.anomaly_type
        if s.kind in ("kv_cache_usage", "error_ratio", "disk_usage"):
            assert s.values.min() >= 0.0 and s.values.max() <= 1.0
        if s.kind == "queue_depth":
            assert (s.values >= 0).all() and (s.values == np.round(s.values)).all()


def test_forecast_cases_keep_history_and_future_apart(corpus):
    for case in corpus.forecast_corpus(0, quick=True):
        assert len(case.future_values) == corpus.FORECAST_HORIZON[case.interval_s]
        assert case.history_timestamps[-1] < case.future_timestamps[0]
