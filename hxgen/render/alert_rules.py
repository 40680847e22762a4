"""Alerts on the host and the services around the models, plus the spec's own extra rules.

Thresholds come from the spec's `targets` (memory, CPU, GPU). Model objectives live in
slo_rules; this file holds what is true of any host: resources, targets that stopped
answering, engines that run out of room, the connection pool, and the Watchdog.
"""

from __future__ import annotations

from typing import Any

from .. import alerts, runbooks
from ..plan import Plan
from ..plan.analytics import DATA_FS, KV_CACHE_SATURATED
from . import promql
from .common import RENDERED_DIR, Artifact, yaml_text


def alert(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    *,
    runbook_base: str | None,
    **labels: str,
) -> dict:
    """An alerting rule. Every alert hx generates passes the plan's runbook base (its section of
    docs/runbooks.md); only the spec's own extra rules, which hx has no runbook for, pass None."""
    rule: dict[str, Any] = {"alert": name, "expr": promql.block(expr)}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **labels}
    rule["annotations"] = {"summary": summary, "description": description}
    if runbook_base is not None:
        rule["annotations"]["runbook_url"] = runbooks.url(name, runbook_base)
    return rule


def watchdog(plan: Plan) -> dict:
    return alert(
        alerts.WATCHDOG,
        "vector(1)",
        "",
        "none",
        "Always firing: proves that rules are evaluated and alerts delivered",
        "A dead man's switch: the receiver it is routed to raises the alarm when it stops arriving.",
        runbook_base=plan.monitoring.runbook_base_url,
    )


