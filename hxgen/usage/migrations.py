"""Schema migrations: plain numbered SQL files (migrations/NNNN_name.sql, package data), applied in
order by `hx-usage migrate` (and by the service when it connects), each in its own transaction,
recorded in MIGRATIONS_TABLE with the file's SHA-256. An applied file that has changed since is
an error, not a silent drift. pg_advisory_xact_lock serialises concurrent runs (the service and
the playbook); it is a transaction lock, so it works through PgBouncer's transaction pooling,
which a session lock would not.

Why plain SQL rather than alembic: a handful of tables, no ORM whose models could generate the
migrations, and the SQL is what reviewers read and what runs; a runner of forty lines needs no
extra dependency or env.py on the host.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from ..contracts import usage as contract

# Any constant shared by every hx-usage: "hxusage" in ASCII.
LOCK_KEY = 0x6878_7573_6167_65
NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def bundled() -> list[Migration]:
    files = resources.files("hxgen.usage") / "migrations"
    found = []
    for entry in files.iterdir():
        match = NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def _lock_and_read(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {contract.SCHEMA}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {contract.MIGRATIONS_TABLE} (version text PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = conn.execute(f"SELECT version, name, checksum FROM {contract.MIGRATIONS_TABLE}").fetchall()
    return {version: (name, checksum) for version, name, checksum in rows}


def _check(applied: dict[str, tuple[str, str]], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    for version, (name, checksum) in sorted(applied.items()):
        m = by_version.get(version)
        if m is None:
            raise MigrationError(f"migration {name} is applied but not shipped with this hx-usage (a newer one ran?)")
        if m.checksum != checksum:
            raise MigrationError(
                f"migration {m.name} changed after it was applied (checksum {checksum[:12]} in the database, "
                f"{m.checksum[:12]} now): add a new migration instead of editing an applied one"
            )


def migrate(conn: psycopg.Connection, known: list[Migration] | None = None) -> list[str]:
    """Apply what is pending; the names applied (empty: nothing to do). conn: autocommit off."""
    known = bundled() if known is None else known
    with conn.transaction():
        applied = _lock_and_read(conn)
        _check(applied, known)
    done = []
    for m in known:
        if m.version in applied:
            continue
        with conn.transaction():
            if m.version in _lock_and_read(conn):  # another run applied it meanwhile
                continue
            conn.execute(m.sql)
            conn.execute(
                f"INSERT INTO {contract.MIGRATIONS_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
        done.append(m.name)
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
