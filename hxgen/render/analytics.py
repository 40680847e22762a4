"""The hx-analytics service: its configuration (what to watch) and its systemd unit."""

from __future__ import annotations

from typing import Any

from .. import layout
from ..contracts import analytics as contract
from ..plan import Plan
from ..plan.analytics import AnalyticsPlan
from .common import RENDERED_DIR, Artifact, header, templates, yaml_text

UNIT_FILE = f"systemd/{layout.ANALYTICS_SERVICE}.service"
CONFIG_FILE = "analytics/analytics.yml"


def render(plan: Plan) -> list[Artifact]:
    a = plan.analytics
    if a is None:
        return []
    return [
        Artifact(f"{RENDERED_DIR}/{CONFIG_FILE}", yaml_text(config(a), plan.spec_file)),
        Artifact(f"{RENDERED_DIR}/{UNIT_FILE}", _unit(plan, a)),
    ]


def config(a: AnalyticsPlan) -> dict[str, Any]:
    """What the service reads at start: hxgen.contracts.analytics.ServiceConfig."""
    return {
        "version": contract.VERSION,
        "prometheus_url": a.prometheus_url,
        "listen": {"address": layout.ENGINE_BIND_ADDRESS, "port": a.port},
        "interval_s": a.interval_s,
        "history_days": a.history_days,
        "prediction_interval": a.level,
        "anomaly": {"sensitivity": a.sensitivity},
        "series": [
            {
                "name": s.name,
                "query": s.query,
                "member": s.member,
                "horizons_minutes": list(s.horizons_minutes),
                "limit": s.limit,
            }
            for s in a.series
        ],
    }


def _unit(plan: Plan, a: AnalyticsPlan) -> str:
    command = ((f"{layout.ANALYTICS_VENV}/bin/{layout.ANALYTICS_SERVICE}",), ("--config", a.config_file))
    return (
        templates()
        .get_template("analytics.service.j2")
        .render(header=header(plan.spec_file).rstrip("\n"), a=a, command=command)
    )
