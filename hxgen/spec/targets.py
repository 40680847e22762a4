"""Host-wide service levels; per-model SLOs inherit from here."""

from __future__ import annotations

from pydantic import Field

from .common import Percent, PositiveFloat, StrictModel


class Targets(StrictModel):
    gateway_overhead_ms: PositiveFloat = Field(
        default=30, description="Latency the gateway may add (p99) at `gateway_overhead_at_rps`."
    )
    gateway_overhead_at_rps: PositiveFloat = 100
    sql_latency_ms: PositiveFloat = Field(default=50, description="p95 of a query through PgBouncer.")
    vector_search_ms: PositiveFloat = Field(default=150, description="p95 of a Qdrant search.")
    embeddings_ms: PositiveFloat = Field(default=200, description="p95 of an /v1/embeddings call.")
    memory_max_percent: Percent = Field(
        default=85, description="Host RAM that everything declared may add up to (also the alert line)."
    )
    cpu_max_percent: Percent = 80
    gpu_max_percent: Percent = 90
    availability_percent: Percent = 99.5
    error_rate_percent: Percent = 0.1
    mttr_minutes: PositiveFloat = Field(default=3, description="Mean time to recover from a failed model service.")
