"""Each model's service-level objectives as error budgets, and the alerts that guard them.

Three objectives per model, named by the `slo` label:

- `availability`: the share of API requests that do not fail on the server's side (5xx)
  reaches `availability_percent`;
- `ttft` / `e2e`: the share of requests faster than the latency target reaches the target's
  percentile (p95 within 1500 ms means 5 % of requests may be slower).

For each, `hx:slo_errors:ratio_rate<window>` records the share of bad requests over the
windows the alerts need. The alerts are the multiwindow, multi-burn-rate alerts of Google's
SRE workbook (chapter 5): page when 2 % of the budget went in an hour or 5 % in six hours,
open a ticket when 10 % went in a day or in three days. A long window says the burn is
significant; its short companion (1/12 as long) says it is still going on, so the alert
resolves soon after the problem does.

Latency objectives are exact because the targets are histogram bucket bounds (vLLM takes
them as custom buckets, see plan.histograms). TGI's bounds are fixed, so a TGI model's latency
objective is watched by its quantile estimate instead, without a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import alerts
from ..plan import ModelService, Plan
from ..plan.histograms import VLLM_HISTOGRAMS, LatencyKind, bucket_label, seconds
from . import promql
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, yaml_text
from .recording_rules import server_errors

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
PERIOD_WINDOW = "5m"  # the period's error share is the average of this window's ratios


@dataclass(frozen=True)
class BurnAlert:
    """Fire when `budget_share` of the period's budget went within `long` (and `short` agrees)."""

    severity: str
    long: str
    short: str
    budget_share: float
    long_hours: float


# SRE workbook, table 5-8; with a 30-day period the factors are 14.4, 6, 3 and 1.
BURN_ALERTS = (
    BurnAlert("page", "1h", "5m", 0.02, 1),
    BurnAlert("page", "6h", "30m", 0.05, 6),
    BurnAlert("ticket", "1d", "2h", 0.10, 24),
    BurnAlert("ticket", "3d", "6h", 0.10, 72),
)
LATENCY_NAMES: dict[LatencyKind, str] = {"ttft": "time to first token", "e2e": "end-to-end latency"}


@dataclass(frozen=True)
class Objective:
    model: str
    slo: str
    target: float
    """Share of good requests the objective promises (0.995)."""
    window_days: int
    description: str

    @property
    def budget(self) -> float:
        return round(1 - self.target, 10)

    @property
    def labels(self) -> str:
        return f'model="{self.model}",slo="{self.slo}"'


def objectives(m: ModelService) -> list[Objective]:
    slo = m.slo
    found = [
        Objective(
            m.name,
            "availability",
            slo.availability_percent / 100,
            slo.window_days,
            f"{slo.availability_percent:g} % of requests succeed",
        )
    ]
    for kind, target_ms, percentile in (
        ("ttft", slo.ttft_ms, slo.ttft_percentile),
        ("e2e", slo.e2e_ms, slo.e2e_percentile),
    ):
        if target_ms is not None and m.engine == "vllm":
            description = f"{LATENCY_NAMES[kind]} p{percentile} within {target_ms:g} ms"
            found.append(Objective(m.name, kind, percentile / 100, slo.window_days, description))
    return found


def _slow_share(m: ModelService, kind: LatencyKind, target_ms: float, window: str) -> str:
    """Share of the model's requests slower than the target: 1 - fast/all, from the bucket at
    the target (always a bound on vLLM, see plan.histograms)."""
    histogram, match = VLLM_HISTOGRAMS[kind], f'model="{m.name}"'
    fast = promql.rate(
        promql.selector(f"{histogram}_bucket", match, f'le="{bucket_label(seconds(target_ms))}"'), window
    )
    count = promql.rate(promql.selector(f"{histogram}_count", match), window)
    return promql.block(f"1 - (\n  {fast}\n  /\n  ({count} > 0)\n)")


def sli_rules(plan: Plan) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for window in WINDOWS:
        rules.append(
            {
                "record": f"hx:slo_errors:ratio_rate{window}",
                "expr": promql.union(server_errors(window)),
                "labels": {"slo": "availability"},
            }
        )
    for m in plan.models_on("vllm"):
        for kind, target_ms in (("ttft", m.slo.ttft_ms), ("e2e", m.slo.e2e_ms)):
            if target_ms is None:
                continue
            for window in WINDOWS:
                rules.append(
                    {
                        "record": f"hx:slo_errors:ratio_rate{window}",
                        "expr": _slow_share(m, kind, target_ms, window),
                        "labels": {"model": m.name, "slo": kind},
                    }
                )
    return rules


