"""The contract between hxgen and the hx-analytics service: the configuration file hxgen renders
(hxgen.render.analytics) and the service reads (hxgen.analytics.config), and the constants both
sides must agree on (the series the service exports, the alerts hxgen writes on them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VERSION = "hx-analytics/v1"
CONFIG_PATH = "/etc/hx/analytics.yml"
"""Where the analytics role installs the rendered configuration and the service reads it."""
STALE_CYCLES = 5
"""Cycles without Prometheus after which the service withdraws its results, and after which
HxAnalyticsStale fires."""


def horizon_label(minutes: int) -> str:
    """30 → 30m, 60 → 1h, 1440 → 1d: the way PromQL writes durations, and the value of the
    exported `horizon` label."""
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Strict):
    address: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class Anomaly(_Strict):
    sensitivity: float = Field(default=0.5, ge=0, le=1)


class SeriesConfig(_Strict):
    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    member: str | None = None
    """The label that tells members apart; exported as `model` when it is `model`, else as
    `resource`. None: every label of a result tells it apart."""
    horizons_minutes: list[int] = Field(min_length=1)
    limit: float | None = None


class ServiceConfig(_Strict):
    version: Literal["hx-analytics/v1"]
    prometheus_url: str = Field(pattern=r"^https?://")
    listen: Listen
    interval_s: int = Field(ge=1)
    history_days: int = Field(ge=1)
    prediction_interval: float = Field(gt=0.5, lt=1)
    anomaly: Anomaly = Field(default_factory=Anomaly)
    series: list[SeriesConfig]
