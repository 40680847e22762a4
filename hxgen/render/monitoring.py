"""Prometheus scrape configuration and Alertmanager routing, built as data from the plan."""

from __future__ import annotations

from typing import Any

from .. import alerts, layout
from ..plan import Plan
from ..plan.monitoring import AlertRoutePlan, ReceiverPlan
from ..plan.probes import ProbePlan
from .common import RENDERED_DIR, Artifact, yaml_text

LOCAL = layout.ENGINE_BIND_ADDRESS
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
ALERTMANAGER_SECRETS = f"{layout.SECRETS_DIR}/alertmanager"
NULL_RECEIVER = "hx-null"
PROBE_TIMEOUT_S = 25


def render(plan: Plan) -> list[Artifact]:
    artifacts = [
        Artifact(f"{RENDERED_DIR}/prometheus/prometheus.yml", yaml_text(prometheus_config(plan), plan.spec_file)),
        Artifact(f"{RENDERED_DIR}/alertmanager/alertmanager.yml", yaml_text(alertmanager_config(plan), plan.spec_file)),
    ]
    if plan.probe is not None:
        text = yaml_text(blackbox_config(plan.probe), plan.spec_file)
        artifacts.append(Artifact(f"{RENDERED_DIR}/prometheus/blackbox.yml", text))
    return artifacts


def _job(name: str, targets: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    static: dict[str, Any] = {"targets": targets}
    if labels:
        static["labels"] = labels
    return {"job_name": name, "static_configs": [static]}


def scrape_jobs(plan: Plan) -> list[dict[str, Any]]:
    mon = plan.monitoring
    jobs = [
        _job("prometheus", [f"{LOCAL}:{mon.prometheus_port}"]),
        _job("alertmanager", [f"{LOCAL}:{mon.alertmanager_port}"]),
        _job("node", [f"{LOCAL}:{mon.node_exporter_port}"]),
    ]
    # One job per model, so that a target is named after the model in every alert.
    for m in plan.models:
        labels = {"model": m.name, "engine": m.engine, "served_name": m.served_name, "version": m.version}
        jobs.append(_job(f"model-{m.name}", [f"{LOCAL}:{m.port}"], labels))
    jobs += [_job(h.job, [f"{LOCAL}:{h.port}"]) for h in plan.helper_ports if h.job]
    if plan.databases.qdrant is not None:
        jobs.append(_job("qdrant", [f"{LOCAL}:{plan.databases.qdrant.http_port}"]))
    if mon.grafana is not None:
        jobs.append(_job("grafana", [f"{LOCAL}:{mon.grafana.port}"]))
    if plan.analytics is not None:
        jobs.append(_job("analytics", [f"{LOCAL}:{plan.analytics.port}"]))
    return jobs


def _probe_job(name: str, module: str, url: str, probe: ProbePlan, labels: dict[str, str]) -> dict[str, Any]:
    """A blackbox probe: Prometheus asks the exporter to probe `url` and scrapes the outcome."""
    job = _job(name, [url], labels)
    job |= {
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "scrape_interval": f"{probe.interval_s}s",
        "scrape_timeout": f"{min(probe.interval_s, PROBE_TIMEOUT_S)}s",
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": f"{LOCAL}:{layout.BLACKBOX_EXPORTER_PORT}"},
        ],
    }
    return job


def probe_jobs(plan: Plan) -> list[dict[str, Any]]:
    probe = plan.probe
    if probe is None:
        return []
    jobs = [_probe_job("probe-gateway", "hx_gateway_health", probe.base_url + probe.health_path, probe, {})]
    if probe.call_path:
        model = {"probe_model": probe.tenant["models"][0]}
        jobs.append(_probe_job("probe-model-call", "hx_model_call", probe.base_url + probe.call_path, probe, model))
    return jobs


