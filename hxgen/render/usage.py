"""The hx-usage service: its configuration (hxgen.contracts.usage.ServiceConfig, read by every
hx-usage command) and its systemd unit."""

from __future__ import annotations

from typing import Any

from .. import layout
from ..contracts import usage as contract
from ..plan import Plan
from ..plan.usage import UsagePlan
from .common import RENDERED_DIR, Artifact, header, templates
from .json_emitter import json_text

CONFIG_FILE = "usage/usage.json"
UNIT_FILE = f"systemd/{layout.USAGE_SERVICE}.service"
PASSWORD_FILE = f"{layout.SECRETS_DIR}/usage/db.password"
"""Written by the postgresql role (root-owned, readable by the service's group)."""


def render(plan: Plan) -> list[Artifact]:
    u = plan.usage
    if u is None:
        return []
    return [
        Artifact(f"{RENDERED_DIR}/{CONFIG_FILE}", json_text(config(u), sort_keys=True)),
        Artifact(f"{RENDERED_DIR}/{UNIT_FILE}", _unit(plan, u)),
    ]


def config(u: UsagePlan) -> dict[str, Any]:
    """hxgen.contracts.usage.ServiceConfig as JSON (the version names the contract)."""
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
            "password_file": PASSWORD_FILE,
        },
        "time_zone": u.time_zone,
        "tenants": {t: ({"daily_tokens": q} if q is not None else {}) for t, q in sorted(u.quotas.items())},
        "models": dict(sorted(u.models.items())),
        "reports": None,
    }
    contract.ServiceConfig.model_validate(data)  # what the service will accept, checked at render time
    return data


def _unit(plan: Plan, u: UsagePlan) -> str:
    command = ((f"{u.venv_dir}/bin/{u.service}",), ("--config", u.config_file), ("serve",))
    return (
        templates()
        .get_template("usage.service.j2")
        .render(header=header(plan.spec_file).rstrip("\n"), u=u, command=command, hx_group=layout.HX_GROUP)
    )
