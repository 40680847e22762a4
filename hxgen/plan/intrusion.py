"""Intrusion response (fail2ban), resolved from security.fail2ban: which jails watch what, how
many failures within which window ban an address, for how long, and what a ban does.

What a ban does follows contract 2 of the security chapter: with the firewall on, fail2ban's
stock nftables action drops the address in a table of its own (never in hx's `table inet hx`);
with the firewall off, hx loads no packet filter at all, so bans are only recorded (audit log
and metrics) and `hxgen validate` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import layout
from ..spec import Spec

SSHD_JAIL = "sshd"
GATEWAY_JAIL = "hx-gateway"
GATEWAY_FILTER = "hx-gateway-auth"
AUDIT_ACTION = "hx-audit"
# Never banned: the synthetic probe and every local client reach the gateway over loopback.
IGNORE_IP = ("127.0.0.1/8", "::1")
# fail2ban's stock action, per jail's ports (multiport): a ban closes the service that was
# abused, so an operator whose client sent a stale key keeps the SSH session to fix it. Dropped,
# not rejected: a banned address sees what every port outside the allow-list shows it.
NFTABLES_ACTION = "nftables"
NFTABLES_TYPE = "multiport"
NFTABLES_BLOCKTYPE = "drop"


@dataclass(frozen=True)
class Jail:
    name: str
    filter: str
    ports: tuple[int, ...]
    backend: str
    """systemd: read from the journal (Debian 12's sshd logs nowhere else); auto: tail a file."""
    log_path: str | None
    """The file the jail tails; None for journal jails."""


@dataclass(frozen=True)
class IntrusionPlan:
    host: str
    max_retry: int
    find_seconds: int
    ban_seconds: int
    ignore_ip: tuple[str, ...]
    jails: tuple[Jail, ...]
    enforced: bool
    """The firewall is on: the stock nftables action drops banned addresses."""
    recorded: bool
    """The audit log is on: every ban and unban is appended to it (and counted by its exporter)."""
    audit_command: str

    def jail(self, name: str) -> Jail | None:
        return next((j for j in self.jails if j.name == name), None)


def build_intrusion_plan(spec: Spec, roles: tuple[str, ...]) -> IntrusionPlan | None:
    f2b = spec.security.fail2ban
    if not f2b.enabled:
        return None
    jails = [Jail(SSHD_JAIL, "sshd", (spec.security.firewall.ssh_port,), "systemd", None)]
    if "gateway" in roles:
        g = spec.gateway
        # With TLS, the plain port only redirects; it is closed to a banned address all the same.
        tls = g.tls.mode != "off"
        ports = tuple(sorted({g.listen.http_port, g.listen.https_port} if tls else {g.listen.http_port}))
        access_log = layout.gateway_access_log(spec.host.storage.logs_dir)
        jails.append(Jail(GATEWAY_JAIL, GATEWAY_FILTER, ports, "auto", access_log))
    return IntrusionPlan(
        host=spec.host.name,
        max_retry=f2b.max_retry,
        find_seconds=f2b.find_minutes * 60,
        ban_seconds=f2b.ban_minutes * 60,
        ignore_ip=IGNORE_IP,
        jails=tuple(jails),
        enforced=spec.security.firewall.enabled,
        recorded=spec.security.audit_log.enabled,
        audit_command=layout.AUDIT_COMMAND,
    )
