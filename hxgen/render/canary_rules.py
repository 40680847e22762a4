"""The gate of each route's canary (hx-canary.yml): per-variant recording rules over the
rollout's window, one `hx:canary_gate:failing` series per check that fails now, and the alerts
that tell people what the rollout did. hx-control reads the gate (hxgen.control.rollout); the
thresholds live here, so `promtool test rules` can check them.

The errors are the gateway's: hx-usage counts the requests the route's weights sent to each
variant, and whether that variant failed them (contract.VARIANT_REQUESTS_TOTAL). A failed
canary request is often invisible to the client, because the route retries it on a stable
variant; the gate still sees it. The latency is the engines' (vLLM's histograms), as the SLO
rules measure it: the share of each variant's requests that miss its own latency objectives.

Checks (label `check`):
- down: the canary's engine does not answer its scrape;
- fast_burn: the canary's error ratio burns its availability budget 14.4 times too fast;
- errors_above_stable: its error ratio is above the stable variants' by more than the margin;
- latency_below_stable: its share of requests missing their latency objectives is above the
  stable variants' by more than the margin (only when the canary has latency objectives).
"""

from __future__ import annotations

from typing import Any

from .. import alerts
from ..contracts import control as control_contract
from ..contracts import usage as usage_contract
from ..plan import Plan
from ..plan.canary import CanaryPlan, CanaryVariant
from ..plan.histograms import VLLM_HISTOGRAMS, bucket_label, seconds
from . import promql
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, yaml_text

RULES_FILE = "prometheus/rules/hx-canary.yml"
ROLLOUT_PHASE = control_contract.ROLLOUT_PHASE_METRIC
CANARY_WEIGHT = control_contract.ROLLOUT_CANARY_WEIGHT_METRIC
GATE = control_contract.GATE_SERIES
ERRORS = control_contract.CANARY_ERRORS_SERIES
LATENCY_MISSES = "hx:canary_latency_misses:ratio"


def _variants(names: list[str]) -> str:
    return f'variant="{names[0]}"' if len(names) == 1 else f'variant=~"{"|".join(names)}"'


def _error_ratio(p: CanaryPlan, variants: list[str], window: str) -> str:
    """Errors over requests of the variants together; no errors yet is 0, no requests no sample."""
    route = f'route="{p.route}"'
    counter = usage_contract.VARIANT_REQUESTS_TOTAL
    failed = promql.selector(counter, route, _variants(variants), 'outcome="error"')
    sent = promql.selector(counter, route, _variants(variants))
    den = f"sum(rate({sent}[{window}]))"
    return promql.block(f"(sum(rate({failed}[{window}])) or 0 * {den})\n/\n({den} > 0)")


def _misses(v: CanaryVariant, window: str) -> list[str]:
    """The share of the variant's requests slower than each of its latency objectives."""
    out = []
    for kind, target_ms in v.latency_ms:
        histogram, match = VLLM_HISTOGRAMS[kind], f'model="{v.name}"'
        fast = promql.selector(f"{histogram}_bucket", match, f'le="{bucket_label(seconds(target_ms))}"')
        count = promql.selector(f"{histogram}_count", match)
        out.append(f"1 - sum(rate({fast}[{window}])) / (sum(rate({count}[{window}])) > 0)")
    return out


def recording_rules(p: CanaryPlan) -> list[dict[str, Any]]:
    window = f"{p.window_s}s"
    stable = [v.name for v in p.stable]
    labels = {"route": p.route}
    rules = [
        {"record": ERRORS, "expr": _error_ratio(p, [p.canary.name], window),
         "labels": {**labels, "variant": p.canary.name, "role": "canary"}},
        {"record": ERRORS, "expr": _error_ratio(p, stable, window), "labels": {**labels, "role": "stable"}},
    ]  # fmt: skip
    canary_misses = _misses(p.canary, window)
    if canary_misses:
        stable_misses = [m for v in p.stable for m in _misses(v, window)]
        for role, found in (("canary", canary_misses), ("stable", stable_misses)):
            if found:
                expr = promql.block("max(\n  " + "\n  or\n  ".join(f"({m})" for m in found) + "\n)")
                rules.append({"record": LATENCY_MISSES, "expr": expr, "labels": {**labels, "role": role}})
    return rules


def gate_rules(p: CanaryPlan) -> list[dict[str, Any]]:
    """One series per failing check, value 1; `== 1` drops the checks that hold (value 0)."""
    route = f'route="{p.route}"'
    canary_errors = f'max({ERRORS}{{{route},role="canary"}})'
    stable_errors = f'(max({ERRORS}{{{route},role="stable"}}) or vector(0))'
    checks = {
        "down": f'(max(up{{job="model-{p.canary.name}"}}) == bool 0) == 1',
        "fast_burn": f"({canary_errors} > bool {promql.number(p.fast_burn_ratio)}) == 1",
        "errors_above_stable": f"({canary_errors} - {stable_errors} > bool {promql.number(p.error_margin)}) == 1",
    }
    if p.canary.latency_ms:
        canary_misses = f'max({LATENCY_MISSES}{{{route},role="canary"}})'
        stable_misses = f'(max({LATENCY_MISSES}{{{route},role="stable"}}) or vector(0))'
        checks["latency_below_stable"] = (
            f"({canary_misses} - {stable_misses} > bool {promql.number(p.latency_margin)}) == 1"
        )
    return [
        {"record": GATE, "expr": expr, "labels": {"route": p.route, "canary": p.canary.name, "check": check}}
        for check, expr in checks.items()
    ]


def canary_alerts(plan: Plan) -> list[dict[str, Any]]:
    """For every canary route at once: the labels say which."""
    base = plan.monitoring.runbook_base_url
    return [
        alert(
            alerts.CANARY_GATE_FAILING,
            f"{GATE} and on (route) ({CANARY_WEIGHT} > 0)",
            "",
            "ticket",
            "The canary {{ $labels.canary }} of route {{ $labels.route }} fails its gate: {{ $labels.check }}",
            "hx-control rolls it back to weight 0 when the gate fails on consecutive checks "
            "(gateway.routes[].canary.failed_checks); `hxgen rollout status` shows where it stands.",
            runbook_base=base,
        ),
        alert(
            alerts.CANARY_ROLLED_BACK,
            f'{ROLLOUT_PHASE}{{phase="rolled_back"}} == 1',
            "",
            "ticket",
            "Route {{ $labels.route }}: the canary {{ $labels.canary }} {{ $labels.version }} was rolled back",
            "Its gate failed, and hx-control set its weight to 0 without a converge; the stable variants serve "
            "the route. The audit log (rollout-rolled-back) and `hxgen rollout status` name the failing checks. "
            "Fix the canary, then `hxgen rollout restart` or a new models[].version starts it again.",
            runbook_base=base,
        ),
    ]


def rule_groups(plan: Plan) -> dict[str, Any]:
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    rules: list[dict[str, Any]] = []
    for p in plan.canaries:  # one group: the gate reads the ratios of the same evaluation
        rules += recording_rules(p) + gate_rules(p)
    return {"groups": [{"name": "hx-canary", "interval": interval, "rules": rules + canary_alerts(plan)}]}


def render(plan: Plan) -> list[Artifact]:
    if not plan.canaries:
        return []
    return [Artifact(f"{RENDERED_DIR}/{RULES_FILE}", yaml_text(rule_groups(plan), plan.spec_file))]