def target_alerts(plan: Plan) -> list[dict]:
    # Jobs with a down alert of their own, which says what their absence means.
    own = ["node", "model-.+"] + (["usage"] if plan.usage is not None else [])
    return [
        alert(
            alerts.HOST_DOWN,
            'up{job="node"} == 0',
            "2m",
            "page",
            "The host's node exporter stopped answering",
            "Prometheus cannot scrape {{ $labels.instance }}; the host or its exporter is down.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.MODEL_DOWN,
            'up{job=~"model-.+"} == 0',
            "2m",
            "page",
            "Model {{ $labels.model }} is down",
            "Its engine at {{ $labels.instance }} does not answer /metrics; the gateway answers 502/503.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.TARGET_DOWN,
            f'up{{job!~"{"|".join(own)}"}} == 0',
            "5m",
            "ticket",
            "{{ $labels.job }} is down",
            "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}).",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]


def host_alerts(plan: Plan) -> list[dict]:
    targets = plan.targets
    found = [
        alert(
            "HxHostMemoryHigh",
            f"100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > {targets.memory_max_percent:g}",
            "10m",
            "ticket",
            f"Memory use above {targets.memory_max_percent:g} %",
            "{{ $value | humanize }} % of the host's memory is in use.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            "HxHostCpuHigh",
            '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'
            f" > {targets.cpu_max_percent:g}",
            "15m",
            "ticket",
            f"CPU busier than {targets.cpu_max_percent:g} %",
            "The host's CPUs are {{ $value | humanize }} % busy.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.DISK_FILLING_UP,
            f"predict_linear(node_filesystem_avail_bytes{{{DATA_FS}}}[6h], 24 * 3600) < 0\n"
            f"and\nnode_filesystem_avail_bytes{{{DATA_FS}}} / node_filesystem_size_bytes{{{DATA_FS}}} < 0.25\n"
            f"and\nnode_filesystem_readonly{{{DATA_FS}}} == 0",
            "1h",
            "ticket",
            "{{ $labels.mountpoint }} will be full within a day",
            "At the rate of the last 6 hours, {{ $labels.mountpoint }} runs out of space within 24 hours.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.DISK_FILLING_UP_FAST,
            f"predict_linear(node_filesystem_avail_bytes{{{DATA_FS}}}[1h], 4 * 3600) < 0\n"
            f"and\nnode_filesystem_avail_bytes{{{DATA_FS}}} / node_filesystem_size_bytes{{{DATA_FS}}} < 0.10\n"
            f"and\nnode_filesystem_readonly{{{DATA_FS}}} == 0",
            "10m",
            "page",
            "{{ $labels.mountpoint }} will be full within 4 hours",
            "At the rate of the last hour, {{ $labels.mountpoint }} runs out of space within 4 hours.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]
    if plan.any_gpu_host:
        found.append(
            alert(
                "HxGpuBusy",
                f"DCGM_FI_DEV_GPU_UTIL > {targets.gpu_max_percent:g}",
                "15m",
                "ticket",
                f"GPU {{{{ $labels.gpu }}}} busier than {targets.gpu_max_percent:g} % for 15 minutes",
                "Sustained {{ $value | humanize }} % utilisation: the models on it have no headroom left.",
                runbook_base=plan.monitoring.runbook_base_url,
            )
        )
    return found


def engine_alerts(plan: Plan) -> list[dict]:
    return [
        alert(
            "HxModelKvCacheSaturated",
            f"hx:model_kv_cache_usage:ratio > {KV_CACHE_SATURATED:g}",
            "10m",
            "ticket",
            "{{ $labels.model }}'s KV cache is full",
            "{{ $value | humanizePercentage }} of the KV cache is in use: new requests wait or preempt others.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            "HxModelQueueGrowing",
            "deriv(hx:model_queue_depth[10m]) > 0\nand\nmin_over_time(hx:model_queue_depth[10m]) > 0",
            "10m",
            "ticket",
            "{{ $labels.model }}'s queue keeps growing",
            "Requests arrive faster than the model finishes them; the queue has not emptied for 20 minutes.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]


def service_alerts(plan: Plan) -> list[dict]:
    if plan.databases.pgbouncer is None:
        return []
    return [
        alert(
            "HxPgbouncerPoolExhausted",
            "max by (database) (pgbouncer_waiting_clients) > 0",
            "5m",
            "ticket",
            "PgBouncer's pool for {{ $labels.database }} is exhausted",
            "{{ $value }} clients have waited for a server connection for 5 minutes; raise pool_size or "
            "find the slow queries.",
            runbook_base=plan.monitoring.runbook_base_url,
        )
    ]


def probe_alerts(plan: Plan) -> list[dict]:
    if plan.probe is None:
        return []
    found = [
        alert(
            alerts.PROBE_FAILING,
            'probe_success{job=~"probe-.+"} == 0',
            "3m",
            "page",
            "Clients cannot use the gateway: {{ $labels.job }} fails",
            "The synthetic probe of {{ $labels.instance }} has failed for 3 minutes, as a client sees it "
            "(TLS, API key, routing, engine). See probe_http_status_code and the blackbox exporter's log.",
            runbook_base=plan.monitoring.runbook_base_url,
        )
    ]
    if plan.probe.base_url.startswith("https:"):
        found.append(
            alert(
                alerts.CERTIFICATE_EXPIRING,
                'probe_ssl_earliest_cert_expiry{job="probe-gateway"} - time() < 21 * 86400',
                "1h",
                "ticket",
                "The gateway's TLS certificate expires in {{ $value | humanizeDuration }}",
                "Renew it. An internal-CA certificate is renewed 30 days ahead by the daily "
                "hx-gateway-cert-renew.timer, so either a provided certificate is due or renewal failed "
                "(journalctl -u hx-gateway-cert-renew).",
                runbook_base=plan.monitoring.runbook_base_url,
            )
        )
    return found


def extra_rules(plan: Plan) -> list[dict]:
    rules = []
    for r in plan.monitoring.extra_rules:
        labels = {"team": r.team} if r.team else {}
        rules.append(
            alert(
                r.alert,
                r.expr,
                f"{r.for_s}s" if r.for_s else "",
                r.severity,
                r.summary,
                r.summary,
                runbook_base=None,  # the spec's own alert: hx has no runbook for it
                **labels,
            )
        )
    return rules


def rule_groups(plan: Plan) -> dict[str, Any]:
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    groups = [
        {"name": "hx-watchdog", "interval": interval, "rules": [watchdog(plan)]},
        {"name": "hx-targets", "interval": interval, "rules": target_alerts(plan)},
        {"name": "hx-host", "interval": interval, "rules": host_alerts(plan)},
        {"name": "hx-engines", "interval": interval, "rules": engine_alerts(plan)},
    ]
    if probes := probe_alerts(plan):
        groups.append({"name": "hx-probes", "interval": interval, "rules": probes})
    if services := service_alerts(plan):
        groups.append({"name": "hx-services", "interval": interval, "rules": services})
    if extra := extra_rules(plan):
        groups.append({"name": "hx-extra", "interval": interval, "rules": extra})
    return {"groups": groups}


def render(plan: Plan) -> list[Artifact]:
    return [Artifact(f"{RENDERED_DIR}/prometheus/rules/hx-alerts.yml", yaml_text(rule_groups(plan), plan.spec_file))]
