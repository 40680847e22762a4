"""Schema migrations of hx's services (hx-usage, hx-control): plain numbered SQL files
(<package>/migrations/NNNN_name.sql, package data), applied in order, each in its own transaction,
recorded in the schema's migrations table with the file's SHA-256. An applied file that has
changed since is an error, not a silent drift. pg_advisory_xact_lock serialises concurrent runs
(the service and the playbook); it is a transaction lock, so it works through PgBouncer's
transaction pooling, which a session lock would not.

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


@dataclass(frozen=True)
class Schema:
    """One service's schema: where its migrations ship and where they are recorded."""

    package: str
    """The package whose migrations/ directory holds the SQL files, e.g. hxgen.usage."""
    schema: str
    table: str
    """The schema-qualified table of applied migrations."""
    lock_key: int
    """A constant per service, for pg_advisory_xact_lock."""
    service: str
    """The service's name, for messages."""

    def bundled(self) -> list[Migration]:
        files = resources.files(self.package) / "migrations"
        found = []
        for entry in files.iterdir():
            match = NAME.match(entry.name)
            if match:
                found.append(Migration(match.group(1), entry.name, entry.read_text(encoding="utf-8")))
        return sorted(found, key=lambda m: m.version)

    def _lock_and_read(self, conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (version text PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute(f"SELECT version, name, checksum FROM {self.table}").fetchall()
        return {version: (name, checksum) for version, name, checksum in rows}

    def _check(self, applied: dict[str, tuple[str, str]], known: list[Migration]) -> None:
        by_version = {m.version: m for m in known}
        for version, (name, checksum) in sorted(applied.items()):
            m = by_version.get(version)
            if m is None:
                raise MigrationError(
                    f"migration {name} is applied but not shipped with this {self.service} (a newer one ran?)"
                )
            if m.checksum != checksum:
                raise MigrationError(
                    f"migration {m.name} changed after it was applied (checksum {checksum[:12]} in the database, "
                    f"{m.checksum[:12]} now): add a new migration instead of editing an applied one"
                )

    def migrate(self, conn: psycopg.Connection, known: list[Migration] | None = None) -> list[str]:
        """Apply what is pending; the names applied (empty: nothing to do). conn: autocommit on."""
        known = self.bundled() if known is None else known
        with conn.transaction():
            applied = self._lock_and_read(conn)
            self._check(applied, known)
        done = []
        for m in known:
            if m.version in applied:
                continue
            with conn.transaction():
                if m.version in self._lock_and_read(conn):  # another run applied it meanwhile
                    continue
                conn.execute(m.sql)
                conn.execute(
                    f"INSERT INTO {self.table} (version, name, checksum) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.checksum),
                )
            done.append(m.name)
        return done
