"""PostgreSQL, PgBouncer and Qdrant as the roles and dashboards need them; a database that is
turned off has no section (None), as decided by hxgen.components."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec
from .postgres_tuning import PostgresParallelism, PostgresSizing, size_parallelism, size_postgres


@dataclass(frozen=True)
class PgDatabasePlan:
    name: str
    owner: str


@dataclass(frozen=True)
class PostgresPlan:
    host: str
    version: int
    port: int
    listen_addresses: tuple[str, ...]
    memory_gb: float
    sizing: PostgresSizing
    """Memory settings: the spec's tuning where set, sized from memory_gb where not."""
    databases: tuple[PgDatabasePlan, ...]
    retention_days: int
    parallelism: PostgresParallelism
    """Worker processes sized from host.cpu_cores."""


@dataclass(frozen=True)
class PgBouncerPlan:
    host: str
    port: int
    pool_mode: str
    pool_size: int
    max_client_connections: int


@dataclass(frozen=True)
class QdrantPlan:
    host: str
    version: str
    http_port: int
    grpc_port: int
    listen_address: str
    collections: tuple[dict, ...]
    """Each collection with the values that are set, as the role creates it."""
    snapshots: dict
    memory_gb: float
    """MemoryMax of qdrant.service (databases.qdrant.memory_gb)."""


@dataclass(frozen=True)
class DatabasesPlan:
    postgres: PostgresPlan | None
    pgbouncer: PgBouncerPlan | None
    qdrant: QdrantPlan | None


def build_databases_plan(spec: Spec, roles: tuple[str, ...]) -> DatabasesPlan:
    host = spec.host.name
    pg, qd = spec.databases.postgres, spec.databases.qdrant
    pb = pg.pgbouncer
    return DatabasesPlan(
        postgres=PostgresPlan(
            host=host,
            version=pg.version,
            port=pg.port,
            listen_addresses=tuple(pg.listen_addresses),
            memory_gb=pg.memory_gb,
            sizing=size_postgres(pg.memory_gb, pg.tuning),
            parallelism=size_parallelism(spec.host.cpu_cores),
            databases=tuple(PgDatabasePlan(d.name, d.owner) for d in pg.databases),
            retention_days=pg.retention_days,
        )
        if "postgresql" in roles
        else None,
        pgbouncer=PgBouncerPlan(host, pb.port, pb.pool_mode, pb.pool_size, pb.max_client_connections)
        if "pgbouncer" in roles
        else None,
        qdrant=QdrantPlan(
            host=host,
            version=qd.version,
            http_port=qd.http_port,
            grpc_port=qd.grpc_port,
            listen_address=qd.listen_address,
            collections=tuple(c.model_dump(exclude_none=True) for c in qd.collections),
            snapshots=qd.snapshots.model_dump(),
            memory_gb=qd.memory_gb,
        )
        if "qdrant" in roles
        else None,
    )


@dataclass(frozen=True)
class ServiceLogin:
    """How a service of the host (hx-usage, hx-control) reaches PostgreSQL: through PgBouncer when
    it runs, as the owner of the database it was given."""

    host: str
    port: int
    database: str
    owner: str


def service_login(spec: Spec, database: str | None) -> ServiceLogin:
    """database: the spec's choice (checked by hxgen.checks.references); None, the first database."""
    pg = spec.databases.postgres
    db = next((d for d in pg.databases if d.name == (database or pg.databases[0].name)), None)
    port = pg.pgbouncer.port if pg.pgbouncer.enabled else pg.port
    return ServiceLogin("127.0.0.1", port, db.name if db else "", db.owner if db else "")
