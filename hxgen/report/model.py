"""The numbers of a report, as plain dataclasses: what the sources returned (the raw groups and
series), and what the report shows (computed by hxgen.report.figures). The HTML, the plots and
the tests all read these, so a number is computed once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .period import Period


# --- what the sources returned ----------------------------------------------------------------
@dataclass(frozen=True)
class UsageGroup:
    """One (day, tenant, model) aggregate of hx_usage.requests."""

    day: dt.date
    tenant: str
    model: str
    requests: int
    server_errors: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    cache_lookups: int
    """Requests that asked the gateway's response cache (any cache status)."""
    rating_sum: int
    ratings: int


@dataclass(frozen=True)
class Forecast:
    series: str
    member: str
    """The model, or the resource (GPU, mount point) the series is about."""
    horizon: str
    forecast: float
    lower: float | None
    upper: float | None
    exhaustion_s: float | None
    """Seconds from the period's end until the forecast reaches the limit; None: not within the horizons."""


@dataclass(frozen=True)
class FiredAlert:
    name: str
    severity: str
    subject: str
    """The labels that tell this alert apart from others of its name (model=..., slo=...)."""
    first_seen: dt.datetime
    last_seen: dt.datetime
    firing_s: float
    """How long it was seen firing in the period (sampled at the query's step)."""


@dataclass(frozen=True)
class Measured:
    """What Prometheus says about the period."""

    slo_errors: dict[tuple[str, str], float] = field(default_factory=dict)
    """(model, slo) -> share of bad requests over the period."""
    budget_left: dict[tuple[str, str], float] = field(default_factory=dict)
    """(model, slo) -> error budget of the SLO's own window left at the period's end (1 = all)."""
    latency_s: dict[tuple[str, str, int], float] = field(default_factory=dict)
    """(model, 'ttft' | 'e2e', percentile) -> seconds, over the whole period."""
    prefix_cache: dict[str, float] = field(default_factory=dict)
    """model -> the engine's prefix cache hit ratio, averaged over the period."""
    gpu_watts: dict[int, float] = field(default_factory=dict)
    """GPU index -> average draw over the period (DCGM)."""
    forecasts: list[Forecast] | None = None
    """None: hx-analytics exported nothing at the period's end."""
    alerts: list[FiredAlert] = field(default_factory=list)


# --- what the report shows ----------------------------------------------------------------------
@dataclass(frozen=True)
class SloRow:
    model: str
    slo: str
    description: str
    objective: float
    """Share of good requests promised (0.995)."""
    attainment: float | None
    """Share of good requests in the period; None: no data."""
    budget_left: float | None
    """Of the SLO's rolling window, at the period's end."""

    @property
    def met(self) -> bool | None:
        return None if self.attainment is None else self.attainment >= self.objective - 1e-12

    @property
    def period_budget_used(self) -> float | None:
        """Bad requests in the period as a share of what the objective allows."""
        if self.attainment is None:
            return None
        return (1 - self.attainment) / (1 - self.objective) if self.objective < 1 else None


@dataclass(frozen=True)
class LatencyRow:
    model: str
    kind: str
    """ttft | e2e"""
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    target_ms: float | None
    target_percentile: int | None

    @property
    def at_target_s(self) -> float | None:
        """The measured latency at the target's percentile."""
        return {50: self.p50_s, 95: self.p95_s, 99: self.p99_s}.get(self.target_percentile or 0)

    @property
    def met(self) -> bool | None:
        at = self.at_target_s
        if at is None or self.target_ms is None:
            return None
        return at * 1000 <= self.target_ms


@dataclass(frozen=True)
class Usage:
    """Requests, tokens, cost and feedback of one tenant or one model."""

    name: str
    requests: int
    server_errors: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    cache_lookups: int
    rating_sum: int
    ratings: int
    cost: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_per_1k_tokens(self) -> float | None:
        return self.cost / self.tokens * 1000 if self.tokens else None

    @property
    def cache_hit_ratio(self) -> float | None:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    @property
    def mean_rating(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None


@dataclass(frozen=True)
class ModelUsage(Usage):
    """cost: the model's whole cost in the period, busy or idle."""

    prefix_cache_ratio: float | None = None


@dataclass(frozen=True)
class Savings:
    reference: str
    models: tuple[str, ...]
    reference_cost: float
    """What the compared models' tokens would have cost at the reference's prices."""
    own_cost: float
    """What those models cost on the host in the period."""

    @property
    def savings(self) -> float:
        return self.reference_cost - self.own_cost

    @property
    def roi(self) -> float | None:
        """Savings per unit of the host's own cost."""
        return self.savings / self.own_cost if self.own_cost else None


@dataclass(frozen=True)
class Report:
    period: Period
    host: str
    spec_file: str
    currency: str | None
    """None: the spec prices nothing (no business section): costs are not shown."""
    generated_at: dt.datetime
    slos: list[SloRow]
    latencies: list[LatencyRow]
    models: list[ModelUsage]
    tenants: list[Usage]
    total: Usage
    """Every request of the period; its cost is the host's."""
    host_cost: float
    """Everything the host cost in the period: models' shares plus idle GPUs and the host's own draw."""
    unattributed_cost: float
    """Of host_cost, what no tenant's tokens carry (idle models, idle GPUs, the host's draw)."""
    savings: list[Savings]
    daily_tokens: dict[str, list[int]]
    """tenant -> tokens per day of the period, in order."""
    forecasts: list[Forecast] | None
    alerts: list[FiredAlert]
    notes: list[str] = field(default_factory=list)
    """What the reader should know about missing data."""

    @property
    def availability(self) -> float | None:
        """Good requests over all requests of every model (from the usage rows)."""
        if not self.total.requests:
            return None
        return 1 - self.total.server_errors / self.total.requests

    @property
    def slos_met(self) -> tuple[int, int]:
        known = [s for s in self.slos if s.met is not None]
        return sum(1 for s in known if s.met), len(known)