def budget_rules(all_objectives: list[Objective]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for o in all_objectives:
        labels = {"model": o.model, "slo": o.slo}
        rules.append(
            {"record": "hx:slo_objective:ratio", "expr": f"vector({promql.number(o.target)})", "labels": labels}
        )
        rules.append(
            {"record": "hx:slo_error_budget:ratio", "expr": f"vector({promql.number(o.budget)})", "labels": labels}
        )
        rules.append(
            {
                "record": "hx:slo_period_errors:ratio",
                "expr": f"avg_over_time(hx:slo_errors:ratio_rate{PERIOD_WINDOW}{{{o.labels}}}[{o.window_days}d])",
                "labels": labels,
            }
        )
    per_budget = "on (model, slo) hx:slo_error_budget:ratio"
    rules += [
        {"record": "hx:slo_current_burn_rate:ratio", "expr": f"hx:slo_errors:ratio_rate5m / {per_budget}"},
        {"record": "hx:slo_period_burn_rate:ratio", "expr": f"hx:slo_period_errors:ratio / {per_budget}"},
        {"record": "hx:slo_period_error_budget_remaining:ratio", "expr": "1 - hx:slo_period_burn_rate:ratio"},
    ]
    return rules


def _burn_condition(o: Objective, alert: BurnAlert) -> str:
    factor = alert.budget_share * o.window_days * 24 / alert.long_hours
    threshold = f"({promql.number(factor)} * {promql.number(o.budget)})"
    return (
        f"hx:slo_errors:ratio_rate{alert.long}{{{o.labels}}} > {threshold}\n"
        f"  and\n"
        f"  hx:slo_errors:ratio_rate{alert.short}{{{o.labels}}} > {threshold}"
    )


def burn_alerts(o: Objective, runbook_base: str) -> list[dict[str, Any]]:
    rules = []
    for severity in ("page", "ticket"):
        chosen = [a for a in BURN_ALERTS if a.severity == severity]
        windows = " or ".join(f"{a.long}/{a.short}" for a in chosen)
        share = " or ".join(f"{round(a.budget_share * 100)} % in {a.long}" for a in chosen)
        rules.append(
            alert(
                alerts.ERROR_BUDGET_BURN,
                promql.union(tuple(_burn_condition(o, a) for a in chosen)),
                "",
                severity,
                f"{o.model} is spending the {o.window_days}-day error budget of its {o.slo} objective "
                f"({o.description}) too fast",
                f"Fires when {share} of the budget is spent (windows {windows}). "
                "{{ $value | humanizePercentage }} of requests were bad over the long window; "
                f"the budget is {promql.number(o.budget * 100)} %.",
                runbook_base=runbook_base,
                model=o.model,
                slo=o.slo,
            )
        )
    return rules


def model_alerts(m: ModelService, runbook_base: str) -> list[dict[str, Any]]:
    """Objectives that are thresholds rather than budgets."""
    rules: list[dict[str, Any]] = []
    slo, match = m.slo, f'model="{m.name}"'
    if slo.throughput_rps is not None:
        rules.append(
            alert(
                "HxModelThroughputBelowTarget",
                # Demand is there when the queue never emptied in the last 10 minutes.
                f"hx:model_requests:rate5m{{{match}}} < {promql.number(slo.throughput_rps)}\n"
                f"and\nmin_over_time(hx:model_queue_depth{{{match}}}[10m]) > 0",
                "10m",
                "ticket",
                f"{m.name} serves fewer than {slo.throughput_rps:g} requests/s while requests queue",
                "Finishing {{ $value | humanize }} requests/s with a queue that never emptied.",
                runbook_base=runbook_base,
                model=m.name,
            )
        )
    rules.append(
        alert(
            "HxModelErrorRateHigh",
            f"hx:model_request_errors:ratio_rate5m{{{match}}} > {promql.number(slo.error_rate_percent / 100)}",
            "10m",
            "ticket",
            f"{m.name} fails more than {slo.error_rate_percent:g} % of requests",
            "{{ $value | humanizePercentage }} of API requests failed (5xx) over 5 minutes.",
            runbook_base=runbook_base,
            model=m.name,
        )
    )
    if m.engine == "tgi" and slo.e2e_ms is not None:
        q = slo.e2e_percentile / 100
        estimate = promql.quantile(q, promql.selector("tgi_request_duration_bucket", match), "5m")
        rules.append(
            alert(
                "HxModelLatencyAboveTarget",
                f"{estimate} > {promql.number(seconds(slo.e2e_ms))}",
                "10m",
                "ticket",
                f"{m.name}: end-to-end p{slo.e2e_percentile} above {slo.e2e_ms:g} ms",
                f"Estimated p{slo.e2e_percentile} is {{{{ $value | humanizeDuration }}}}.",
                runbook_base=runbook_base,
                model=m.name,
                slo="e2e",
            )
        )
    return rules


def rule_groups(plan: Plan) -> dict[str, Any]:
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    all_objectives = [o for m in plan.models for o in objectives(m)]
    base = plan.monitoring.runbook_base_url
    alerts = [rule for o in all_objectives for rule in burn_alerts(o, base)]
    alerts += [rule for m in plan.models for rule in model_alerts(m, base)]
    # One group: its rules run in order, so each alert reads the ratios of the same evaluation
    # (separate groups run concurrently and may read the previous round's).
    rules = sli_rules(plan) + budget_rules(all_objectives) + alerts
    return {"groups": [{"name": "hx-slo", "interval": interval, "rules": rules}]}


def render(plan: Plan) -> list[Artifact]:
    if not plan.models:
        return []
    return [Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-slo.yml", yaml_text(rule_groups(plan), plan.spec_file))]
