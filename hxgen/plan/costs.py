"""The cost model of the host, as numbers: what the Prometheus cost rules (render.cost_rules)
compute live and what the reports (hxgen.report) compute for a period. One place, so a recording
rule and a report can never price the same hour differently.

A GPU's cost (hourly price, or purchase price over its amortisation years) is shared among the
models on it in proportion to the GPU memory each may use. Energy is what DCGM reports for each
GPU, shared the same way, plus the host's own draw from the spec. A model on a CPU host costs
only its share of the host's draw, split evenly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from .business import BusinessPlan, ReferencePricePlan

if TYPE_CHECKING:
    from . import ModelService, Plan


def gpu_shares(plan: Plan) -> dict[str, dict[int, float]]:
    """model -> {gpu index: share of that GPU}; the shares of one GPU add up to 1."""
    claims: dict[int, dict[str, float]] = defaultdict(dict)
    for m in plan.models:
        for g in m.gpus:
            claims[g][m.name] = m.gpu_memory_utilization
    shares: dict[str, dict[int, float]] = defaultdict(dict)
    for g, by_model in claims.items():
        total = sum(by_model.values())
        for name, claim in by_model.items():
            shares[name][g] = claim / total
    return shares


def kwh_cost(watts: float, business: BusinessPlan) -> float:
    """What drawing `watts` for one hour costs (0 without a power price)."""
    return watts / 1000 * business.power.price_per_kwh if business.power else 0.0


def model_fixed_per_hour(plan: Plan, business: BusinessPlan, shares: dict[int, float]) -> float:
    """A model's hourly cost before the GPUs' measured energy: its share of the GPUs' price, or
    on a CPU host its even share of the host's draw."""
    fixed = business.per_gpu_hour * sum(shares.values())
    power = business.power
    if power is not None and not shares and power.host_watts:
        fixed += kwh_cost(power.host_watts / len(plan.models), business)
    return fixed


def host_extra_per_hour(plan: Plan, business: BusinessPlan) -> float:
    """What the host costs beyond its models' shares: GPUs no model uses still cost their price,
    and on a GPU host the host's own draw is nobody's share."""
    used = {g for m in plan.models for g in m.gpus}
    idle = [g for _, g in plan.gpus if g.index not in used]
    extra = business.per_gpu_hour * len(idle)
    shares = gpu_shares(plan)
    if business.power and business.power.host_watts and shares:
        extra += kwh_cost(business.power.host_watts, business)
    return extra


def compared_models(plan: Plan, business: BusinessPlan) -> list[tuple[ReferencePricePlan, ModelService]]:
    """(reference price, model) for every model a reference price is compared with, by its
    hx.yaml or its served name; names that match no model are skipped."""
    pairs = []
    for ref in business.reference_prices:
        for name in ref.compare_with:
            m = next((m for m in plan.models if name in (m.name, m.served_name)), None)
            if m is not None:
                pairs.append((ref, m))
    return pairs


def reference_cost(ref: ReferencePricePlan, prompt_tokens: float, completion_tokens: float) -> float:
    """What the tokens would have cost at the reference's prices per million."""
    return (prompt_tokens * ref.input_per_million_tokens + completion_tokens * ref.output_per_million_tokens) / 1e6
