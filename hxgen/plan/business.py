"""What the host costs and what the same tokens would cost elsewhere, with the GPU price
resolved to one hourly figure."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec


@dataclass(frozen=True)
class PowerPlan:
    price_per_kwh: float
    host_watts: float | None


@dataclass(frozen=True)
class ReferencePricePlan:
    name: str
    input_per_million_tokens: float
    output_per_million_tokens: float
    compare_with: tuple[str, ...]


@dataclass(frozen=True)
class BusinessPlan:
    currency: str
    per_gpu_hour: float
    """An hourly price, or the purchase price over its amortisation years."""
    power: PowerPlan | None
    reference_prices: tuple[ReferencePricePlan, ...]


def build_business_plan(spec: Spec) -> BusinessPlan | None:
    b = spec.business
    if b is None:
        return None
    return BusinessPlan(
        currency=b.currency,
        per_gpu_hour=b.gpu_cost.per_gpu_hour,
        power=PowerPlan(b.power.price_per_kwh, b.power.host_watts) if b.power else None,
        reference_prices=tuple(
            ReferencePricePlan(r.name, r.input_per_million_tokens, r.output_per_million_tokens, tuple(r.compare_with))
            for r in b.reference_prices
        ),
    )
