"""Alerts on the host-wide service targets that are not per-model SLOs (hx-service-targets.yml).

- targets.embeddings_ms: the embedding models' p95 end-to-end latency. It is above the target
  exactly when more than 5 % of requests are slower, counted from the histogram bucket at the
  target (the plan adds it to the embedding models' bucket bounds, see plan.histograms).
- targets.mttr_minutes: a model service down for longer than the recovery target pages. The
  HxModelDown page starts the recovery; this one says the target is missed.
"""

from __future__ import annotations

from typing import Any

from .. import alerts
from ..plan import Plan
from ..plan.histograms import VLLM_HISTOGRAMS, bucket_label, seconds
from . import promql
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, yaml_text

EMBEDDINGS_PERCENTILE = 95
EMBEDDINGS_FOR = "10m"


def embeddings_alert(plan: Plan) -> list[dict[str, Any]]:
    models = [m.name for m in plan.models if m.task == "embed"]
    if not models:
        return []
    target_ms = plan.targets.embeddings_ms
    histogram = VLLM_HISTOGRAMS["e2e"]
    match = f'model=~"{"|".join(models)}"'
    fast = promql.rate(promql.selector(f"{histogram}_bucket", match, f'le="{bucket_label(seconds(target_ms))}"'), "5m")
    count = promql.rate(promql.selector(f"{histogram}_count", match), "5m")
    slow_allowed = promql.number(1 - EMBEDDINGS_PERCENTILE / 100)
    return [
        alert(
            alerts.EMBEDDINGS_SLOW,
            f"1 - (\n  {fast}\n  /\n  ({count} > 0)\n) > {slow_allowed}",
            EMBEDDINGS_FOR,
            "ticket",
            f"{{{{ $labels.model }}}}: embeddings p{EMBEDDINGS_PERCENTILE} above {target_ms:g} ms",
            f"{{{{ $value | humanizePercentage }}}} of embedding requests took longer than {target_ms:g} ms "
            f"(targets.embeddings_ms) for {EMBEDDINGS_FOR}; more than {100 - EMBEDDINGS_PERCENTILE} % may.",
            runbook_base=plan.monitoring.runbook_base_url,
        )
    ]


def recovery_alert(plan: Plan) -> list[dict[str, Any]]:
    if not plan.models:
        return []
    minutes = plan.targets.mttr_minutes
    return [
        alert(
            alerts.MODEL_RECOVERY_OVERDUE,
            'up{job=~"model-.+"} == 0',
            # Prometheus durations take whole units: 2.5 minutes is 150s.
            f"{round(minutes * 60)}s",
            "page",
            f"Model {{{{ $labels.model }}}} has been down longer than the {minutes:g} min recovery target",
            "Its engine at {{ $labels.instance }} has not answered /metrics for longer than "
            f"targets.mttr_minutes ({minutes:g} min): recovery is overdue; escalate.",
            runbook_base=plan.monitoring.runbook_base_url,
        )
    ]


def rule_groups(plan: Plan) -> dict[str, Any]:
    rules = embeddings_alert(plan) + recovery_alert(plan)
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    return {"groups": [{"name": "hx-service-targets", "interval": interval, "rules": rules}] if rules else []}


def render(plan: Plan) -> list[Artifact]:
    groups = rule_groups(plan)
    if not groups["groups"]:
        return []
    return [Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-service-targets.yml", yaml_text(groups, plan.spec_file))]
