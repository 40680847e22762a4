"""Prometheus, Alertmanager and Grafana as renderers need them: intervals resolved, receivers
and routes as plain data (secrets only by their vault entry names)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec


@dataclass(frozen=True)
class GrafanaPlan:
    port: int


@dataclass(frozen=True)
class EmailPlan:
    smarthost: str
    from_address: str
    require_tls: bool
    password_secret: str | None


@dataclass(frozen=True)
class ReceiverPlan:
    name: str
    type: str
    """webhook, email, slack or pagerduty."""
    url: str | None
    secret: str | None
    """The vault entry holding the Slack URL or PagerDuty routing key."""
    to: tuple[str, ...]


@dataclass(frozen=True)
class AlertRoutePlan:
    receiver: str
    severities: tuple[str, ...]
    team: str | None
    group_wait_s: int
    group_interval_minutes: int
    repeat_interval_minutes: int


@dataclass(frozen=True)
class ExtraRulePlan:
    alert: str
    expr: str
    for_s: int
    severity: str
    summary: str
    team: str | None


@dataclass(frozen=True)
class MonitoringPlan:
    host: str
    """Where Prometheus, Alertmanager and Grafana run."""
    scrape_interval_s: int
    evaluation_interval_s: int
    """Resolved: the spec's, or the scrape interval."""
    retention_days: int
    retention_size_gb: int | None
    prometheus_port: int
    alertmanager_port: int
    node_exporter_port: int
    grafana: GrafanaPlan | None
    """None when Grafana is not installed (its dashboards are still rendered)."""
    dashboards: bool
    email: EmailPlan | None
    receivers: tuple[ReceiverPlan, ...]
    default_receiver: str | None
    watchdog_receiver: str | None
    routes: tuple[AlertRoutePlan, ...]
    extra_rules: tuple[ExtraRulePlan, ...]
    runbook_base_url: str
    """Each generated alert's runbook_url is this, '#' and its anchor (hxgen.runbooks)."""


def build_monitoring_plan(spec: Spec, grafana: bool) -> MonitoringPlan:
    mon = spec.monitoring
    email = mon.email
    return MonitoringPlan(
        host=spec.host.name,
        scrape_interval_s=mon.scrape_interval_s,
        evaluation_interval_s=mon.evaluation_interval_s or mon.scrape_interval_s,
        retention_days=mon.retention_days,
        retention_size_gb=mon.retention_size_gb,
        prometheus_port=mon.prometheus_port,
        alertmanager_port=mon.alertmanager_port,
        node_exporter_port=mon.node_exporter_port,
        grafana=GrafanaPlan(mon.grafana.port) if grafana else None,
        dashboards=mon.dashboards,
        email=EmailPlan(email.smarthost, email.from_address, email.require_tls, email.password_secret)
        if email
        else None,
        receivers=tuple(ReceiverPlan(r.name, r.type, r.url, r.secret, tuple(r.to)) for r in mon.receivers),
        default_receiver=mon.default_receiver,
        watchdog_receiver=mon.watchdog_receiver,
        routes=tuple(
            AlertRoutePlan(
                r.receiver,
                tuple(r.severities),
                r.team,
                r.group_wait_s,
                r.group_interval_minutes,
                r.repeat_interval_minutes,
            )
            for r in mon.routes
        ),
        extra_rules=tuple(
            ExtraRulePlan(r.alert, r.expr, r.for_s, r.severity, r.summary, r.team) for r in mon.extra_rules
        ),
        runbook_base_url=mon.runbook_base_url,
    )
