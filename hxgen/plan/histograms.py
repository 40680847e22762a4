"""Latency histograms whose bucket bounds include the spec's SLO targets.

A latency SLO counts the requests slower than its target. Prometheus can only count that
exactly when the target is a bucket bound: `rate(..._bucket{le="<target>"})` is the share
that was fast enough. vLLM lets the bounds be set (`--custom-histogram-buckets`), so hx adds
each target to the engine's default bounds and every vLLM latency SLO is exact. TGI's bounds
are fixed, so its latency objectives are alerted on from a quantile estimate instead (and
`hxgen validate` says so).
"""

from __future__ import annotations

import json
from typing import Literal

LatencyKind = Literal["ttft", "e2e"]

# vLLM's bucket families and their default bounds in seconds (vllm/v1/metrics/buckets.py).
# A family passed in --custom-histogram-buckets replaces its defaults wholesale, so these are
# kept and the targets added to them.
VLLM_FAMILIES: dict[LatencyKind, str] = {"ttft": "time_to_first_token", "e2e": "request_latency"}
VLLM_DEFAULT_BOUNDS: dict[str, tuple[float, ...]] = {
    "time_to_first_token": (
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
        1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
    ),
    "request_latency": (
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
        40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
    ),
}  # fmt: skip
VLLM_HISTOGRAMS: dict[LatencyKind, str] = {
    "ttft": "vllm:time_to_first_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
}


def seconds(milliseconds: float) -> float:
    return milliseconds / 1000


def bucket_label(bound_s: float) -> str:
    """The `le` label a Python exporter (prometheus_client) writes for this bound."""
    return repr(float(bound_s))


def vllm_custom_buckets(
    targets_ms: dict[LatencyKind, float], extra_ms: tuple[tuple[LatencyKind, float], ...] = ()
) -> dict[str, list[float]]:
    """The families whose default bounds miss a target, with the target added; empty when the
    defaults already hold every target (the command line then stays as vLLM ships it). `extra_ms`
    holds more bounds an alert counts by (targets.embeddings_ms on embedding models)."""
    custom: dict[str, list[float]] = {}
    for kind, target_ms in sorted(targets_ms.items()) + list(extra_ms):
        family = VLLM_FAMILIES[kind]
        bounds = set(VLLM_DEFAULT_BOUNDS[family]) | set(custom.get(family, ()))
        if seconds(target_ms) not in bounds:
            custom[family] = sorted(bounds | {seconds(target_ms)})
    return custom


def vllm_buckets_flag(custom: dict[str, list[float]]) -> tuple[str, str]:
    return ("--custom-histogram-buckets", json.dumps(custom, separators=(",", ":"), sort_keys=True))
