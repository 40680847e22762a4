"""Which components a spec turns on, and the helper ports they bind: decided here, once.

The checks read it (the port reservations of exporters and status pages) and the plan reads it
(the roles the host gets, the sections that exist, what Prometheus scrapes); renderers only see
its answer in the Plan (Plan.components, Plan.helper_ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import layout

if TYPE_CHECKING:
    from .spec import Spec

# Roles in the order playbooks/site.yml applies them.
# The spec sections enabled_roles and helper_ports read: a check that calls them declares these.
READS = ("host", "models", "gateway", "databases", "security", "monitoring", "analytics", "usage", "control")

ROLES = (
    "base",
    "firewall",
    "audit",
    "nvidia",
    "vllm",
    "tgi",
    "gateway",
    "fail2ban",
    "postgresql",
    "pgbouncer",
    "backup",
    "usage",
    "control",
    "qdrant",
    "node_exporter",
    "prometheus",
    "alertmanager",
    "grafana",
    "analytics",
)


def enabled_roles(spec: Spec) -> tuple[str, ...]:
    """The roles the host needs, in the order site.yml applies them."""
    engines = {m.engine for m in spec.models}
    pg = spec.databases.postgres
    wanted = {
        "base": True,
        "firewall": spec.security.firewall.enabled,
        "audit": spec.security.audit_log.enabled,
        "nvidia": spec.host.profile == "gpu",
        "vllm": "vllm" in engines,
        "tgi": "tgi" in engines,
        "gateway": spec.gateway.enabled,
        "fail2ban": spec.security.fail2ban.enabled,
        "postgresql": pg.enabled,
        "pgbouncer": pg.enabled and pg.pgbouncer.enabled,
        # Backups and the retention of rows (retention runs even with backups off).
        "backup": pg.enabled,
        # Usage accounting follows the gateway's log into PostgreSQL (after backup: its tables
        # register in hx_retention, which the backup role creates).
        "usage": spec.usage.enabled and spec.gateway.enabled and pg.enabled,
        # The control plane keeps keys and route weights in PostgreSQL and writes the gateway's view
        # of them (after usage: it reads hx-usage's table for the usage it reports).
        "control": spec.control.enabled and spec.gateway.enabled and pg.enabled,
        "qdrant": spec.databases.qdrant.enabled,
        "node_exporter": True,
        "prometheus": True,
        "alertmanager": True,
        "grafana": spec.monitoring.grafana.enabled,
        "analytics": spec.analytics.enabled,
    }
    return tuple(role for role in ROLES if wanted[role])


def probes_enabled(spec: Spec) -> bool:
    """Synthetic probes need a gateway to probe and a model behind it."""
    return spec.gateway.enabled and spec.monitoring.probes.enabled and bool(spec.models)


@dataclass(frozen=True)
class HelperPort:
    port: int
    what: str
    job: str | None
    """Prometheus job that scrapes it; None for ports nothing scrapes."""
    role: str
    """The role that installs the helper, so it sits on that role's host."""


def helper_ports(spec: Spec) -> list[HelperPort]:
    """Ports the roles bind for helpers the spec does not name: status pages and exporters.
    The port checks reserve them and the Prometheus config scrapes them, from this one list."""
    roles = set(enabled_roles(spec))
    ports = []
    if "gateway" in roles:
        ports.append(HelperPort(layout.NGINX_STATUS_PORT, "the gateway's status page", None, "gateway"))
        ports.append(HelperPort(layout.NGINX_EXPORTER_PORT, "the nginx exporter", "nginx", "gateway"))
    if "nvidia" in roles:
        ports.append(HelperPort(layout.DCGM_EXPORTER_PORT, "the DCGM exporter", "dcgm", "nvidia"))
    if probes_enabled(spec):
        ports.append(HelperPort(layout.BLACKBOX_EXPORTER_PORT, "the blackbox exporter", "blackbox", "prometheus"))
    if "postgresql" in roles:
        ports.append(HelperPort(layout.POSTGRES_EXPORTER_PORT, "the PostgreSQL exporter", "postgres", "postgresql"))
    if "pgbouncer" in roles:
        ports.append(HelperPort(layout.PGBOUNCER_EXPORTER_PORT, "the PgBouncer exporter", "pgbouncer", "pgbouncer"))
    if "audit" in roles:
        ports.append(HelperPort(layout.AUDIT_EXPORTER_PORT, "the audit service's metrics", "audit", "audit"))
    if "usage" in roles:
        ports.append(HelperPort(layout.USAGE_PORT, "the usage service (metrics, tenants' usage)", "usage", "usage"))
    if "control" in roles:
        ports.append(HelperPort(layout.CONTROL_PORT, "hx-control (metrics, the management API)", "control", "control"))
    return ports
