"""`hxgen analyze anomalies|forecast`: the CSV contract other tools rely on, the detector's
causality, and input errors that name the line and set the exit code."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

MINUTE = 60
START = 1_767_225_600  # 2026-01-01T00:00:00Z


def write_series(path, values, step_s=MINUTE, iso=False, jitter_s=0, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["timestamp,value"]
    for i, v in enumerate(values):
        t = START + i * step_s + (int(rng.integers(-jitter_s, jitter_s + 1)) if jitter_s else 0)
        stamp = np.datetime_as_string(np.datetime64(t, "s")) + "Z" if iso else str(t)
        lines.append(f"{stamp},{v:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def daily(n, step_s=MINUTE, noise=1.0, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * step_s
    return 100 + 20 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, noise, n)


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_anomalies_keep_every_row_and_score_the_spike(tmp_path, hxgen):
    values = daily(6 * 1440)
    values[5000] += 30  # a spike, 30 noise deviations high
    src = write_series(tmp_path / "in.csv", values)
    result = hxgen("analyze", "anomalies", src)
    assert result.code == 0, result.err
    out = rows(result.out)
    inp = rows(src.read_text())
    assert [(r["timestamp"], r["value"]) for r in out] == [(r["timestamp"], r["value"]) for r in inp]
    scores = np.array([float(r["anomaly_score"]) for r in out])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[5000] > 0.9
    quiet = np.delete(scores, range(4990, 5100))
    assert np.mean(quiet >= 0.5) < 0.005  # clean seasonal noise stays quiet


def test_scores_are_causal(tmp_path, hxgen):
    """A row's score is the same whether or not later rows exist (how the service runs)."""
    values = daily(4 * 1440 + 500)
    values[4 * 1440 + 100 :] += 15  # a level shift after the daily season is learnt
    full = hxgen("analyze", "anomalies", write_series(tmp_path / "full.csv", values))
    cut = hxgen("analyze", "anomalies", write_series(tmp_path / "cut.csv", values[: 4 * 1440 + 200]))
    assert full.code == cut.code == 0
    full_scores = [r["anomaly_score"] for r in rows(full.out)][: 4 * 1440 + 200]
    assert full_scores == [r["anomaly_score"] for r in rows(cut.out)]
    assert max(float(s) for s in full_scores[4 * 1440 + 100 :]) > 0.9  # and the shift is seen


def test_a_stuck_signal_is_an_anomaly(tmp_path, hxgen):
    values = daily(3000)
    values[2000:2300] = values[2000]
    result = hxgen("analyze", "anomalies", write_series(tmp_path / "in.csv", values))
    scores = np.array([float(r["anomaly_score"]) for r in rows(result.out)])
    assert scores[2000:2300].max() > 0.9
    assert scores[:1990].max() < 0.9


def test_irregular_sampling_and_iso_timestamps(tmp_path, hxgen):
    values = daily(2000, step_s=300)
    src = write_series(tmp_path / "in.csv", values, step_s=300, iso=True, jitter_s=40)
    result = hxgen("analyze", "forecast", src, "--horizon", "12")
    assert result.code == 0, result.err
    out = rows(result.out)
    assert len(out) == 12
    assert out[0]["timestamp"].endswith("Z") and "T" in out[0]["timestamp"]


def test_forecast_follows_the_input_at_its_interval_and_brackets_the_truth(tmp_path, hxgen):
    n, horizon = 7 * 288, 288  # a week of 5-minute points, a day ahead
    values = daily(n + horizon, step_s=300, noise=2.0)
    src = write_series(tmp_path / "in.csv", values[:n], step_s=300)
    result = hxgen("analyze", "forecast", src, "--horizon", str(horizon), "--output", tmp_path / "out.csv")
    assert result.code == 0, result.err
    out = rows((tmp_path / "out.csv").read_text())
    assert [int(r["timestamp"]) for r in out] == [START + (n + i) * 300 for i in range(horizon)]
    mean, lower, upper = (np.array([float(r[k]) for r in out]) for k in ("forecast", "lower", "upper"))
    assert (lower <= mean).all() and (mean <= upper).all()
    truth = values[n:]
    naive_error = np.mean(np.abs(truth - values[n - 1]))
    assert np.mean(np.abs(mean - truth)) < naive_error / 3  # the daily season was found and used
    assert np.mean((truth >= lower) & (truth <= upper)) > 0.75
    assert "forecast 288 points with" in result.err


