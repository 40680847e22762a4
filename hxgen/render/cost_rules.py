"""What the host and each model cost, per hour and per 1k tokens, and what the same tokens
would have cost at the spec's reference API prices, as Prometheus recording rules. The cost
model itself (GPU shares, energy, the host's own draw) is plan.costs, which the reports share.

With usage accounting, a model's cost is shared among the tenants by tokens: each tenant pays
the model's cost per hour times its share of the prompt plus completion tokens the gateway
counted for that model. That is the model's cost per 1k gateway tokens times the tenant's
tokens, and the tenants' shares add up to the model's whole cost (idle capacity included). The
gateway's count, not the engine's, because it names the tenant: answers from the response
cache are charged like the others (the tenant got them), and the probe's own calls show as the
probe tenant.
"""

from __future__ import annotations

from typing import Any

from ..plan import Plan
from ..plan.business import BusinessPlan
from ..plan.costs import compared_models, gpu_shares, host_extra_per_hour, model_fixed_per_hour
from . import promql, usage_rules
from .common import RENDERED_DIR, Artifact, yaml_text

# Prompt plus generated tokens per second; either alone where the other is not reported
# (an embedding model generates nothing).
TOKENS = '{__name__=~"hx:model_(prompt|generation)_tokens:rate5m"}'
TENANT_TOKEN_SERIES = "hx:tenant_model_(prompt|completion)_tokens:rate5m"
SAVINGS = "hx:model_savings:per_hour"
TENANT_MODEL_COST = "hx:tenant_model_cost:per_hour"
TENANT_MODEL_REFERENCE_COST = "hx:tenant_model_reference_cost:per_hour"


def _gpu_watts(shares: dict[int, float]) -> str:
    """Watts DCGM reports for this share of these GPUs; 0 where DCGM reports nothing."""
    terms = [f'sum(DCGM_FI_DEV_POWER_USAGE{{gpu="{g}"}}) * {promql.number(s)}' for g, s in sorted(shares.items())]
    return f"(({' + '.join(terms)}) or vector(0))"


def _model_cost(plan: Plan, business: BusinessPlan, shares: dict[int, float]) -> str:
    fixed = model_fixed_per_hour(plan, business, shares)
    power = business.power
    if power is None or not shares:
        return f"vector({promql.number(fixed)})"
    return f"vector({promql.number(fixed)}) + {_gpu_watts(shares)} / 1000 * {promql.number(power.price_per_kwh)}"


def cost_rules(plan: Plan, business: BusinessPlan) -> list[dict[str, Any]]:
    shares = gpu_shares(plan)
    currency = {"currency": business.currency}
    rules: list[dict[str, Any]] = [
        {
            "record": "hx:model_cost:per_hour",
            "expr": _model_cost(plan, business, shares.get(m.name, {})),
            "labels": {"model": m.name, **currency},
        }
        for m in plan.models
    ]
    # Beyond the models' shares: GPUs no model uses, and the host's own draw on a GPU host.
    extra = host_extra_per_hour(plan, business)
    host = "sum(hx:model_cost:per_hour)" + (f" + {promql.number(extra)}" if extra else "")
    rules.append({"record": "hx:host_cost:per_hour", "expr": host, "labels": currency})
    rules.append(
        {
            "record": "hx:model_cost:per_1k_tokens",
            "expr": promql.block(
                f"hx:model_cost:per_hour\n/ on (model) group_left ()\n(sum by (model) ({TOKENS}) * 3600 / 1000 > 0)"
            ),
        }
    )
    rules += savings_rules(plan, business)
    if plan.usage is not None:
        rules += tenant_cost_rules(plan, business)
    return rules


def savings_rules(plan: Plan, business: BusinessPlan) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for ref, m in compared_models(plan, business):
        match = f'model="{m.name}"'
        prompt = f"hx:model_prompt_tokens:rate5m{{{match}}}"
        generated = f"hx:model_generation_tokens:rate5m{{{match}}}"
        per_hour = (
            f"(\n  {prompt} * {promql.number(ref.input_per_million_tokens)}\n"
            f"  + on (model) ({generated} * {promql.number(ref.output_per_million_tokens)} or {prompt} * 0)\n"
            ") * 3600 / 1e6"
        )
        labels = {"model": m.name, "reference": ref.name, "currency": business.currency}
        rules.append({"record": "hx:model_reference_cost:per_hour", "expr": promql.block(per_hour), "labels": labels})
    if rules:
        rules.append(
            {
                "record": SAVINGS,
                "expr": "hx:model_reference_cost:per_hour - on (model) group_left hx:model_cost:per_hour",
            }
        )
    return rules


def tenant_cost_rules(plan: Plan, business: BusinessPlan) -> list[dict[str, Any]]:
    """Each tenant's share of each model's cost, by tokens (see the module's docstring), and what
    the tenant's tokens would have cost at the reference prices."""
    tokens = f'{{__name__=~"{TENANT_TOKEN_SERIES}"}}'
    share = (
        f"sum by (tenant, model) ({tokens})\n/ on (model) group_left ()\n(sum by (model) ({tokens}) > 0)\n"
        "* on (model) group_left (currency)\nhx:model_cost:per_hour"
    )
    rules: list[dict[str, Any]] = [
        {"record": TENANT_MODEL_COST, "expr": promql.block(share)},
        {"record": "hx:tenant_cost:per_hour", "expr": f"sum by (tenant, currency) ({TENANT_MODEL_COST})"},
    ]
    compared = compared_models(plan, business)
    for ref in business.reference_prices:
        models = [m.name for r, m in compared if r is ref]
        if not models:
            continue
        match = f'model="{models[0]}"' if len(models) == 1 else f'model=~"{"|".join(models)}"'
        prompt = f"{usage_rules.TENANT_MODEL_PROMPT_TOKENS}{{{match}}}"
        completion = f"{usage_rules.TENANT_MODEL_COMPLETION_TOKENS}{{{match}}}"
        per_hour = (
            f"(\n  {prompt} * {promql.number(ref.input_per_million_tokens)}\n"
            f"  + on (tenant, model) ({completion} * {promql.number(ref.output_per_million_tokens)}"
            f" or {prompt} * 0)\n) * 3600 / 1e6"
        )
        labels = {"reference": ref.name, "currency": business.currency}
        rules.append({"record": TENANT_MODEL_REFERENCE_COST, "expr": promql.block(per_hour), "labels": labels})
    if compared:
        rules.append(
            {
                "record": "hx:tenant_savings:per_hour",
                "expr": promql.block(
                    f"sum by (tenant, reference, currency) (\n  {TENANT_MODEL_REFERENCE_COST}\n"
                    f"  - on (tenant, model) group_left\n  {TENANT_MODEL_COST}\n)"
                ),
            }
        )
    return rules


def rule_groups(plan: Plan, business: BusinessPlan) -> dict[str, Any]:
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    return {"groups": [{"name": "hx-cost", "interval": interval, "rules": cost_rules(plan, business)}]}


def render(plan: Plan) -> list[Artifact]:
    business = plan.business
    if business is None or not plan.models:
        return []
    return [
        Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-cost.yml", yaml_text(rule_groups(plan, business), plan.spec_file))
    ]
