"""The canary rollouts of the spec's routes, resolved: which variant is under test, which are
stable (with the spec's weights, which a rollback restores), the canary's version (a new one
starts a new rollout) and the numbers its gate is rendered from (hxgen.render.canary_rules) and
hx-control carries out (hxgen.control.rollout)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..spec import Spec
from ..spec.gateway import Route

if TYPE_CHECKING:  # the Plan's module builds the canary plans from its model services
    from . import ModelService

FAST_BURN_FACTOR = 14.4
"""The SRE workbook's page threshold (2 % of a 30-day budget in an hour): a canary that burns its
availability budget this fast fails its gate."""


@dataclass(frozen=True)
class CanaryVariant:
    name: str
    """hx.yaml name: the label of hx-usage's variant counts and of the engine's metrics."""
    served_name: str
    version: str
    weight: int
    """Its weight in the spec's split (0 for the canary)."""
    engine: str
    availability_budget: float
    """1 - availability_percent / 100 of its service levels."""
    latency_ms: tuple[tuple[str, float], ...]
    """Its latency objectives: ("ttft" | "e2e", target in ms); empty when it has none or is not vLLM."""


@dataclass(frozen=True)
class CanaryPlan:
    route: str
    canary: CanaryVariant
    stable: tuple[CanaryVariant, ...]
    steps_percent: tuple[int, ...]
    step_min_s: int
    step_min_requests: int
    interval_s: int
    failed_checks: int
    window_s: int
    error_margin: float
    """As a ratio (0.02), as the rules compare ratios."""
    latency_margin: float
    promotion: str

    @property
    def fast_burn_ratio(self) -> float:
        return round(FAST_BURN_FACTOR * self.canary.availability_budget, 10)


def build_canary_plans(spec: Spec, models: tuple[ModelService, ...]) -> tuple[CanaryPlan, ...]:
    return tuple(_plan(route, models) for route in spec.gateway.routes if route.canary is not None)


def _plan(route: Route, models: tuple[ModelService, ...]) -> CanaryPlan:
    c = route.canary
    by_name = {m.name: m for m in models} | {m.served_name: m for m in models}
    canary = by_name[c.model]
    variants = [(by_name[t.model], t.weight) for t in route.split]
    return CanaryPlan(
        route=route.alias,
        canary=_variant(canary, 0),
        stable=tuple(_variant(m, w) for m, w in variants if m.name != canary.name),
        steps_percent=tuple(c.steps_percent),
        step_min_s=c.step_min_s,
        step_min_requests=c.step_min_requests,
        interval_s=c.interval_s,
        failed_checks=c.failed_checks,
        window_s=c.window_s,
        error_margin=round(c.error_margin_percent / 100, 10),
        latency_margin=round(c.latency_margin_percent / 100, 10),
        promotion=c.promotion,
    )


def _variant(m: ModelService, weight: int) -> CanaryVariant:
    slo = m.slo
    latency = (
        () if m.engine != "vllm" else tuple((k, ms) for k, ms in (("ttft", slo.ttft_ms), ("e2e", slo.e2e_ms)) if ms)
    )
    return CanaryVariant(
        name=m.name,
        served_name=m.served_name,
        version=m.version,
        weight=weight,
        engine=m.engine,
        availability_budget=round(1 - slo.availability_percent / 100, 10),
        latency_ms=latency,
    )
