"""Names and ports that must not repeat."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .. import components
from ..diagnostics import Diagnostic, SpecPath, dotted, error
from ..spec import Spec
from .sections import reads


def _duplicates(items: Iterable[tuple[object, SpecPath]], what: str, code: str) -> Iterator[Diagnostic]:
    first: dict[object, SpecPath] = {}
    for value, path in items:
        if value in first:
            shown = f"'{value}'" if isinstance(value, str) else value
            yield error(
                code,
                f"{what} {shown} is already used at {dotted(first[value])}",
                path,
                hint=f"each {what} must be unique",
            )
        else:
            first[value] = path


def _named(entries: list, section: SpecPath, attr: str = "name") -> Iterator[tuple[object, SpecPath]]:
    for i, entry in enumerate(entries):
        yield getattr(entry, attr), (*section, i, attr)


def _unique(groups: list[tuple[Iterator[tuple[object, SpecPath]], str]]) -> Iterator[Diagnostic]:
    for items, what in groups:
        yield from _duplicates(items, what, "duplicate-name")


# One check per section, so that errors in one section do not hold back the names of another.
@reads("host")
def unique_gpu_indexes(spec: Spec) -> Iterator[Diagnostic]:
    yield from _unique([(_named(spec.host.gpus, ("host", "gpus"), "index"), "GPU index")])


@reads("models")
def unique_model_names(spec: Spec) -> Iterator[Diagnostic]:
    yield from _unique([(_named(spec.models, ("models",)), "model name")])


@reads("gateway")
def unique_gateway_names(spec: Spec) -> Iterator[Diagnostic]:
    g = spec.gateway
    yield from _unique(
        [
            (_named(g.tenants, ("gateway", "tenants")), "tenant name"),
            (_named(g.rate_limit_tiers, ("gateway", "rate_limit_tiers")), "tier name"),
            (_named(g.api_versions, ("gateway", "api_versions")), "API version"),
        ]
    )


@reads("databases")
def unique_database_names(spec: Spec) -> Iterator[Diagnostic]:
    db = spec.databases
    yield from _unique(
        [
            (_named(db.postgres.databases, ("databases", "postgres", "databases")), "database name"),
            (_named(db.qdrant.collections, ("databases", "qdrant", "collections")), "collection name"),
        ]
    )


@reads("monitoring")
def unique_monitoring_names(spec: Spec) -> Iterator[Diagnostic]:
    mon = spec.monitoring
    yield from _unique(
        [
            (_named(mon.receivers, ("monitoring", "receivers")), "receiver name"),
            (_named(mon.extra_rules, ("monitoring", "extra_rules"), "alert"), "alert name"),
        ]
    )


@reads("analytics")
def unique_series_names(spec: Spec) -> Iterator[Diagnostic]:
    yield from _unique([(_named(spec.analytics.series, ("analytics", "series")), "series name")])


@reads("business")
def unique_reference_prices(spec: Spec) -> Iterator[Diagnostic]:
    if spec.business:
        yield from _unique(
            [(_named(spec.business.reference_prices, ("business", "reference_prices")), "reference price")]
        )


@reads("models", "gateway")
def unique_public_names(spec: Spec) -> Iterator[Diagnostic]:
    """Clients address models by served name or route alias; one name, one destination."""
    names = [m.name for m in spec.models]
    # A repeated hx name is already reported by unique_names; say it once.
    served = (
        (m.public_name, ("models", i, "served_name" if m.served_name else "name"))
        for i, m in enumerate(spec.models)
        if m.served_name or names.count(m.name) == 1
    )
    aliases = ((r.alias, ("gateway", "routes", i, "alias")) for i, r in enumerate(spec.gateway.routes))
    yield from _duplicates([*served, *aliases], "model name clients send", "duplicate-name")


# The sections listening_ports reads; components.helper_ports reads these and host.
LISTENING_SECTIONS = ("models", "gateway", "databases", "monitoring", "analytics")


def listening_ports(spec: Spec) -> Iterator[tuple[int, SpecPath]]:
    """Every port an enabled service binds on the host."""
    for i, m in enumerate(spec.models):
        yield m.port, ("models", i, "port")
        if m.protocol == "grpc" and m.grpc_port is not None:
            yield m.grpc_port, ("models", i, "grpc_port")
    g = spec.gateway
    if g.enabled:
        if g.tls.mode != "off":
            yield g.listen.https_port, ("gateway", "listen", "https_port")
        yield g.listen.http_port, ("gateway", "listen", "http_port")
        if g.grpc.enabled:
            yield g.grpc.port, ("gateway", "grpc", "port")
    pg, qd = spec.databases.postgres, spec.databases.qdrant
    if pg.enabled:
        yield pg.port, ("databases", "postgres", "port")
        if pg.pgbouncer.enabled:
            yield pg.pgbouncer.port, ("databases", "postgres", "pgbouncer", "port")
    if qd.enabled:
        yield qd.http_port, ("databases", "qdrant", "http_port")
        yield qd.grpc_port, ("databases", "qdrant", "grpc_port")
    mon = spec.monitoring
    for attr in ("prometheus_port", "alertmanager_port", "node_exporter_port"):
        yield getattr(mon, attr), ("monitoring", attr)
    if mon.grafana.enabled:
        yield mon.grafana.port, ("monitoring", "grafana", "port")
    if spec.analytics.enabled:
        yield spec.analytics.port, ("analytics", "port")


@reads(*LISTENING_SECTIONS)
def unique_ports(spec: Spec) -> Iterator[Diagnostic]:
    yield from _duplicates(listening_ports(spec), "port", "port-conflict")


@reads(*LISTENING_SECTIONS, *components.READS)
def no_reserved_ports(spec: Spec) -> Iterator[Diagnostic]:
    reserved = {helper.port: helper.what for helper in components.helper_ports(spec)}
    for port, path in listening_ports(spec):
        if port in reserved:
            yield error(
                "port-conflict", f"port {port} is reserved for {reserved[port]}", path, hint="choose another port"
            )


CHECKS = (
    unique_gpu_indexes,
    unique_model_names,
    unique_gateway_names,
    unique_database_names,
    unique_monitoring_names,
    unique_series_names,
    unique_reference_prices,
    unique_public_names,
    unique_ports,
    no_reserved_ports,
)
