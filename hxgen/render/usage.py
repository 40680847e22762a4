"""The hx-usage service: its configuration (hxgen.contracts.usage_config.ServiceConfig, read by every
hx-usage command) and its systemd unit; and the weekly report's service and timer, which run
`hxgen report` from the same virtualenv against the spec the host was converged from."""

from __future__ import annotations

from typing import Any

from .. import layout
from ..contracts import usage as contract
from ..contracts import usage_config
from ..plan import Plan
from ..plan.usage import UsagePlan
from .common import RENDERED_DIR, Artifact, header, templates
from .json_emitter import json_text

CONFIG_FILE = "usage/usage.json"
UNIT_FILE = f"systemd/{layout.USAGE_SERVICE}.service"
REPORT_UNITS = tuple(f"systemd/{layout.USAGE_REPORT_SERVICE}.{kind}" for kind in ("service", "timer"))


def render(plan: Plan) -> list[Artifact]:
    u = plan.usage
    if u is None:
        return []
    artifacts = [
        Artifact(f"{RENDERED_DIR}/{CONFIG_FILE}", json_text(config(u), sort_keys=True)),
        Artifact(f"{RENDERED_DIR}/{UNIT_FILE}", _unit(plan, u)),
    ]
    if u.reports_enabled:
        artifacts += [Artifact(f"{RENDERED_DIR}/{path}", _report_unit(plan, u, path)) for path in REPORT_UNITS]
    return artifacts


def config(u: UsagePlan) -> dict[str, Any]:
    """hxgen.contracts.usage_config.ServiceConfig as JSON (the version names the contract)."""
    data = {
        "version": contract.VERSION,
        "access_log": u.access_log,
        "state_dir": u.state_dir,
        "quota_dir": u.quota_dir,
        "listen": {"address": layout.ENGINE_BIND_ADDRESS, "port": u.port},
        "database": {
            "host": u.db_host,
            "port": u.db_port,
            "dbname": u.database,
            "user": u.db_user,
            "password_file": u.db_password_file,
        },
        "time_zone": u.time_zone,
        "tenants": {t: ({"daily_tokens": q} if q is not None else {}) for t, q in sorted(u.quotas.items())},
        "models": dict(sorted(u.models.items())),
        "reports": {
            "enabled": True,
            "directory": u.reports_dir,
            "keep": u.reports_keep,
            "prometheus_url": u.prometheus_url,
        }
        if u.reports_enabled
        else None,
    }
    usage_config.ServiceConfig.model_validate(data)  # what the service will accept, checked at render time
    return data


NICE = 10
"""The service's scheduling priority (the unit's Nice=); benchmarks/gateway.py runs it the same way."""


def _unit(plan: Plan, u: UsagePlan) -> str:
    command = ((f"{u.venv_dir}/bin/{u.service}",), ("--config", u.config_file), ("serve",))
    return (
        templates()
        .get_template("usage.service.j2")
        .render(header=header(plan.spec_file).rstrip("\n"), u=u, command=command, hx_group=layout.HX_GROUP, nice=NICE)
    )


def _report_unit(plan: Plan, u: UsagePlan, path: str) -> str:
    command = (
        (f"{u.venv_dir}/bin/hxgen", "report", "--period", "week"),
        ("--format", "html", "--format", "pdf"),
        ("--directory", u.reports_dir, "--keep", str(u.reports_keep)),
        ("--config", u.config_file),
        (u.spec_file,),
    )
    template = "usage-report.service.j2" if path.endswith(".service") else "usage-report.timer.j2"
    return (
        templates()
        .get_template(template)
        .render(header=header(plan.spec_file).rstrip("\n"), u=u, command=command, hx_group=layout.HX_GROUP)
    )
