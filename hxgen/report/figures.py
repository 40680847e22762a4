"""From what the sources returned to what the report shows: SLO attainment against each
model's objectives, usage and cost per tenant and model, savings against the reference prices.

Costs follow the host's cost model (plan.costs, shared with the Prometheus cost rules): each
model costs its share of its GPUs for every hour of the period, busy or idle, plus its share of
the GPUs' measured energy; a tenant carries each model's cost in proportion to the tokens it
used of that model. What no tenant's tokens carry (idle models and GPUs, the host's own draw)
is shown as not attributed, so the tenants' costs and it add up to the host's.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from ..plan import Plan
from ..plan.business import BusinessPlan
from ..plan.costs import (
    compared_models,
    gpu_shares,
    host_extra_per_hour,
    kwh_cost,
    model_fixed_per_hour,
    reference_cost,
)
from ..render.slo_rules import objectives
from .collect import PERCENTILES
from .model import LatencyRow, Measured, ModelUsage, Report, Savings, SloRow, Usage, UsageGroup
from .period import Period


def build_report(plan: Plan, period: Period, groups: list[UsageGroup], measured: Measured, now: dt.datetime) -> Report:
    business = plan.business
    costs = model_costs(plan, business, period, measured) if business else {}
    models = model_usage(plan, groups, costs, measured)
    tenants = tenant_usage(groups, costs)
    host_cost = sum(costs.values()) + (host_extra_per_hour(plan, business) * period.hours if business else 0.0)
    return Report(
        period=period,
        host=plan.hosts[0].name,
        spec_file=plan.spec_file,
        currency=business.currency if business else None,
        generated_at=now,
        slos=slo_rows(plan, measured),
        latencies=latency_rows(plan, measured),
        models=models,
        tenants=tenants,
        total=_sum("all", groups, host_cost),
        host_cost=host_cost,
        unattributed_cost=host_cost - sum(t.cost for t in tenants),
        savings=savings(plan, business, models) if business else [],
        daily_tokens=daily_tokens(period, groups),
        forecasts=measured.forecasts,
        alerts=measured.alerts,
        notes=notes(plan, groups, measured),
    )


def model_costs(plan: Plan, business: BusinessPlan, period: Period, measured: Measured) -> dict[str, float]:
    """model -> what it cost in the period: its fixed hourly share for every hour, and its share
    of its GPUs' average measured draw."""
    shares = gpu_shares(plan)
    costs = {}
    for m in plan.models:
        own = shares.get(m.name, {})
        watts = sum(measured.gpu_watts.get(g, 0.0) * share for g, share in own.items())
        costs[m.name] = (model_fixed_per_hour(plan, business, own) + kwh_cost(watts, business)) * period.hours
    return costs


def _sum(name: str, groups: Iterable[UsageGroup], cost: float) -> Usage:
    groups = list(groups)
    return Usage(
        name=name,
        requests=sum(g.requests for g in groups),
        server_errors=sum(g.server_errors for g in groups),
        prompt_tokens=sum(g.prompt_tokens for g in groups),
        completion_tokens=sum(g.completion_tokens for g in groups),
        cache_hits=sum(g.cache_hits for g in groups),
        cache_lookups=sum(g.cache_lookups for g in groups),
        rating_sum=sum(g.rating_sum for g in groups),
        ratings=sum(g.ratings for g in groups),
        cost=cost,
    )


def model_usage(plan: Plan, groups: list[UsageGroup], costs: dict[str, float], measured: Measured) -> list[ModelUsage]:
    """Every model of the spec (an idle one still costs), then any other name the rows carry."""
    names = [m.name for m in plan.models] + sorted({g.model for g in groups} - {m.name for m in plan.models})
    rows = []
    for name in names:
        total = _sum(name, (g for g in groups if g.model == name), costs.get(name, 0.0))
        rows.append(ModelUsage(**vars(total), prefix_cache_ratio=measured.prefix_cache.get(name)))
    return rows


def tenant_usage(groups: list[UsageGroup], costs: dict[str, float]) -> list[Usage]:
    tokens_of_model: dict[str, int] = defaultdict(int)
    for g in groups:
        tokens_of_model[g.model] += g.prompt_tokens + g.completion_tokens
    rows = []
    for tenant in sorted({g.tenant for g in groups}):
        own = [g for g in groups if g.tenant == tenant]
        cost = sum(
            costs.get(g.model, 0.0) * (g.prompt_tokens + g.completion_tokens) / tokens_of_model[g.model]
            for g in own
            if tokens_of_model[g.model]
        )
        rows.append(_sum(tenant, own, cost))
    return sorted(rows, key=lambda u: (-u.cost, -u.tokens, u.name))


def savings(plan: Plan, business: BusinessPlan, models: list[ModelUsage]) -> list[Savings]:
    by_name = {m.name: m for m in models}
    grouped: dict[str, list] = defaultdict(list)
    for ref, m in compared_models(plan, business):
        grouped[ref.name].append((ref, by_name[m.name]))
    rows = []
    for name, pairs in grouped.items():
        rows.append(
            Savings(
                reference=name,
                models=tuple(u.name for _, u in pairs),
                reference_cost=sum(reference_cost(ref, u.prompt_tokens, u.completion_tokens) for ref, u in pairs),
                own_cost=sum(u.cost for _, u in pairs),
            )
        )
    return rows


def slo_rows(plan: Plan, measured: Measured) -> list[SloRow]:
    rows = []
    for m in plan.models:
        for o in objectives(m):
            errors = measured.slo_errors.get((o.model, o.slo))
            rows.append(
                SloRow(
                    model=o.model,
                    slo=o.slo,
                    description=o.description,
                    objective=o.target,
                    attainment=None if errors is None else max(0.0, 1 - errors),
                    budget_left=measured.budget_left.get((o.model, o.slo)),
                )
            )
    return rows


def latency_rows(plan: Plan, measured: Measured) -> list[LatencyRow]:
    rows = []
    for m in plan.models:
        for kind, target, percentile in (
            ("ttft", m.slo.ttft_ms, m.slo.ttft_percentile),
            ("e2e", m.slo.e2e_ms, m.slo.e2e_percentile),
        ):
            p50, p95, p99 = (measured.latency_s.get((m.name, kind, p)) for p in PERCENTILES)
            if target is None and p50 is None:
                continue
            rows.append(LatencyRow(m.name, kind, p50, p95, p99, target, percentile))
    return rows


def daily_tokens(period: Period, groups: list[UsageGroup]) -> dict[str, list[int]]:
    days = {d: i for i, d in enumerate(period.days)}
    per_tenant: dict[str, list[int]] = {}
    for g in groups:
        if g.day in days:
            per_tenant.setdefault(g.tenant, [0] * len(days))[days[g.day]] += g.prompt_tokens + g.completion_tokens
    return dict(sorted(per_tenant.items()))


def notes(plan: Plan, groups: list[UsageGroup], measured: Measured) -> list[str]:
    found = []
    if not groups:
        found.append("hx_usage.requests holds no request in this period.")
    if plan.models and not measured.slo_errors:
        found.append("Prometheus holds no SLO ratios for this period (hx:slo_errors:ratio_rate5m): attainment unknown.")
    b = plan.business
    if b and b.power and gpu_shares(plan) and not measured.gpu_watts:
        found.append("No GPU power readings (DCGM) in this period: the GPUs' energy is not in the costs.")
    return found
