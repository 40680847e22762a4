"""The firewall's allow-list against what the host listens on: internal services opened on
purpose only, and a gateway that clients can still reach."""

from __future__ import annotations

from collections.abc import Iterator

from .. import components
from ..diagnostics import Diagnostic, SpecPath, error, warning
from ..spec import Spec
from .sections import reads
from .uniqueness import LISTENING_SECTIONS, listening_ports

LOOPBACK = ("127.0.0.1", "::1")


def _gateway_client_ports(spec: Spec) -> list[tuple[int, SpecPath]]:
    """The ports that serve clients: HTTPS when TLS is on (plain HTTP then only redirects to it),
    plain HTTP when it is off, and gRPC when it is on."""
    g = spec.gateway
    ports = [(g.listen.https_port, ("gateway", "listen", "https_port"))] if g.tls.mode != "off" else []
    if g.tls.mode == "off":
        ports.append((g.listen.http_port, ("gateway", "listen", "http_port")))
    if g.grpc.enabled:
        ports.append((g.grpc.port, ("gateway", "grpc", "port")))
    return ports


def _internal_ports(spec: Spec) -> dict[int, str]:
    """What listens on the host for its own parts only: engines, databases, monitoring,
    analytics, and the exporters and status pages the roles add."""
    internal = {h.port: h.what for h in components.helper_ports(spec)}
    for port, path in listening_ports(spec):
        if path[0] != "gateway":
            internal.setdefault(port, _named(spec, path))
    return internal


def _named(spec: Spec, path: SpecPath) -> str:
    if path[0] == "models":
        return f"the engine of model '{spec.models[path[1]].name}'"
    return ".".join(str(p) for p in path)


@reads(*LISTENING_SECTIONS, *components.READS)
def internal_ports_opened(spec: Spec) -> Iterator[Diagnostic]:
    fw = spec.security.firewall
    if not fw.enabled:
        return
    internal = _internal_ports(spec)
    for i, rule in enumerate(fw.allow):
        for j, port in enumerate(rule.ports):
            if port in internal:
                yield warning(
                    "firewall-opens-internal-port",
                    f"this rule lets {rule.source} reach port {port}, {internal[port]}, an internal service "
                    "that only this host's own parts need",
                    ("security", "firewall", "allow", i, "ports", j),
                    hint="remove the port from this rule unless exposing it is deliberate; if it is, say why in "
                    "the rule's comment (and make the service listen beyond 127.0.0.1)",
                )


@reads("security", "gateway")
def gateway_reachable(spec: Spec) -> Iterator[Diagnostic]:
    fw, g = spec.security.firewall, spec.gateway
    if not fw.enabled or not g.enabled or g.listen.address in LOOPBACK:
        return
    client_ports = _gateway_client_ports(spec)
    allowed = {port for rule in fw.allow for port in rule.ports}
    if any(port in allowed for port, _ in client_ports):
        return
    shown = ", ".join(str(p) for p, _ in client_ports)
    yield error(
        "gateway-unreachable",
        f"the firewall is on and no rule in security.firewall.allow opens the gateway's port ({shown}): "
        "it would drop every client that is not on this host",
        ("security", "firewall", "allow"),
        hint=f"add a rule for your clients' network, e.g. `- {{source: 10.0.0.0/8, ports: [{shown}], "
        "comment: API clients}` under security.firewall.allow; or keep the gateway local with "
        "gateway.listen.address: 127.0.0.1; or set security.firewall.enabled: false",
    )


CHECKS = (internal_ports_opened, gateway_reachable)
