"""Every name that points somewhere must find its target."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .. import components, layout
from ..diagnostics import Diagnostic, SpecPath, did_you_mean, error
from ..spec import Spec
from ..spec.gateway import ALL_MODELS
from .sections import reads


def _unresolved(value: str, choices: Iterable[str], what: str, path: SpecPath) -> Diagnostic:
    choices = sorted(set(choices))
    listed = ", ".join(choices) if choices else "none are declared"
    hint = did_you_mean(value, choices) or f"declared: {listed}"
    return error("unknown-reference", f"no {what} named '{value}'", path, hint)


def _model_names(spec: Spec) -> set[str]:
    """Models may be named by their hx name or by the name clients send."""
    return {m.name for m in spec.models} | {m.public_name for m in spec.models}


@reads("host", "models")
def gpu_assignments(spec: Spec) -> Iterator[Diagnostic]:
    indexes = {g.index for g in spec.host.gpus}
    for i, model in enumerate(spec.models):
        seen: set[int] = set()
        for j, gpu in enumerate(model.gpus):
            path = ("models", i, "gpus", j)
            if gpu in seen:
                yield error("duplicate-gpu", f"GPU {gpu} is listed twice", path)
            elif gpu not in indexes:
                have = ", ".join(str(x) for x in sorted(indexes)) or "none"
                yield error(
                    "unknown-reference",
                    f"no GPU with index {gpu} in host.gpus (have: {have})",
                    path,
                    hint="assign GPUs declared under host.gpus",
                )
            seen.add(gpu)


@reads("gateway", "models")
def tenants(spec: Spec) -> Iterator[Diagnostic]:
    g = spec.gateway
    tiers = [t.name for t in g.rate_limit_tiers]
    callable_names = _model_names(spec) | {r.alias for r in g.routes}
    for i, tenant in enumerate(g.tenants):
        if tenant.tier not in tiers:
            yield _unresolved(tenant.tier, tiers, "rate-limit tier", ("gateway", "tenants", i, "tier"))
        for j, name in enumerate(tenant.models):
            if name != ALL_MODELS and name not in callable_names:
                yield _unresolved(name, callable_names, "model or route", ("gateway", "tenants", i, "models", j))


@reads("gateway", "monitoring", "models")  # components.probes_enabled reads all three
def probe_tenant(spec: Spec) -> Iterator[Diagnostic]:
    for i, tenant in enumerate(spec.gateway.tenants):
        if tenant.name == layout.PROBE_TENANT and components.probes_enabled(spec):
            yield error(
                "reserved-name",
                f"'{tenant.name}' is the tenant of hx's synthetic probes",
                ("gateway", "tenants", i, "name"),
                hint="choose another name, or disable monitoring.probes",
            )


@reads("monitoring", "models", "gateway")
def probes(spec: Spec) -> Iterator[Diagnostic]:
    wanted = spec.monitoring.probes.model
    callable_names = _model_names(spec) | {r.alias for r in spec.gateway.routes}
    if wanted is not None and wanted not in callable_names:
        yield _unresolved(wanted, callable_names, "model or route", ("monitoring", "probes", "model"))


@reads("models", "gateway")
def routes(spec: Spec) -> Iterator[Diagnostic]:
    names = _model_names(spec)
    for i, route in enumerate(spec.gateway.routes):
        base = ("gateway", "routes", i)
        targets: set[str] = set()
        for j, target in enumerate(route.split):
            if target.model not in names:
                yield _unresolved(target.model, names, "model", (*base, "split", j, "model"))
            elif target.model in targets:
                yield error(
                    "duplicate-name",
                    f"'{target.model}' appears twice in this split",
                    (*base, "split", j, "model"),
                )
            targets.add(target.model)
        total = sum(t.weight for t in route.split)
        if total != 100:
            yield error(
                "split-weights",
                f"weights add up to {total}, not 100",
                (*base, "split"),
                hint="weights are percentages of the alias's traffic",
            )


@reads("databases", "models")
def collections(spec: Spec) -> Iterator[Diagnostic]:
    embedders = [m.name for m in spec.models if m.task == "embed"]
    for i, collection in enumerate(spec.databases.qdrant.collections):
        if collection.embedding_model is not None and collection.embedding_model not in embedders:
            yield _unresolved(
                collection.embedding_model,
                embedders,
                "embedding model (task: embed)",
                ("databases", "qdrant", "collections", i, "embedding_model"),
            )


@reads("usage", "databases")
def usage_database(spec: Spec) -> Iterator[Diagnostic]:
    yield from _service_database(spec, "usage", spec.usage.enabled, spec.usage.database)


@reads("control", "databases")
def control_database(spec: Spec) -> Iterator[Diagnostic]:
    yield from _service_database(spec, "control", spec.control.enabled, spec.control.database)


def _service_database(spec: Spec, section: str, enabled: bool, name: str | None) -> Iterator[Diagnostic]:
    """A service's `database:` names a databases.postgres.databases entry (None: the first)."""
    declared = [d.name for d in spec.databases.postgres.databases]
    if enabled and name is not None and name not in declared:
        yield _unresolved(name, declared, "PostgreSQL database", (section, "database"))


@reads("databases")
def connection_pool(spec: Spec) -> Iterator[Diagnostic]:
    pg = spec.databases.postgres
    if pg.enabled and pg.pgbouncer.enabled:
        # PgBouncer keeps one pool per database (each owner connects to its own database);
        # PostgreSQL keeps superuser_reserved_connections (3) plus room for admin sessions.
        pools = len(pg.databases)
        needed = pg.pgbouncer.pool_size * pools + 10
        if needed > pg.tuning.max_connections:
            yield error(
                "pool-exceeds-connections",
                f"PgBouncer may open {pg.pgbouncer.pool_size} x {pools} database(s) = "
                f"{pg.pgbouncer.pool_size * pools} server connections; max_connections must be at least {needed}, "
                f"but it is {pg.tuning.max_connections}",
                ("databases", "postgres", "tuning", "max_connections"),
                hint="raise tuning.max_connections or lower pgbouncer.pool_size",
            )


@reads("monitoring")
def alerting(spec: Spec) -> Iterator[Diagnostic]:
    mon = spec.monitoring
    receivers = [r.name for r in mon.receivers]
    for i, route in enumerate(mon.routes):
        if route.receiver not in receivers:
            yield _unresolved(route.receiver, receivers, "receiver", ("monitoring", "routes", i, "receiver"))
    for field in ("default_receiver", "watchdog_receiver"):
        name = getattr(mon, field)
        if name is not None and name not in receivers:
            yield _unresolved(name, receivers, "receiver", ("monitoring", field))
    if mon.email is None:
        for i, receiver in enumerate(mon.receivers):
            if receiver.type == "email":
                yield error(
                    "missing-key",
                    "an email receiver needs monitoring.email (smarthost and from_address)",
                    ("monitoring", "receivers", i, "type"),
                    hint="add 'email: {smarthost: relay.example:587, from_address: alerts@example}' under monitoring",
                )


@reads("business", "models")
def business(spec: Spec) -> Iterator[Diagnostic]:
    if spec.business is None:
        return
    names = _model_names(spec)
    for i, ref in enumerate(spec.business.reference_prices):
        for j, model in enumerate(ref.compare_with):
            if model not in names:
                yield _unresolved(model, names, "model", ("business", "reference_prices", i, "compare_with", j))


CHECKS = (
    gpu_assignments,
    tenants,
    probe_tenant,
    probes,
    routes,
    collections,
    usage_database,
    control_database,
    connection_pool,
    alerting,
    business,
)
