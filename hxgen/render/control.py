"""hx-control: its configuration (hxgen.contracts.control_config.ServiceConfig, read by every
hx-control command) and its systemd unit; the path unit and service that reload nginx when
hx-control rewrites the gateway's state files; and the seed of the route weights (the spec's
split in the ROUTE_WEIGHTS format), which the gateway role installs once so that nginx has the
file before hx-control first writes it."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from .. import layout
from ..contracts import control as contract
from ..contracts import control_config
from ..plan import Plan
from ..plan.canary import CanaryPlan
from ..plan.control import ControlPlan
from .common import RENDERED_DIR, Artifact, header, templates
from .json_emitter import json_text

CONFIG_FILE = "control/control.json"
UNIT_FILE = f"systemd/{layout.CONTROL_SERVICE}.service"
RELOAD_PATH_FILE = f"systemd/{contract.RELOAD_PATH_UNIT}"
RELOAD_SERVICE_FILE = f"systemd/{contract.RELOAD_SERVICE}"
ROUTE_WEIGHTS_SEED = "nginx/route-weights.json"
GATEWAY_SERVICE = "nginx.service"
"""The gateway's unit (Debian's nginx package), which the reload service reloads."""
RELOAD_SETTLE_S = 1
"""The reload service waits this long before it checks and reloads, so that a burst of writes
(a rotation writes the map once, a sync may write both files) costs one reload, well within
contract.RELOAD_WITHIN_S."""


def render(plan: Plan) -> list[Artifact]:
    c = plan.control
    if c is None:
        return []
    head = header(plan.spec_file).rstrip("\n")
    return [
        Artifact(f"{RENDERED_DIR}/{CONFIG_FILE}", json_text(config(c), sort_keys=True)),
        Artifact(f"{RENDERED_DIR}/{UNIT_FILE}", _unit(plan, c, head)),
        Artifact(f"{RENDERED_DIR}/{RELOAD_PATH_FILE}", _template("hx-gateway-reload.path.j2", head, c)),
        Artifact(f"{RENDERED_DIR}/{RELOAD_SERVICE_FILE}", _template("hx-gateway-reload.service.j2", head, c)),
        Artifact(f"{RENDERED_DIR}/{ROUTE_WEIGHTS_SEED}", route_weights(c)),
    ]


def config(c: ControlPlan) -> dict[str, Any]:
    """hxgen.contracts.control_config.ServiceConfig as JSON (the version names the contract)."""
    data = {
        "version": contract.VERSION,
        "host_name": c.host,
        "listen": {"address": layout.ENGINE_BIND_ADDRESS, "port": c.port},
        "database": {
            "host": c.db_host,
            "port": c.db_port,
            "dbname": c.database,
            "user": c.db_user,
            "password_file": c.db_password_file,
        },
        "gateway_state_dir": c.gateway_state_dir,
        "reload_command": None,  # the path unit reloads nginx
        "tenants": {
            name: {"role": t.role, "tier": t.tier, "models": list(t.models), "daily_tokens": t.daily_tokens}
            for name, t in sorted(c.tenants.items())
        },
        "tiers": {
            name: {"requests_per_second": t.requests_per_second, "burst": t.burst, "daily_tokens": t.daily_tokens}
            for name, t in sorted(c.tiers.items())
        },
        "models": {
            name: {
                "served_name": m.served_name,
                "engine": m.engine,
                "task": m.task,
                "version": m.version,
                "health_url": m.health_url,
            }
            for name, m in sorted(c.models.items())
        },
        "routes": {
            alias: {
                "sticky": r.sticky,
                "weights_owner": r.weights_owner,
                "split": [{"model": model, "weight": weight} for model, weight in r.split],
                "canary": _canary(r.canary),
            }
            for alias, r in sorted(c.routes.items())
        },
        "alertmanager_url": c.alertmanager_url,
        "prometheus_url": c.prometheus_url,
        "gateway_status_url": c.gateway_status_url,
        "audit_config": c.audit_config,
        "usage": {"table": c.usage_table, "time_zone": c.usage_time_zone} if c.usage_table else None,
        "spec_file": c.spec_file,
        "rotate_overlap_hours": c.rotate_overlap_hours,
    }
    # What the service will accept, checked at render time (its own cross-checks too).
    from ..control.config import parse

    parse(data, CONFIG_FILE)
    control_config.ServiceConfig.model_validate(data)
    return data


def _canary(p: CanaryPlan | None) -> dict[str, Any] | None:
    """What hx-control carries out; the gate's thresholds are the rules' (hxgen.render.canary_rules)."""
    if p is None:
        return None
    return {
        "model": p.canary.name,
        "version": p.canary.version,
        "steps_percent": list(p.steps_percent),
        "step_min_s": p.step_min_s,
        "step_min_requests": p.step_min_requests,
        "interval_s": p.interval_s,
        "failed_checks": p.failed_checks,
        "promotion": p.promotion,
    }


def route_weights(c: ControlPlan) -> str:
    """The spec's split of every route in the ROUTE_WEIGHTS format: what hx-control writes before
    anyone sets weights (hxgen.control.gateway_state.route_weights), byte for byte."""
    out = {}
    for alias, route in sorted(c.routes.items()):
        bounds, total = [], 0
        for model, weight in route.split:
            if weight == 0:
                continue
            total += weight
            bounds.append([c.models[model].served_name if model in c.models else model, total])
        out[alias] = bounds
    return json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n"


def _unit(plan: Plan, c: ControlPlan, head: str) -> str:
    command = ((f"{c.venv_dir}/bin/{c.service}",), ("--config", c.config_file), ("serve",))
    audit = plan.audit
    return (
        templates()
        .get_template("control.service.j2")
        .render(
            header=head,
            c=c,
            command=command,
            hx_group=layout.HX_GROUP,
            audit={"group": audit.group, "paths": [audit.log_dir, posixpath.dirname(audit.head_copy)]}
            if audit and c.audit_config
            else None,
        )
    )


def _template(name: str, head: str, c: ControlPlan) -> str:
    return (
        templates()
        .get_template(name)
        .render(
            header=head,
            c=c,
            request=contract.RELOAD_REQUEST,
            reload_script=(
                f"systemctl is-active --quiet {GATEWAY_SERVICE} || exit 0; "
                f"/usr/sbin/nginx -t -q && exec systemctl reload {GATEWAY_SERVICE}"
            ),
            gateway_service=GATEWAY_SERVICE,
            settle_s=RELOAD_SETTLE_S,
            within_s=contract.RELOAD_WITHIN_S,
        )
    )
