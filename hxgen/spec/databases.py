"""PostgreSQL with PgBouncer, and Qdrant."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .common import MemoryGb, Port, PositiveInt, StrictModel

PgIdentifier = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]


class PgDatabase(StrictModel):
    name: PgIdentifier
    owner: PgIdentifier = Field(
        description="Login role that owns the database; created with a generated password.",
    )


class PgTuning(StrictModel):
    """Leave a value out to let the role size it from host RAM."""

    max_connections: PositiveInt = 300
    shared_buffers_mb: PositiveInt | None = None
    effective_cache_size_mb: PositiveInt | None = None
    work_mem_mb: PositiveInt | None = None
    maintenance_work_mem_mb: PositiveInt | None = None


class PgBouncer(StrictModel):
    enabled: bool = True
    port: Port = 6432
    pool_mode: Literal["session", "transaction", "statement"] = "transaction"
    pool_size: PositiveInt = Field(default=200, description="Server connections per database/user pair.")
    max_client_connections: PositiveInt = 2000


class PgBackups(StrictModel):
    """Encrypted pg_dump backups of every hx database, on a systemd timer (role backup)."""

    enabled: bool = Field(
        default=True,
        description="Dump every database on a timer, encrypted with age, into host.storage.backups_dir/postgres.",
    )
    interval_hours: Literal[1, 2, 3, 4, 6, 8, 12, 24] = Field(
        default=24,
        description="Hours between backups (a divisor of 24, so runs fall on the same clock times every day); "
        "an alert fires when no backup succeeded for two intervals.",
    )
    keep_days: PositiveInt = Field(
        default=14,
        description="Backup files older than this are deleted; the newest good backup of a database is always kept.",
    )


class Postgres(StrictModel):
    enabled: bool = True
    version: Literal[15, 16, 17] = Field(
        default=15, description="15 is Debian 12's; 16/17 come from the PGDG repository."
    )
    port: Port = 5432
    listen_addresses: list[str] = Field(
        default=["127.0.0.1"],
        min_length=1,
        description="Loopback unless you need remote clients (then add them to the firewall too).",
    )
    memory_gb: MemoryGb = Field(
        default=16, description="Host RAM budget for PostgreSQL; shared_buffers defaults to a quarter of it."
    )
    tuning: PgTuning = Field(default_factory=PgTuning)
    pgbouncer: PgBouncer = Field(default_factory=PgBouncer)
    databases: list[PgDatabase] = Field(default_factory=lambda: [PgDatabase(name="hx", owner="hx")])
    retention_days: PositiveInt = Field(
        default=90,
        description="How long request and usage records are kept: a daily job deletes rows (or drops daily "
        "partitions) older than this from every table registered in the hx_retention schema of each database.",
    )
    backups: PgBackups = Field(default_factory=PgBackups)


class Hnsw(StrictModel):
    m: PositiveInt = 16
    ef_construct: PositiveInt = 100
    on_disk: bool = False


class Quantization(StrictModel):
    type: Literal["none", "scalar", "product", "binary"] = "none"
    always_ram: bool = True


class Collection(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    vector_size: PositiveInt
    distance: Literal["Cosine", "Dot", "Euclid", "Manhattan"] = "Cosine"
    hnsw: Hnsw = Field(default_factory=Hnsw)
    quantization: Quantization = Field(default_factory=Quantization)
    on_disk_payload: bool = True
    embedding_model: str | None = Field(
        default=None, description="Embedding model (task: embed) that fills this collection."
    )


class Snapshots(StrictModel):
    enabled: bool = True
    interval_hours: PositiveInt = 24
    keep: PositiveInt = 7


class Qdrant(StrictModel):
    enabled: bool = True
    version: str = Field(default="1.12.6", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    http_port: Port = 6333
    grpc_port: Port = 6334
    listen_address: str = "127.0.0.1"
    memory_gb: MemoryGb = 8
    collections: list[Collection] = []
    snapshots: Snapshots = Field(default_factory=Snapshots)


class Databases(StrictModel):
    postgres: Postgres = Field(default_factory=Postgres)
    qdrant: Qdrant = Field(default_factory=Qdrant)
