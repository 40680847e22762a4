"""Prometheus, Alertmanager, Grafana and where alerts go."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import HttpUrl, MemoryGb, Name, Port, PositiveInt, StrictModel

Severity = Literal["page", "ticket", "info"]


class Receiver(StrictModel):
    name: Name
    type: Literal["webhook", "email", "slack", "pagerduty"]
    url: HttpUrl | None = Field(default=None, description="Endpoint of a webhook receiver (not secret).")
    secret: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Name of the vault entry holding the Slack URL or PagerDuty routing key.",
    )
    to: list[str] = Field(default=[], description="Addresses of an email receiver.")

    @model_validator(mode="after")
    def _fields_for_type(self) -> Receiver:
        needs = {"webhook": "url", "email": "to", "slack": "secret", "pagerduty": "secret"}[self.type]
        if not getattr(self, needs):
            raise ValueError(f"a {self.type} receiver needs '{needs}'")
        # A field the receiver's type does not read would be silently ignored.
        unused = [f for f in ("url", "to", "secret") if f != needs and getattr(self, f)]
        if unused:
            raise ValueError(f"a {self.type} receiver does not use {', '.join(repr(f) for f in unused)}; remove it")
        return self


class AlertRoute(StrictModel):
    receiver: str
    severities: list[Severity] = Field(default=[], description="Match these severities (all when empty).")
    team: str | None = Field(default=None, description="Match alerts labelled with this team.")
    group_wait_s: PositiveInt = 30
    group_interval_minutes: PositiveInt = 5
    repeat_interval_minutes: PositiveInt = Field(
        default=240, description="Re-notify this often while firing (escalation cadence)."
    )


class ExtraRule(StrictModel):
    alert: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    expr: str = Field(min_length=1, description="PromQL; checked with promtool when rendered.")
    for_s: int = Field(default=0, ge=0)
    severity: Severity = "ticket"
    summary: str = Field(min_length=1)
    team: str | None = None


class Grafana(StrictModel):
    enabled: bool = True
    port: Port = 3000


class Probes(StrictModel):
    """Synthetic availability: the blackbox exporter asks the gateway, as a client would."""

    enabled: bool = Field(default=True, description="Probe the gateway's health and one model call.")
    interval_s: PositiveInt = Field(default=30, le=3600, description="How often each probe runs.")
    model: str | None = Field(
        default=None,
        description="Model or route the probe calls (the name clients send, or the hx name); "
        "the first generating model when omitted.",
    )


class Email(StrictModel):
    """How Alertmanager sends mail; needed when a receiver has type email."""

    smarthost: str = Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", description="SMTP relay as host:port.")
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="Sender address of alert mail.")
    require_tls: bool = True
    password_secret: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Vault entry holding the SMTP password; no authentication when omitted.",
    )


class Monitoring(StrictModel):
    scrape_interval_s: PositiveInt = 10
    evaluation_interval_s: PositiveInt | None = Field(
        default=None, description="Rule evaluation interval; defaults to the scrape interval."
    )
    retention_days: PositiveInt = 30
    retention_size_gb: PositiveInt | None = None
    prometheus_port: Port = 9090
    alertmanager_port: Port = 9093
    node_exporter_port: Port = 9100
    grafana: Grafana = Field(default_factory=Grafana)
    probes: Probes = Field(default_factory=Probes)
    dashboards: bool = True
    email: Email | None = None
    receivers: list[Receiver] = []
    default_receiver: str | None = Field(
        default=None, description="Receiver for alerts no route matches; the first receiver when omitted."
    )
    watchdog_receiver: str | None = Field(
        default=None,
        description="Receiver of the always-firing Watchdog alert: a dead man's switch service that raises "
        "the alarm when it stops arriving. Not delivered anywhere when omitted.",
    )
    routes: list[AlertRoute] = []
    extra_rules: list[ExtraRule] = []
    runbook_base_url: str = Field(
        default="docs/runbooks.md",
        # A URL or a relative path, without a fragment: each alert adds its own anchor.
        pattern=r"^(https?://[^\s/?#]+[^\s#]*|[A-Za-z0-9._-][^\s#:]*)$",
        description="Where the runbooks are: each generated alert's runbook_url annotation is this plus "
        "'#' and the alert's name in lower case. The hx repository's docs/runbooks.md by default; an "
        "https:// URL of the team's published copy makes the link work from a notification.",
    )
    memory_gb: MemoryGb = Field(
        default=4, description="Host RAM budget for Prometheus, Alertmanager, Grafana and exporters."
    )
