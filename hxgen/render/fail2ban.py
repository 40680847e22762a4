"""fail2ban: hx's jails (jail.d/hx.local), the gateway's filter and the audit action, and the
alerts on what the audit service counts (bans and bursts of failed authentication).

The fail2ban role copies the three files into /etc/fail2ban/{jail.d,filter.d,action.d}/ and
checks the whole configuration with `fail2ban-client -t`. Every setting is per jail, never in
[DEFAULT], so jails the host's administrator enabled elsewhere keep their own.
"""

from __future__ import annotations

from typing import Any

from .. import alerts
from ..plan import Plan
from ..plan.intrusion import (
    AUDIT_ACTION,
    GATEWAY_FILTER,
    GATEWAY_JAIL,
    NFTABLES_ACTION,
    NFTABLES_BLOCKTYPE,
    NFTABLES_TYPE,
    IntrusionPlan,
    Jail,
)
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, header, yaml_text

FAIL2BAN_DIR = f"{RENDERED_DIR}/fail2ban"
JAIL_FILE = f"{FAIL2BAN_DIR}/jail.d/hx.local"
FILTER_FILE = f"{FAIL2BAN_DIR}/filter.d/{GATEWAY_FILTER}.conf"
ACTION_FILE = f"{FAIL2BAN_DIR}/action.d/{AUDIT_ACTION}.conf"
RULES_FILE = f"{RENDERED_DIR}/prometheus/rules/hx-intrusion.yml"

# A line of the gateway's JSON access log (log_format hx_json, escape=json) that nginx answered
# 401: no key, or one it does not know. The lookahead makes the match independent of the
# fields' order. A client cannot forge either field inside a string it controls (a path, a
# model name): escape=json turns its quotes into \", so `"client":"` never appears inside one.
GATEWAY_FAILREGEX = r'^(?=.*"status":401(?!\d)).*"client":"<ADDR>"'
# $time_iso8601: 2026-12-02T01:51:08+00:00. `%` is doubled for fail2ban's config parser.
GATEWAY_DATEPATTERN = r'"time":"%%Y-%%m-%%dT%%H:%%M:%%S%%z"'
# The window of the burst alert's rate, and how long a burst must last to raise it.
BURST_RATE_WINDOW = "5m"
BURST_FOR = "10m"
BANNED_WINDOW = "15m"


def _section(name: str, options: list[tuple[str, str]]) -> str:
    lines = [f"[{name}]"]
    for key, value in options:
        first, *rest = value.split("\n")
        lines.append(f"{key} = {first}".rstrip())
        lines.extend(" " * (len(key) + 3) + more for more in rest)
    return "\n".join(lines) + "\n"


def ban_actions(intrusion: IntrusionPlan, jail: Jail) -> list[str]:
    """What a ban of this jail does: drop (firewall on), record (audit log on), or both."""
    actions = []
    if intrusion.enforced:
        ports = ",".join(str(p) for p in jail.ports)
        actions.append(
            f'{NFTABLES_ACTION}[type={NFTABLES_TYPE}, port="{ports}", protocol=tcp, blocktype={NFTABLES_BLOCKTYPE}]'
        )
    if intrusion.recorded:
        actions.append(AUDIT_ACTION)
    return actions


def jail_file(plan: Plan, intrusion: IntrusionPlan) -> str:
    if intrusion.enforced:
        does = "A ban drops the address in fail2ban's own nftables table (stock action, the jail's ports)"
        does += " and is recorded in the audit log." if intrusion.recorded else "."
    elif intrusion.recorded:
        does = "The firewall is off, so hx loads no packet filter: a ban is recorded in the audit log, not enforced."
    else:
        does = "The firewall and the audit log are off: a ban is only written to fail2ban's own log."
    parts = [
        header(plan.spec_file)
        + "# hx's jails (security.fail2ban). Settings are per jail, so other jails keep theirs.\n"
        + f"# {does}\n"
    ]
    for jail in intrusion.jails:
        options = [
            ("enabled", "true"),
            ("filter", jail.filter),
            ("backend", jail.backend),
        ]
        if jail.log_path:
            options.append(("logpath", jail.log_path))
        options += [
            ("port", ",".join(str(p) for p in jail.ports)),
            ("maxretry", str(intrusion.max_retry)),
            ("findtime", str(intrusion.find_seconds)),
            ("bantime", str(intrusion.ban_seconds)),
            ("ignoreip", " ".join(intrusion.ignore_ip)),
            ("action", "\n".join(ban_actions(intrusion, jail))),
        ]
        parts.append(_section(jail.name, options))
    return "\n".join(parts)