BAD_INPUTS = [
    ("timestamp,value\n2026-11-26T10:00:00Z,1\n2026-11-26T10:01:00Z,\n", 1, "in.csv:3: no value"),
    ("timestamp,value\n2026-11-26T10:00:00Z,1\nyesterday,2\n", 1, "in.csv:3: timestamp 'yesterday'"),
    ("time,val\n1,2\n", 1, "in.csv:1: missing column(s) timestamp, value"),
    ("timestamp,value\n100,1\n200,2\n150,3\n", 1, "in.csv:4: timestamp '150' goes back in time"),
    ("timestamp,value\n100,1\n100,2\n", 1, "in.csv:3: timestamp '100' repeats"),
    ("timestamp,value\n100,nan\n", 1, "in.csv:2: value 'nan' is not a finite number"),
    ("timestamp,value\n100,abc\n", 1, "in.csv:2: value 'abc' is not a number"),
    ("", 1, "in.csv: the file is empty"),
    ("timestamp,value\n", 1, "in.csv: no rows after the header"),
]


@pytest.mark.parametrize(("text", "code", "message"), BAD_INPUTS)
@pytest.mark.parametrize("command", ["anomalies", "forecast"])
def test_bad_input_names_the_line_and_never_shows_a_traceback(tmp_path, hxgen, text, code, message, command):
    src = tmp_path / "in.csv"
    src.write_text(text)
    extra = ["--horizon", "3"] if command == "forecast" else []
    result = hxgen("analyze", command, src, *extra)
    assert result.code == code
    assert message in result.err
    assert "Traceback" not in result.err and result.out == ""


def test_a_missing_file_is_exit_2_and_too_few_points_exit_1(tmp_path, hxgen):
    missing = hxgen("analyze", "anomalies", tmp_path / "nowhere.csv")
    assert missing.code == 2 and "cannot read" in missing.err
    few = write_series(tmp_path / "few.csv", [1.0, 2.0, 3.0])
    result = hxgen("analyze", "forecast", few, "--horizon", "2")
    assert result.code == 1 and "few.csv: 3 rows are too few to forecast from" in result.err


def test_sensitivity_moves_the_threshold(tmp_path, hxgen):
    values = daily(3000)
    values[2500] += 6  # a mild outlier: six noise deviations
    src = write_series(tmp_path / "in.csv", values)
    low, high = (
        float(rows(hxgen("analyze", "anomalies", src, "--sensitivity", s).out)[2500]["anomaly_score"])
        for s in ("0", "1")
    )
    assert low < 0.5 < high
    assert not math.isnan(low)


@pytest.mark.parametrize("values", [[5.0] * 100, [0.0] * 100, list(range(8)), [0.0, 1.0] * 50])
def test_degenerate_series_still_forecast(tmp_path, hxgen, values):
    """Constant, tiny or two-valued series: some candidates cannot fit them, and lose."""
    src = write_series(tmp_path / "in.csv", values)
    result = hxgen("analyze", "forecast", src, "--horizon", "5")
    assert result.code == 0, result.err
    out = rows(result.out)
    assert len(out) == 5
    assert all(float(r["lower"]) <= float(r["forecast"]) <= float(r["upper"]) for r in out)
    if len(set(values)) == 1:
        assert {float(r["forecast"]) for r in out} == {values[0]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "--horizon", "0"], "--horizon: must be at least 1"),
        (["forecast", "--horizon", "x"], "--horizon: 'x' is not a whole number"),
        (["forecast", "--horizon", "3", "--level", "40"], "--level: must be above 50 and below 100"),
        (["anomalies", "--sensitivity", "2"], "--sensitivity: must be between 0 and 1"),
    ],
)
def test_bad_arguments_are_exit_2_with_the_rule(tmp_path, hxgen, args, message):
    src = write_series(tmp_path / "in.csv", daily(100))
    result = hxgen("analyze", args[0], src, *args[1:])
    assert result.code == 2
    assert message in result.err


def test_scoring_a_short_file_imports_neither_scipy_nor_statsmodels_nor_the_spec(tmp_path):
    """Each of scipy and statsmodels takes a second or more to import; a 100-row file needs
    neither (no season can show in it), and no analysis needs the spec pipeline (pydantic and
    the spec models), so `hxgen analyze anomalies` on it stays quick."""
    import subprocess
    import sys

    series = write_series(tmp_path / "short.csv", daily(100))
    program = (
        "import sys; from hxgen.cli import main; "
        "code = main(['analyze', 'anomalies', sys.argv[1], '-o', sys.argv[2]]); "
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'statsmodels', 'pydantic'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(series), str(tmp_path / "scored.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.split() == ["0", "[]"], done.stderr
    assert len(rows((tmp_path / "scored.csv").read_text())) == 100
