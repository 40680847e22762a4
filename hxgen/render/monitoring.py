"""Prometheus scrape configuration and Alertmanager routing, built as data from the spec."""

from __future__ import annotations

from typing import Any

from .. import layout
from ..plan import Plan
from ..spec.monitoring import AlertRoute, Receiver
from .common import RENDERED_DIR, Artifact, yaml_text

LOCAL = layout.ENGINE_BIND_ADDRESS
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
ALERTMANAGER_SECRETS = f"{layout.SECRETS_DIR}/alertmanager"
NULL_RECEIVER = "hx-null"


def render(plan: Plan) -> list[Artifact]:
    return [
        Artifact(f"{RENDERED_DIR}/prometheus/prometheus.yml", yaml_text(prometheus_config(plan), plan.spec_file)),
        Artifact(f"{RENDERED_DIR}/alertmanager/alertmanager.yml", yaml_text(alertmanager_config(plan), plan.spec_file)),
    ]


def _job(name: str, targets: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    static: dict[str, Any] = {"targets": targets}
    if labels:
        static["labels"] = labels
    return {"job_name": name, "static_configs": [static]}


def scrape_jobs(plan: Plan) -> list[dict[str, Any]]:
    spec, mon = plan.spec, plan.spec.monitoring
    jobs = [
        _job("prometheus", [f"{LOCAL}:{mon.prometheus_port}"]),
        _job("alertmanager", [f"{LOCAL}:{mon.alertmanager_port}"]),
        _job("node", [f"{LOCAL}:{mon.node_exporter_port}"]),
    ]
    # One job per model, so that a target is named after the model in every alert.
    for m in plan.models:
        labels = {"model": m.name, "engine": m.engine, "served_name": m.served_name}
        jobs.append(_job(f"model-{m.name}", [f"{LOCAL}:{m.port}"], labels))
    jobs += [_job(h.job, [f"{LOCAL}:{h.port}"]) for h in layout.helper_ports(spec) if h.job]
    if spec.databases.qdrant.enabled:
        jobs.append(_job("qdrant", [f"{LOCAL}:{spec.databases.qdrant.http_port}"]))
    if mon.grafana.enabled:
        jobs.append(_job("grafana", [f"{LOCAL}:{mon.grafana.port}"]))
    return jobs


def prometheus_config(plan: Plan) -> dict[str, Any]:
    mon = plan.spec.monitoring
    return {
        "global": {
            "scrape_interval": f"{mon.scrape_interval_s}s",
            "evaluation_interval": f"{mon.evaluation_interval_s or mon.scrape_interval_s}s",
            "external_labels": {"hx_host": plan.host.name},
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{LOCAL}:{mon.alertmanager_port}"]}]}]},
        "rule_files": [f"{PROMETHEUS_RULES_DIR}/*.yml"],
        "scrape_configs": scrape_jobs(plan),
    }


def _secret_file(name: str) -> str:
    return f"{ALERTMANAGER_SECRETS}/{name}"


def _receiver(receiver: Receiver) -> dict[str, Any]:
    # Secrets stay out of the rendered file: Alertmanager reads them from files the role writes.
    kind = receiver.type
    if kind == "webhook":
        config: dict[str, Any] = {"webhook_configs": [{"url": receiver.url, "send_resolved": True}]}
    elif kind == "email":
        config = {"email_configs": [{"to": ", ".join(receiver.to), "send_resolved": True}]}
    elif kind == "slack":
        config = {"slack_configs": [{"api_url_file": _secret_file(receiver.secret), "send_resolved": True}]}
    else:
        config = {"pagerduty_configs": [{"routing_key_file": _secret_file(receiver.secret), "send_resolved": True}]}
    return {"name": receiver.name, **config}


def _route(route: AlertRoute) -> dict[str, Any]:
    matchers = []
    if route.severities:
        matchers.append(f'severity=~"{"|".join(route.severities)}"')
    if route.team:
        matchers.append(f'team="{route.team}"')
    result: dict[str, Any] = {"receiver": route.receiver}
    if matchers:
        result["matchers"] = matchers
    result |= {
        "group_wait": f"{route.group_wait_s}s",
        "group_interval": f"{route.group_interval_minutes}m",
        "repeat_interval": f"{route.repeat_interval_minutes}m",
    }
    return result


def alertmanager_config(plan: Plan) -> dict[str, Any]:
    mon = plan.spec.monitoring
    receivers = [_receiver(r) for r in mon.receivers]
    default = mon.default_receiver or (mon.receivers[0].name if mon.receivers else NULL_RECEIVER)
    if not receivers:
        receivers = [{"name": NULL_RECEIVER}]  # alerts still show in the UI; nobody is notified
    config: dict[str, Any] = {}
    if mon.email is not None:
        smtp: dict[str, Any] = {
            "smtp_smarthost": mon.email.smarthost,
            "smtp_from": mon.email.from_address,
            "smtp_require_tls": mon.email.require_tls,
        }
        if mon.email.password_secret:
            smtp["smtp_auth_username"] = mon.email.from_address
            smtp["smtp_auth_password_file"] = _secret_file(mon.email.password_secret)
        config["global"] = smtp
    config["route"] = {
        "receiver": default,
        "group_by": ["alertname", "model"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [_route(r) for r in mon.routes],
    }
    config["receivers"] = receivers
    return config
