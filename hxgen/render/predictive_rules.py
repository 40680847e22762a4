"""Predictive alerts on what hx-analytics exports (hxgen.analytics.exporter):

- a resource whose forecast reaches its limit within the series' longest horizon;
- a model whose forecast demand exceeds the throughput its SLO declares;
- a series that stays anomalous: the detector marks an onset with a high score and the rows
  after it with half that score, so "more than half of the last `sustained_minutes` scored at
  least 0.4" means a signal of about seven robust deviations that did not go away;
- the service itself not completing cycles (its forecasts would go stale unnoticed).
"""

from __future__ import annotations

from typing import Any

from .. import alerts
from ..contracts.analytics import STALE_CYCLES, horizon_label
from ..plan import Plan
from ..plan.analytics import AnalyticsPlan, WatchedSeries
from . import promql
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, yaml_text

SUSTAINED_SCORE = 0.4


def _alert(
    plan: Plan, name: str, expr: str, for_: str, summary: str, description: str, **labels: str
) -> dict[str, Any]:
    """Every predictive alert is a ticket: a forecast gives time to act, not a reason to wake anyone."""
    return alert(
        name, expr, for_, "ticket", summary, description, runbook_base=plan.monitoring.runbook_base_url, **labels
    )


def exhaustion(plan: Plan, s: WatchedSeries) -> dict[str, Any]:
    horizon = max(s.horizons_minutes)
    subject = "{{ $labels.model }}{{ $labels.resource }}"
    return _alert(
        plan,
        alerts.CAPACITY_EXHAUSTION_FORECAST,
        f'hx_capacity_exhaustion_seconds{{series="{s.name}"}} < {horizon * 60}',
        "10m",
        f"{s.name} of {subject} will reach its limit in {{{{ $value | humanizeDuration }}}}",
        f"The forecast of {s.name} for {subject} reaches {s.limit:g} within {horizon_label(horizon)}, the longest "
        "horizon it is forecast for. See hx_forecast for the path and its prediction interval.",
        series=s.name,
    )


def demand(plan: Plan, s: WatchedSeries) -> list[dict[str, Any]]:
    found = []
    for m in plan.models:
        rps = m.slo.throughput_rps
        if rps is None:
            continue
        found.append(
            _alert(
                plan,
                alerts.DEMAND_FORECAST_ABOVE_THROUGHPUT,
                f'max without (horizon) (hx_forecast{{series="{s.name}",model="{m.name}",bound="forecast"}})'
                f" > {promql.number(rps)}",
                "15m",
                f"Demand on {m.name} is forecast above its {rps:g} requests/s",
                f"Within {horizon_label(max(s.horizons_minutes))}, {m.name} is forecast to receive "
                f"{{{{ $value | humanize }}}} requests/s, more than the {rps:g} its SLO says it serves. "
                "Add replicas or move traffic before the queue grows.",
                model=m.name,
            )
        )
    return found


def sustained_anomaly(plan: Plan, a: AnalyticsPlan) -> dict[str, Any]:
    window = f"{a.sustained_minutes}m"
    return _alert(
        plan,
        alerts.ANOMALY_SUSTAINED,
        f"quantile_over_time(0.5, hx_anomaly_score[{window}]) >= {SUSTAINED_SCORE:g}",
        "",
        "{{ $labels.series }} of {{ $labels.model }}{{ $labels.resource }} has been anomalous for " + window,
        "More than half of the last "
        f"{window} scored {SUSTAINED_SCORE:g} or more: a change well outside this series' usual range "
        "that has not gone away. Compare hx_forecast with the series itself.",
    )


def service_stale(plan: Plan, a: AnalyticsPlan) -> dict[str, Any]:
    stale_s = STALE_CYCLES * a.interval_s
    return _alert(
        plan,
        alerts.ANALYTICS_STALE,
        f"time() - hx_analytics_last_success_timestamp_seconds > {max(stale_s, 300)}",
        "5m",
        "hx-analytics has not completed a cycle for {{ $value | humanizeDuration }}",
        "Forecasts and anomaly scores are stale or withdrawn, so predictive alerts are blind. "
        "hx_analytics_prometheus_up says whether Prometheus answers; `journalctl -u hx-analytics` says why.",
    )


def rule_groups(plan: Plan, a: AnalyticsPlan) -> dict[str, Any]:
    rules = [exhaustion(plan, s) for s in a.series if s.limit is not None]
    for s in a.series:
        if s.metric == "request_rate":
            rules += demand(plan, s)
    rules += [sustained_anomaly(plan, a), service_stale(plan, a)]
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    return {"groups": [{"name": "hx-predictive", "interval": interval, "rules": rules}]}


def render(plan: Plan) -> list[Artifact]:
    if plan.analytics is None:
        return []
    text = yaml_text(rule_groups(plan, plan.analytics), plan.spec_file)
    return [Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-predictive.yml", text)]
