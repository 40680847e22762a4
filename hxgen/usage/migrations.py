"""hx-usage's schema migrations (migrations/NNNN_name.sql), applied by `hx-usage migrate` and by
the service when it connects, with the shared runner (hxgen.pg_migrations), then the usage table
registered with hx_retention."""

from __future__ import annotations

import psycopg

from ..contracts import usage as contract
from ..pg_migrations import Migration, MigrationError, Schema

__all__ = ["SCHEMA", "Migration", "MigrationError", "bundled", "migrate", "register_retention"]

# Any constant shared by every hx-usage: "hxusage" in ASCII.
SCHEMA = Schema("hxgen.usage", contract.SCHEMA, contract.MIGRATIONS_TABLE, 0x6878_7573_6167_65, "hx-usage")


def bundled() -> list[Migration]:
    return SCHEMA.bundled()


def migrate(conn: psycopg.Connection, known: list[Migration] | None = None) -> list[str]:
    """Apply what is pending; the names applied (empty: nothing to do). conn: autocommit on."""
    done = SCHEMA.migrate(conn, known)
    register_retention(conn)
    return done


def register_retention(conn: psycopg.Connection) -> bool:
    """Register TABLE with hx_retention (idempotent); False when the schema is not installed yet
    (the backup role creates it; the service registers again on its next connection)."""
    with conn.transaction():
        if conn.execute("SELECT to_regproc('hx_retention.register') IS NOT NULL").fetchone()[0] is not True:
            return False
        # An empty search_path makes regclass::text schema-qualified, which the superuser's prune resolves.
        conn.execute("SET LOCAL search_path = pg_catalog")
        conn.execute(f"SELECT hx_retention.register('{contract.TABLE}', 'time', 'drop-partitions')")
    return True
