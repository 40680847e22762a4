"""What the service exports for Prometheus to scrape: the latest cycle's results, replaced
whole at the end of each cycle, and the service's own health."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..contracts.analytics import horizon_label
from .analysis import Analysis
from .history import Member

MEMBER_LABELS = ["series", "model", "resource"]


@dataclass(frozen=True)
class Snapshot:
    results: dict[tuple[str, Member], Analysis] = field(default_factory=dict)

    def ordered(self) -> list[tuple[tuple[str, Member], Analysis]]:
        return sorted(self.results.items(), key=lambda item: item[0])


class Results(Collector):
    """The latest snapshot as gauges; a scrape never sees half a cycle."""

    def __init__(self) -> None:
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def publish(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot

    @property
    def latest(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        score = GaugeMetricFamily("hx_anomaly_score", "How unusual the latest value is, 0 to 1.", labels=MEMBER_LABELS)
        forecast = GaugeMetricFamily(
            "hx_forecast",
            "The value forecast `horizon` ahead: the central forecast and the prediction interval's bounds.",
            labels=[*MEMBER_LABELS, "horizon", "bound"],
        )
        exhaustion = GaugeMetricFamily(
            "hx_capacity_exhaustion_seconds",
            "Seconds until the forecast reaches the resource's limit; +Inf when not within the longest horizon.",
            labels=MEMBER_LABELS,
        )
        info = GaugeMetricFamily(
            "hx_analytics_model_info", "The forecasting method chosen for a series.", labels=[*MEMBER_LABELS, "method"]
        )
        points = GaugeMetricFamily("hx_analytics_points", "Points of history the analysis used.", labels=MEMBER_LABELS)
        for (series, member), a in self.latest.ordered():
            labels = [series, member.model, member.resource]
            score.add_metric(labels, a.anomaly_score)
            info.add_metric([*labels, a.method], 1)
            points.add_metric(labels, a.points)
            for minutes, b in a.horizons.items():
                h = horizon_label(minutes)
                for bound, value in (("forecast", b.forecast), ("lower", b.lower), ("upper", b.upper)):
                    forecast.add_metric([*labels, h, bound], value)
            if a.exhaustion_s is not None:
                exhaustion.add_metric(labels, a.exhaustion_s)
        yield from (score, forecast, exhaustion, info, points)


class Health:
    """The service's own metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cycle_duration = Gauge(
            "hx_analytics_cycle_duration_seconds", "Wall time of the last complete cycle.", registry=registry
        )
        self.phase_duration = Gauge(
            "hx_analytics_cycle_phase_seconds",
            "Wall time of the last complete cycle by phase: reading Prometheus, analysing.",
            ["phase"],
            registry=registry,
        )
        self.cycles = Counter("hx_analytics_cycles", "Cycles run, by outcome.", ["outcome"], registry=registry)
        self.last_success = Gauge(
            "hx_analytics_last_success_timestamp_seconds", "When the last cycle completed.", registry=registry
        )
        self.prometheus_up = Gauge(
            "hx_analytics_prometheus_up", "1 when the last cycle could read Prometheus.", registry=registry
        )
        self.errors = Counter(
            "hx_analytics_errors",
            "Series whose query or fit failed in a cycle.",
            ["series", "stage"],
            registry=registry,
        )
        self.series = Gauge("hx_analytics_series", "Members analysed in the last cycle.", registry=registry)
        for outcome in ("ok", "failed"):
            self.cycles.labels(outcome)
