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
    horizons_minutes: list[PositiveInt] = Field(default=[30, 60], min_length=1)

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
    enabled: bool = True
    interval_s: PositiveInt = 60
    history_days: PositiveInt = 14
    prediction_interval_percent: float = Field(default=90, gt=50, lt=100)
    port: Port = 9105
    series: list[Series] = Field(default_factory=_default_series)
    anomaly: Anomaly = Field(default_factory=Anomaly)
    memory_gb: MemoryGb = 2