def blackbox_config(probe: ProbePlan) -> dict[str, Any]:
    tls: dict[str, Any] = {"server_name": probe.server_name}
    if probe.ca_file:
        tls["ca_file"] = probe.ca_file
    http: dict[str, Any] = {"method": "GET", "valid_status_codes": [200], "preferred_ip_protocol": "ip4"}
    if probe.base_url.startswith("https:"):
        http |= {"fail_if_not_ssl": True, "tls_config": tls}
    modules: dict[str, Any] = {"hx_gateway_health": {"prober": "http", "timeout": "5s", "http": http}}
    if probe.call_path:
        modules["hx_model_call"] = {
            "prober": "http",
            "timeout": f"{PROBE_TIMEOUT_S - 1}s",
            "http": http
            | {
                "method": "POST",
                # no-cache: an answer from the gateway's cache would hide a dead engine.
                "headers": {"Content-Type": "application/json", "Cache-Control": "no-cache"},
                "body": probe.call_body,
                "fail_if_body_not_matches_regexp": ['"usage"'],
                "authorization": {"type": "Bearer", "credentials_file": layout.BLACKBOX_PROBE_KEY},
            },
        }
    return {"modules": modules}


def prometheus_config(plan: Plan) -> dict[str, Any]:
    mon = plan.monitoring
    return {
        "global": {
            "scrape_interval": f"{mon.scrape_interval_s}s",
            "evaluation_interval": f"{mon.evaluation_interval_s}s",
            "external_labels": {"hx_host": mon.host},
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{LOCAL}:{mon.alertmanager_port}"]}]}]},
        "rule_files": [f"{PROMETHEUS_RULES_DIR}/*.yml"],
        "scrape_configs": scrape_jobs(plan) + probe_jobs(plan),
    }


def _secret_file(name: str) -> str:
    return f"{ALERTMANAGER_SECRETS}/{name}"


def _receiver(receiver: ReceiverPlan) -> dict[str, Any]:
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


def _route(route: AlertRoutePlan) -> dict[str, Any]:
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


def inhibit_rules() -> list[dict[str, Any]]:
    """The alert that explains the others silences them."""
    model_symptoms = "|".join(alerts.MODEL_SYMPTOMS)
    return [
        # Nothing on a host that is down is worth a second message.
        {
            "source_matchers": [f'alertname="{alerts.HOST_DOWN}"'],
            "target_matchers": [f'alertname!~"{alerts.HOST_DOWN}|{alerts.WATCHDOG}"'],
            "equal": ["hx_host"],
        },
        # A model that is down is neither slow nor short of throughput.
        {
            "source_matchers": [f'alertname="{alerts.MODEL_DOWN}"'],
            "target_matchers": [f'alertname="{alerts.ERROR_BUDGET_BURN}"', 'slo=~"ttft|e2e"'],
            "equal": ["model"],
        },
        {
            "source_matchers": [f'alertname="{alerts.MODEL_DOWN}"'],
            "target_matchers": [f'alertname=~"{model_symptoms}"'],
            "equal": ["model"],
        },
        # The page already says what the ticket would (same alert, model and objective).
        {
            "source_matchers": ['severity="page"'],
            "target_matchers": ['severity="ticket"'],
            "equal": ["alertname", "model", "slo"],
        },
        {
            "source_matchers": [f'alertname="{alerts.DISK_FILLING_UP_FAST}"'],
            "target_matchers": [f'alertname="{alerts.DISK_FILLING_UP}"'],
            "equal": ["instance", "mountpoint"],
        },
    ]


def alertmanager_config(plan: Plan) -> dict[str, Any]:
    mon = plan.monitoring
    receivers = [_receiver(r) for r in mon.receivers]
    default = mon.default_receiver or (mon.receivers[0].name if mon.receivers else NULL_RECEIVER)
    if default == NULL_RECEIVER or mon.watchdog_receiver is None:
        receivers.append({"name": NULL_RECEIVER})  # alerts still show in the UI; nobody is notified
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
    # The Watchdog goes first, so that no severity route ever delivers it to people.
    watchdog = {
        "receiver": mon.watchdog_receiver or NULL_RECEIVER,
        "matchers": [f'alertname="{alerts.WATCHDOG}"'],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "5m",
    }
    config["route"] = {
        "receiver": default,
        "group_by": ["alertname", "model"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [watchdog, *(_route(r) for r in mon.routes)],
    }
    config["inhibit_rules"] = inhibit_rules()
    config["receivers"] = receivers
    return config
