"""The hx-audit service: its configuration (read by every hx-audit command), its systemd unit,
and the alerts on the chain it verifies."""

from __future__ import annotations

import posixpath
from typing import Any

from .. import alerts, layout
from ..contracts import audit as contract
from ..plan import Plan
from ..plan.audit import AuditPlan
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, header, templates, yaml_text
from .json_emitter import json_text

CONFIG_FILE = "audit/audit.json"
UNIT_FILE = f"systemd/{layout.AUDIT_SERVICE}.service"
RULES_FILE = "prometheus/rules/hx-audit.yml"
# No new record for this long while admin calls arrive: the service cannot append.
HEAD_STALE_MINUTES = 15


def render(plan: Plan) -> list[Artifact]:
    a = plan.audit
    if a is None:
        return []
    rules = rule_groups(a, plan.monitoring.runbook_base_url)
    return [
        Artifact(f"{RENDERED_DIR}/{CONFIG_FILE}", json_text(config(a), sort_keys=True)),
        Artifact(f"{RENDERED_DIR}/{UNIT_FILE}", _unit(plan, a)),
        Artifact(f"{RENDERED_DIR}/{RULES_FILE}", yaml_text(rules, plan.spec_file)),
    ]


def config(a: AuditPlan) -> dict[str, Any]:
    """hxgen.audit.config.Config (JSON has no comments: the version names the contract)."""
    return {
        "version": contract.VERSION,
        "log_dir": a.log_dir,
        "key_file": a.key_file,
        "public_key_file": a.public_key_file,
        "head_copies": [a.head_copy],
        "retention_days": a.retention_days,
        "state_dir": a.state_dir,
        "listen": {"address": layout.ENGINE_BIND_ADDRESS, "port": a.port},
        "access_log": a.access_log,
        "admin_path_prefix": "/admin",
        "api_keys_map": a.api_keys_map,
    }


def _unit(plan: Plan, a: AuditPlan) -> str:
    command = ((f"{a.venv_dir}/bin/{a.service}",), ("--config", a.config_file), ("serve",))
    return (
        templates()
        .get_template("audit.service.j2")
        .render(
            header=header(plan.spec_file).rstrip("\n"),
            a=a,
            command=command,
            hx_group=layout.HX_GROUP,
            head_copy_dir=posixpath.dirname(a.head_copy),
        )
    )


def rule_groups(a: AuditPlan, runbook_base: str) -> dict[str, Any]:
    rules = [
        alert(
            alerts.AUDIT_CHAIN_BROKEN,
            f"{contract.CHAIN_VALID} == 0",
            "",
            "page",
            "The audit log does not verify",
            "A record of the audit log or its signed head is wrong (edited, deleted, reordered, inserted or "
            "truncated). `hx-audit verify` on the host names the first broken record; "
            f"journalctl -u {a.service} says when it was found.",
            runbook_base=runbook_base,
        ),
    ]
    if a.access_log is not None:
        rules.append(
            alert(
                alerts.AUDIT_HEAD_STALE,
                f"sum(increase({contract.ADMIN_CALLS_TOTAL}[{HEAD_STALE_MINUTES}m])) > 0\n"
                f"and on () changes({contract.HEAD_SEQ}[{HEAD_STALE_MINUTES}m]) == 0",
                "5m",
                "warning",
                "Admin calls are not reaching the audit log",
                f"The gateway answered admin calls in the last {HEAD_STALE_MINUTES} minutes, but the audit "
                "log's signed head did not advance: records are not being appended (full disk, missing "
                f"signing key, a log whose tail is not a record). See journalctl -u {a.service}.",
                runbook_base=runbook_base,
            )
        )
    return {"groups": [{"name": "hx-audit", "rules": rules}]}
