"""Renderers: Plan in, artifacts out. Pure functions; the writer is the only one touching disk."""

from __future__ import annotations

from ..plan import Plan
from . import (
    alert_rules,
    analytics,
    audit,
    backup,
    canary_rules,
    control,
    cost_rules,
    dashboards,
    fail2ban,
    firewall,
    gateway,
    inventory,
    limits,
    monitoring,
    predictive_rules,
    recording_rules,
    slo_rules,
    systemd,
    target_rules,
    usage,
    usage_rules,
)
from .common import INVENTORY_DIR, RENDERED_DIR, Artifact

RENDERERS = (
    inventory.render,
    systemd.render,
    analytics.render,
    audit.render,
    gateway.render,
    monitoring.render,
    recording_rules.render,
    slo_rules.render,
    alert_rules.render,
    cost_rules.render,
    predictive_rules.render,
    dashboards.render,
    backup.render,
    firewall.render,
    target_rules.render,
    limits.render,
    fail2ban.render,
    usage.render,
    usage_rules.render,
    control.render,
    canary_rules.render,
)

# Paths below the output directory that hxgen regenerates wholesale (and prunes).
OWNED = (f"{INVENTORY_DIR}/hosts.yml", f"{INVENTORY_DIR}/group_vars/{inventory.GROUP}/", f"{RENDERED_DIR}/")


def render(plan: Plan) -> list[Artifact]:
    artifacts = [a for renderer in RENDERERS for a in renderer(plan)]
    return sorted(artifacts, key=lambda a: a.path)


__all__ = ["OWNED", "Artifact", "render"]
