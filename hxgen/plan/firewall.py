"""The host firewall: what `security.firewall` lets in, split by address family.

nftables matches IPv4 and IPv6 sources with different expressions (`ip saddr`, `ip6 saddr`), so
every source is sorted into its family here; the renderer only writes the rules out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..spec import Spec

RULESET_FILE = "nftables/hx.nft"
"""Below the rendered directory."""
HOST_RULESET_FILE = "/etc/hx/firewall/hx.nft"
"""Where the firewall role installs it and hx-firewall.service loads it from."""
TABLE = "inet hx"
"""hx's only table: replaced as a whole, so other tables (fail2ban's) survive a reload."""
SERVICE = "hx-firewall"
"""The oneshot unit that loads the table at boot."""
APPLY_COMMAND = "/usr/local/sbin/hx-firewall-apply"
"""Loads a table with confirm-or-revert (roles/firewall/files/hx-firewall-apply)."""


@dataclass(frozen=True)
class Sources:
    """Networks of one rule, by family; both empty means from anywhere."""

    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]

    @property
    def anywhere(self) -> bool:
        return not self.ipv4 and not self.ipv6


@dataclass(frozen=True)
class AllowRule:
    sources: Sources
    ports: tuple[int, ...]
    """TCP ports, sorted, without repeats."""
    comment: str


@dataclass(frozen=True)
class FirewallPlan:
    ssh_port: int
    ssh_sources: Sources
    """Both families empty: ssh_sources was empty, so SSH is open to every address."""
    allow: tuple[AllowRule, ...]
    ruleset_file: str
    host_ruleset_file: str
    table: str
    service: str
    apply_command: str

    @property
    def unit_file(self) -> str:
        return f"systemd/{self.service}.service"


def split(networks: list[str]) -> Sources:
    nets = [ipaddress.ip_network(n, strict=False) for n in networks]
    v4 = sorted({n for n in nets if n.version == 4}, key=lambda n: (int(n.network_address), n.prefixlen))
    v6 = sorted({n for n in nets if n.version == 6}, key=lambda n: (int(n.network_address), n.prefixlen))
    return Sources(tuple(map(str, v4)), tuple(map(str, v6)))


def build_firewall_plan(spec: Spec) -> FirewallPlan | None:
    fw = spec.security.firewall
    if not fw.enabled:
        return None
    return FirewallPlan(
        ssh_port=fw.ssh_port,
        ssh_sources=split(fw.ssh_sources),
        allow=tuple(AllowRule(split([r.source]), tuple(sorted(set(r.ports))), r.comment) for r in fw.allow),
        ruleset_file=RULESET_FILE,
        host_ruleset_file=HOST_RULESET_FILE,
        table=TABLE,
        service=SERVICE,
        apply_command=APPLY_COMMAND,
    )