def filter_file(plan: Plan) -> str:
    return (
        header(plan.spec_file)
        + "# A request the gateway answered 401, from <ADDR>: its JSON access log (log_format hx_json).\n"
        + "# <ADDR>, not <HOST>: the field holds an address, never a name to look up.\n"
        + _section("INCLUDES", [])
        + "\n"
        + _section(
            "Definition",
            [("failregex", GATEWAY_FAILREGEX), ("ignoreregex", ""), ("datepattern", GATEWAY_DATEPATTERN)],
        )
    )


def action_file(plan: Plan, intrusion: IntrusionPlan) -> str:
    def call(what: str) -> str:
        detail = '{"jail":"<name>","address":"<ip>","seconds":<bantime>}'
        return f"<hx_audit> append --actor fail2ban --action {what} --detail '{detail}'"

    return (
        header(plan.spec_file)
        + "# Records every ban and unban in hx's audit log, whose exporter counts them\n"
        + '# (hx_audit_records_total{action="ban"}). Bans restored after a restart are not new events.\n'
        + _section(
            "Definition",
            [
                ("norestored", "true"),
                ("actionstart", ""),
                ("actionstop", ""),
                ("actioncheck", ""),
                ("actionban", call("ban")),
                ("actionunban", call("unban")),
            ],
        )
        + "\n"
        + _section("Init", [("hx_audit", intrusion.audit_command)])
    )


def intrusion_alerts(intrusion: IntrusionPlan, runbook_base: str) -> list[dict[str, Any]]:
    banned = 'hx_audit_records_total{action="ban"}'
    found = [
        alert(
            alerts.CLIENT_BANNED,
            # The second half catches the first ban: a counter that did not exist before has no increase.
            f"increase({banned}[{BANNED_WINDOW}]) > 0\nor\n({banned} unless {banned} offset {BANNED_WINDOW})",
            "",
            "ticket",
            "fail2ban banned a client",
            f"{{{{ $value | humanize }}}} bans in the last {BANNED_WINDOW}"
            f"{'' if intrusion.enforced else ' (recorded, not enforced: the firewall is off)'}. "
            "The audit log names each address and jail (hx-audit records with action ban).",
            runbook_base=runbook_base,
        )
    ]
    if intrusion.jail(GATEWAY_JAIL) is not None:
        minutes = intrusion.find_seconds // 60
        found.append(
            alert(
                alerts.AUTH_FAILURE_BURST,
                # At this rate the find window sees more 401s than fail2ban lets one address make.
                f"sum(rate(hx_gateway_auth_failures_total[{BURST_RATE_WINDOW}])) * {intrusion.find_seconds}"
                f" > {intrusion.max_retry}",
                BURST_FOR,
                "ticket",
                "The gateway keeps refusing API keys",
                f"At {{{{ $value | humanize }}}} 401s per {minutes} minutes (more than the {intrusion.max_retry} that "
                f"ban one address) for {BURST_FOR}: guessing from many addresses, or a client with a revoked key. "
                "See the gateway's access log for the clients and tenants.",
                runbook_base=runbook_base,
            )
        )
    return found


def render(plan: Plan) -> list[Artifact]:
    intrusion = plan.intrusion
    if intrusion is None:
        return []
    artifacts = [Artifact(JAIL_FILE, jail_file(plan, intrusion))]
    if intrusion.jail(GATEWAY_JAIL) is not None:
        artifacts.append(Artifact(FILTER_FILE, filter_file(plan)))
    if intrusion.recorded:
        artifacts.append(Artifact(ACTION_FILE, action_file(plan, intrusion)))
        interval = f"{plan.monitoring.evaluation_interval_s}s"
        rules = intrusion_alerts(intrusion, plan.monitoring.runbook_base_url)
        groups = {"groups": [{"name": "hx-intrusion", "interval": interval, "rules": rules}]}
        artifacts.append(Artifact(RULES_FILE, yaml_text(groups, plan.spec_file)))
    return artifacts
