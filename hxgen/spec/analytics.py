"""Forecasting and anomaly detection that feed predictive alerts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import MemoryGb, Name, Port, PositiveInt, StrictModel

BuiltinSeries = Literal["request_rate", "kv_cache_usage", "queue_depth", "error_ratio", "gpu_memory", "disk_usage"]


class Series(StrictModel):
    name: Name
    metric: BuiltinSeries | None = Field(
        default=None, description="A series hx knows how to query, per model or per resource."
    )
    query: str | None = Field(default=None, description="Your own PromQL instead of `metric`.")
    horizons_minutes: list[PositiveInt] = Field(
        default=[30, 60],
        min_length=1,
        description="How far ahead to forecast; the longest is the reach of the capacity alert.",
    )

    @model_validator(mode="after")
    def _metric_or_query(self) -> Series:
        if (self.metric is None) == (self.query is None):
            raise ValueError("give exactly one of 'metric' or 'query'")
        return self


def _default_series() -> list[Series]:
    horizons = {"request_rate": [60, 1440], "disk_usage": [1440, 10080]}
    names = BuiltinSeries.__args__
    return [Series(name=m.replace("_", "-"), metric=m, horizons_minutes=horizons.get(m, [30, 60])) for m in names]


class Anomaly(StrictModel):
    sensitivity: float = Field(
        default=0.5, ge=0, le=1, description="0 flags only gross anomalies, 1 flags subtle ones."
    )
    sustained_minutes: PositiveInt = Field(
        default=10, description="How long a high score must last before the alert fires."
    )


class Analytics(StrictModel):
    enabled: bool = Field(default=True, description="Run the hx-analytics service and its predictive alerts.")
    interval_s: PositiveInt = Field(
        default=60, description="How often a cycle runs; also the resolution it reads series at."
    )
    history_days: PositiveInt = Field(default=14, description="How much history each forecast and score learns from.")
    prediction_interval_percent: float = Field(
        default=90, gt=50, lt=100, description="The share of outcomes the lower and upper bounds should hold."
    )
    port: Port = Field(default=9105, description="Where the service exports its series (loopback only).")
    series: list[Series] = Field(
        default_factory=_default_series, description="What to forecast and score; every builtin metric by default."
    )
    anomaly: Anomaly = Field(default_factory=Anomaly)
    memory_gb: MemoryGb = Field(default=2, description="The service's memory limit (MemoryMax).")
