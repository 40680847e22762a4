"""hx-control's connections to PostgreSQL, through PgBouncer in transaction pooling: a connection
per operation (a handful of administrative calls a minute), nothing that needs session state, no
prepared statements. Every mutation takes one transaction-scoped advisory lock first, so changes
(the API's and `hx-control sync`'s) are serialised and the state files are written in the order
the changes were committed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from .. import services
from ..contracts import control as contract
from ..contracts.control_config import ServiceConfig
from ..pg_migrations import Schema
from .model import Unavailable

# "hxcontrl" in ASCII: any constant shared by every hx-control (and no other service).
MUTATION_LOCK_KEY = 0x6878_636F_6E74_726C
MIGRATIONS = Schema("hxgen.control", contract.SCHEMA, contract.MIGRATIONS_TABLE, 0x6878_636F_6E74_6D67, "hx-control")


def where(config: ServiceConfig) -> str:
    return services.where(config.database)


def connect(config: ServiceConfig, timeout_s: int = 5) -> psycopg.Connection:
    """Raises Unavailable, with where and what to check."""
    try:
        return services.connect(config.database, "hx-control", timeout_s)
    except (services.DatabaseDown, services.ConfigError) as exc:
        raise Unavailable(str(exc)) from None


@contextlib.contextmanager
def reading(config: ServiceConfig) -> Iterator[psycopg.Connection]:
    with _failures_unavailable(config), connect(config) as conn, conn.transaction():
        yield conn


@contextlib.contextmanager
def mutating(config: ServiceConfig) -> Iterator[psycopg.Connection]:
    """One transaction holding the mutation lock; it commits when the block returns."""
    with _failures_unavailable(config), connect(config) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MUTATION_LOCK_KEY,))
        yield conn


@contextlib.contextmanager
def _failures_unavailable(config: ServiceConfig) -> Iterator[None]:
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise Unavailable(f"PostgreSQL at {where(config)}: {str(exc).strip()}; run `hx-control migrate`") from None
    except psycopg.OperationalError as exc:
        raise Unavailable(f"PostgreSQL at {where(config)}: {str(exc).strip()}") from None
