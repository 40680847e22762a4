"""What the hx-analytics service watches: each spec series resolved to the PromQL it runs, the
label that tells its members apart, and the limit a saturation forecast is measured against."""

from __future__ import annotations

from dataclasses import dataclass

from .. import layout
from ..contracts import analytics as contract
from ..spec import Spec
from ..spec.analytics import Series

# File systems that hold data; pseudo and in-memory ones never fill a disk.
DATA_FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs",mountpoint!~"/run.*|/sys.*|/proc.*"'
# The share of the KV cache at which vLLM starts to queue and preempt requests.
KV_CACHE_SATURATED = 0.95


@dataclass(frozen=True)
class Builtin:
    query: str
    member: str
    """The label whose values are the series' members: one forecast and score per value."""
    limit: float | None = None
    """The value at which the resource is exhausted; None for series that have none."""
    gpu_only: bool = False


def _disk_usage() -> str:
    avail = f"node_filesystem_avail_bytes{{{DATA_FS}}}"
    size = f"node_filesystem_size_bytes{{{DATA_FS}}}"
    return f"max by (mountpoint) (1 - {avail} / {size})"


BUILTINS = {
    "request_rate": Builtin("sum by (model) (hx:model_requests:rate5m)", "model"),
    "kv_cache_usage": Builtin("max by (model) (hx:model_kv_cache_usage:ratio)", "model", KV_CACHE_SATURATED),
    "queue_depth": Builtin("sum by (model) (hx:model_queue_depth)", "model"),
    "error_ratio": Builtin("max by (model) (hx:model_request_errors:ratio_rate5m)", "model"),
    "gpu_memory": Builtin(
        "max by (gpu) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE))", "gpu", 1.0, gpu_only=True
    ),
    "disk_usage": Builtin(_disk_usage(), "mountpoint", 1.0),
}


@dataclass(frozen=True)
class WatchedSeries:
    name: str
    metric: str | None
    """The builtin metric, or None for the user's own query."""
    query: str
    member: str | None
    """Label of the members (exported as `model`, or as `resource` for anything else); None
    for a user's query, whose members are told apart by all their labels."""
    horizons_minutes: tuple[int, ...]
    limit: float | None


@dataclass(frozen=True)
class AnalyticsPlan:
    host: str
    """Where the service runs (beside Prometheus, which it reads)."""
    service: str
    user: str
    port: int
    config_file: str
    """Where the role installs the rendered configuration and the service reads it."""
    prometheus_url: str
    interval_s: int
    history_days: int
    level: float
    """The prediction interval, as a fraction (0.9)."""
    sensitivity: float
    sustained_minutes: int
    memory_max_gb: float
    series: tuple[WatchedSeries, ...]


def build_analytics_plan(spec: Spec) -> AnalyticsPlan:
    """For a spec whose analytics is on (hxgen.components decides)."""
    a = spec.analytics
    gpu = spec.host.profile == "gpu"
    return AnalyticsPlan(
        host=spec.host.name,
        service=layout.ANALYTICS_SERVICE,
        user=layout.ANALYTICS_USER,
        port=a.port,
        config_file=contract.CONFIG_PATH,
        prometheus_url=f"http://{layout.ENGINE_BIND_ADDRESS}:{spec.monitoring.prometheus_port}",
        interval_s=a.interval_s,
        history_days=a.history_days,
        level=a.prediction_interval_percent / 100,
        sensitivity=a.anomaly.sensitivity,
        sustained_minutes=a.anomaly.sustained_minutes,
        memory_max_gb=a.memory_gb,
        series=tuple(_watched(s) for s in a.series if s.metric is None or gpu or not BUILTINS[s.metric].gpu_only),
    )


def _watched(s: Series) -> WatchedSeries:
    horizons = tuple(sorted(set(s.horizons_minutes)))
    if s.metric is None:
        return WatchedSeries(s.name, None, s.query or "", None, horizons, None)
    b = BUILTINS[s.metric]
    return WatchedSeries(s.name, s.metric, b.query, b.member, horizons, b.limit)
