"""hx-analytics: every cycle, read the configured series from Prometheus, score and forecast
each member, and export the results for Prometheus to scrape (and alert on).

When Prometheus cannot answer, the service keeps its last results for a few cycles, retries
with a growing pause, then withdraws them: predictive alerts must not act on stale forecasts.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server

from .. import __version__
from ..contracts.analytics import CONFIG_PATH
from .analysis import analyse
from .config import STALE_CYCLES, ConfigError, SeriesConfig, ServiceConfig, horizon_label, load_config
from .exporter import Health, Results, Snapshot
from .forecast import Choice
from .history import History, Member
from .prometheus import Prometheus, PrometheusUnavailable, QueryFailed

DEFAULT_CONFIG = CONFIG_PATH
MAX_BACKOFF_S = 300
RECHOOSE_S = 3600
"""How long a member keeps the forecasting method its backtest chose (plus up to half as
long again, so that members do not all backtest in the same cycle)."""

EXIT_OK, EXIT_CONFIG, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_CANNOT_LISTEN = 0, 1, 2, 3, 4

log = logging.getLogger("hx-analytics")


class Analyzer:
    """The cycle itself: fetch what is new, analyse every member, return a snapshot."""

    def __init__(self, config: ServiceConfig, prometheus: Prometheus, health: Health, clock: Callable[[], float]):
        self.config, self.prometheus, self.health, self.clock = config, prometheus, health, clock
        window_s = config.history_days * 86400
        self.histories = {s.name: History(s.member, window_s, config.interval_s) for s in config.series}
        self.choices: dict[tuple[str, Member], tuple[Choice, float]] = {}
        self.phases = {"fetch": 0.0, "analyse": 0.0}
        """Seconds the last cycle spent reading Prometheus and analysing."""

    def cycle(self) -> Snapshot:
        now = self.clock()
        results = {}
        self.phases = {"fetch": 0.0, "analyse": 0.0}
        for s in self.config.series:
            history = self.histories[s.name]
            start, end = history.next_span(now)
            fetching = time.monotonic()
            try:
                fetched = self.prometheus.query_range(s.query, start, end, self.config.interval_s)
            except QueryFailed as exc:
                log.error("series %s: Prometheus rejects its query: %s", s.name, exc)
                self.health.errors.labels(s.name, "query").inc()
                continue
            finally:
                self.phases["fetch"] += time.monotonic() - fetching
            history.update(fetched, start, end)
            analysing = time.monotonic()
            self._analyse_members(s, history, now, results)
            self.phases["analyse"] += time.monotonic() - analysing
        self.choices = {key: kept for key, kept in self.choices.items() if key in results}
        return Snapshot(results)

    def _analyse_members(self, s: SeriesConfig, history: History, now: float, results: dict) -> None:
        for member, points in history.members.items():
            key = (s.name, member)
            try:
                results[key] = analyse(
                    points.timestamps,
                    points.values,
                    step_s=self.config.interval_s,
                    horizons_minutes=s.horizons_minutes,
                    level=self.config.prediction_interval,
                    sensitivity=self.config.anomaly.sensitivity,
                    limit=s.limit,
                    choice=self._choice(key, now),
                )
            except Exception:  # noqa: BLE001 - one member's failed fit must not stop the others
                log.exception("series %s %s: the analysis failed", s.name, member)
                self.health.errors.labels(s.name, "fit").inc()
                continue
            self._keep_choice(key, results[key].choice, now)

    def _choice(self, key: tuple[str, Member], now: float) -> Choice | None:
        kept = self.choices.get(key)
        return kept[0] if kept and now < kept[1] else None

    def _keep_choice(self, key: tuple[str, Member], choice: Choice | None, now: float) -> None:
        if choice is None:
            self.choices.pop(key, None)
        elif key not in self.choices or now >= self.choices[key][1]:
            spread = zlib.crc32(repr(key).encode()) % 1000 / 2000  # 0 to 0.5, the same every run
            self.choices[key] = (choice, now + RECHOOSE_S * (1 + spread))


class Service:
    def __init__(self, config: ServiceConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.results = Results()
        self.registry.register(self.results)
        self.health = Health(self.registry)
        self.analyzer = Analyzer(config, Prometheus(config.prometheus_url), self.health, clock)
        self.clock = clock
        self.failures = 0
        self.last_success = 0.0
        self.started = clock()

    def run_once(self) -> float:
        """One cycle; publishes its results and returns how long to wait before the next."""
        started = time.monotonic()
        try:
            snapshot = self.analyzer.cycle()
        except PrometheusUnavailable as exc:
            return self._failed(exc)
        if self.failures or not self.last_success:
            log.info("Prometheus answers: %d members analysed", len(snapshot.results))
        elapsed = time.monotonic() - started
        self.results.publish(snapshot)
        self.health.prometheus_up.set(1)
        self.health.cycles.labels("ok").inc()
        self.health.cycle_duration.set(elapsed)
        for phase, seconds in self.analyzer.phases.items():
            self.health.phase_duration.labels(phase).set(seconds)
        self.health.series.set(len(snapshot.results))
        self.last_success = self.clock()
        self.health.last_success.set(self.last_success)
        self.failures = 0
        return max(0.0, self.config.interval_s - elapsed)

    def _failed(self, exc: PrometheusUnavailable) -> float:
        self.failures += 1
        self.health.prometheus_up.set(0)
        self.health.cycles.labels("failed").inc()
        wait = min(self.config.interval_s * 2 ** (self.failures - 1), max(MAX_BACKOFF_S, self.config.interval_s))
        log.warning("Prometheus unavailable (%s); failure %d, retrying in %.0f s", exc, self.failures, wait)
        fresh_since = max(self.last_success, self.started)
        if self.clock() - fresh_since > STALE_CYCLES * self.config.interval_s and self.results.latest.results:
            log.warning("withdrawing the results of %d cycles ago: they are stale", self.failures)
            self.results.publish(Snapshot())
        return wait

    def listen(self):
        """Serve the metrics; raises OSError when the port cannot be bound."""
        listen = self.config.listen
        server, _thread = start_http_server(listen.port, listen.address, registry=self.registry)
        log.info(
            "hx-analytics %s: %d series from %s every %d s; metrics on http://%s:%d/metrics",
            __version__,
            len(self.config.series),
            self.config.prometheus_url,
            self.config.interval_s,
            listen.address,
            listen.port,
        )
        return server

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            stop.wait(self.run_once())
        log.info("stopped")


def summary(snapshot: Snapshot) -> dict:
    """A cycle's results as JSON-ready data (for --once)."""
    rows = []
    for (series, member), a in snapshot.ordered():
        row = {"series": series, "model": member.model, "resource": member.resource, "anomaly_score": a.anomaly_score}
        row |= {"method": a.method, "points": a.points}
        row["forecast"] = {horizon_label(m): vars(b) for m, b in a.horizons.items()}
        if a.exhaustion_s is not None:
            row["capacity_exhaustion_s"] = "+Inf" if math.isinf(a.exhaustion_s) else a.exhaustion_s
        rows.append(row)
    return {"members": rows}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hx-analytics",
        description="Forecast and score the series in the configuration, from Prometheus, and export the results "
        "for Prometheus to scrape (hx_forecast, hx_anomaly_score, hx_capacity_exhaustion_seconds).",
        epilog="Exit codes: 0 success, 1 invalid configuration, 2 usage, 3 Prometheus unavailable (--once), "
        "4 cannot listen on the configured address.",
    )
    p.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), help=f"default: {DEFAULT_CONFIG}")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="check the configuration and exit")
    mode.add_argument("--once", action="store_true", help="run one cycle, print its results as JSON and exit")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"hx-analytics: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(f"{args.config}: {len(config.series)} series, valid")
        return EXIT_OK
    service = Service(config)
    if args.once:
        try:
            snapshot = service.analyzer.cycle()
        except PrometheusUnavailable as exc:
            print(f"hx-analytics: Prometheus unavailable: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        json.dump(summary(snapshot), sys.stdout, indent=2)
        print()
        return EXIT_OK
    try:
        server = service.listen()
    except OSError as exc:
        listen = config.listen
        print(f"hx-analytics: cannot listen on {listen.address}:{listen.port}: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        service.run(stop)
    finally:
        server.shutdown()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
