"""Host-wide numbers renderers read: the targets that alerts and dashboards draw as lines, and
the security settings the roles need."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec


@dataclass(frozen=True)
class TargetsPlan:
    memory_max_percent: float
    cpu_max_percent: float
    gpu_max_percent: float
    sql_latency_ms: float
    vector_search_ms: float
    embeddings_ms: float
    """p95 of the embedding models' end-to-end latency (an alert, render/target_rules)."""
    mttr_minutes: float
    """A model service down longer than this pages (render/target_rules)."""
    error_rate_percent: float
    """The gateway's 5xx share above this opens a ticket (render/usage_rules), as a model's does."""
    gateway_overhead_ms: float
    gateway_overhead_at_rps: float
    """The p99 the gateway may add, and the request rate from which that promise holds (usage_rules)."""


@dataclass(frozen=True)
class SecurityPlan:
    vault_file: str
    """Relative to the inventory directory; ansible-vault encrypted."""
    access_log_days: int
    secrets_source: str
    """ansible-vault: the roles write secret files from the vault; files: operators place them."""


def build_targets_plan(spec: Spec) -> TargetsPlan:
    t = spec.targets
    return TargetsPlan(
        t.memory_max_percent,
        t.cpu_max_percent,
        t.gpu_max_percent,
        t.sql_latency_ms,
        t.vector_search_ms,
        embeddings_ms=t.embeddings_ms,
        mttr_minutes=t.mttr_minutes,
        error_rate_percent=t.error_rate_percent,
        gateway_overhead_ms=t.gateway_overhead_ms,
        gateway_overhead_at_rps=t.gateway_overhead_at_rps,
    )


def build_security_plan(spec: Spec) -> SecurityPlan:
    s = spec.security
    return SecurityPlan(
        vault_file=s.secrets.vault_file,
        access_log_days=s.data_retention.access_log_days,
        secrets_source=s.secrets.source,
    )
