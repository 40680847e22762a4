"""hxgen analyze: anomaly scores and forecasts of one series, offline, as CSV in and CSV out.

A thin layer over hxgen.analytics (the library the hx-analytics service runs), with the exit
codes of hxgen.cli.common. The numeric libraries load only when a command runs, so that validate and
render stay fast and work without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, usage

ANALYZE_DESCRIPTION = """\
Score or forecast one time series, the way the hx-analytics service does live.

INPUT is a CSV file whose header names the columns 'timestamp' and 'value' (other columns are
ignored). Timestamps are ISO 8601 (2026-11-26T10:00:00Z; no zone means UTC) or Unix epoch
seconds, in time order; any interval, regular or not. Values are numbers; a row without one is
an error (drop it or fill it in), never silently skipped.

Exit codes: 0 done; 1 the input cannot be analysed (the message names the line); 2 bad
arguments, an unreadable file, or the analytics libraries are not installed.
"""


def add_analyze_commands(sub: argparse._SubParsersAction) -> None:
    analyze = sub.add_parser(
        "analyze",
        help="anomaly scores and forecasts of a timestamp,value CSV (what hx-analytics computes)",
        description=ANALYZE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = analyze.add_subparsers(title="commands", metavar="COMMAND")
    analyze.set_defaults(run=lambda _args: usage(analyze))

    anomalies = commands.add_parser(
        "anomalies",
        help="score every row for how anomalous it is, from 0 to 1",
        description="Write the input's rows, in order, with a third column anomaly_score in [0, 1]. "
        "Scores are causal: a row's score uses that row and the rows before it only, so the file "
        "is scored as the live service would have scored it. The first rows score 0 (too little past).",
    )
    _io_arguments(anomalies)
    anomalies.add_argument(
        "--sensitivity",
        type=_unit_interval,
        default=0.5,
        help="0 flags only gross anomalies, 1 subtle ones (default 0.5, as analytics.anomaly.sensitivity)",
    )
    anomalies.set_defaults(run=_anomalies)

    forecast = commands.add_parser(
        "forecast",
        help="forecast the points that follow the input, with a prediction interval",
        description="Write the N points that follow the input, at its interval (the median step), "
        "with columns timestamp,forecast,lower,upper. The method (naive, seasonal naive, drift, or "
        "exponential smoothing after removing daily/weekly seasons) is chosen by a rolling-origin "
        "backtest on the input; it is named on stderr.",
    )
    _io_arguments(forecast)
    forecast.add_argument("--horizon", type=_positive, required=True, metavar="N", help="how many points to forecast")
    forecast.add_argument(
        "--level",
        type=_interval_level,
        default=90.0,
        metavar="PERCENT",
        help="coverage of the prediction interval in percent (default 90)",
    )
    forecast.set_defaults(run=_forecast)


def _io_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="INPUT.csv", help="the series: columns timestamp,value")
    parser.add_argument("--output", "-o", type=Path, metavar="OUT.csv", help="where to write (default: stdout)")


def _read(args: argparse.Namespace) -> tuple[SimpleNamespace, object] | int:
    """The library and the input series, or the exit code after saying why not."""
    lib = _library()
    if lib is None:
        return EXIT_USAGE
    try:
        return lib, lib.series.read_csv(args.input)
    except lib.series.SeriesError as exc:
        return _failed(exc, lib)


def _anomalies(args: argparse.Namespace) -> int:
    read = _read(args)
    if isinstance(read, int):
        return read
    lib, series = read
    scores = lib.anomaly.anomaly_scores(series.timestamps, series.values, args.sensitivity)
    rows = zip(series.raw_timestamps, series.raw_values, scores, strict=True)
    lib.series.write_csv(args.output, ["timestamp", "value", "anomaly_score"], rows)
    return EXIT_OK


def _forecast(args: argparse.Namespace) -> int:
    read = _read(args)
    if isinstance(read, int):
        return read
    lib, series = read
    try:
        result = lib.forecast.forecast(series.timestamps, series.values, args.horizon, args.level / 100)
    except lib.series.SeriesError as exc:
        return _failed(f"{args.input.name}: {exc}", lib)
    stamps = lib.series.format_timestamps(result.timestamps, series.epoch)
    rows = zip(stamps, result.mean, result.lower, result.upper, strict=True)
    lib.series.write_csv(args.output, ["timestamp", "forecast", "lower", "upper"], rows)
    print(f"{args.input}: forecast {args.horizon} points with {result.model}", file=sys.stderr)
    return EXIT_OK


def _library() -> SimpleNamespace | None:
    """The analytics modules, or None after saying how to install them."""
    try:
        from ..analytics import anomaly, forecast, series
    except ImportError as exc:
        print(
            f"hxgen analyze: {exc.name} is not installed; install the analytics extra: pip install 'hxgen[analytics]'",
            file=sys.stderr,
        )
        return None
    return SimpleNamespace(anomaly=anomaly, forecast=forecast, series=series)


def _failed(exc: Exception | str, lib: SimpleNamespace) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE if isinstance(exc, lib.series.UnreadableInput) else EXIT_INVALID


def _bounded(convert: type, accept, rule: str):
    """An argparse type: `text` converted (int or float) and checked, or a message saying why not."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if convert is int else ''}number") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {rule}")
        return value

    return parse


_positive = _bounded(int, lambda v: v >= 1, "at least 1")
_unit_interval = _bounded(float, lambda v: 0 <= v <= 1, "between 0 and 1")
_interval_level = _bounded(float, lambda v: 50 < v < 100, "above 50 and below 100")
