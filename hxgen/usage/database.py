"""PostgreSQL through PgBouncer in transaction pooling: no session state survives a transaction,
so nothing relies on it (no SET, no session advisory locks) and no statement is prepared
(prepare_threshold=None). Rows go in as one INSERT ... SELECT FROM unnest(arrays) per batch with
ON CONFLICT DO NOTHING, so a batch written again (a crash between the commit and the saved
position) adds nothing, and the count of rows actually written stays exact."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

import psycopg

from .. import services
from ..contracts import usage as contract
from ..contracts.usage_config import ServiceConfig
from ..services import DatabaseDown
from . import days

COLUMN_TYPES = (
    "timestamptz", "text", "text", "text", "text", "text", "text", "text",
    "smallint", "text", "integer", "integer", "real", "real",
)  # fmt: skip
INSERT = (
    f"INSERT INTO {contract.TABLE} ({', '.join(contract.COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in COLUMN_TYPES)
    + ") ON CONFLICT DO NOTHING"
)
FEEDBACK = (
    f"UPDATE {contract.TABLE} SET rating = %s, feedback_comment = %s, feedback_at = now() "
    "WHERE request_id = %s AND tenant = %s RETURNING model_name"
)
PARTITION_LOCK_KEY = 0x6878_7573_6167_66
__all__ = ["DatabaseDown", "Writer", "connect", "partition_name", "where"]


def where(config: ServiceConfig) -> str:
    return services.where(config.database)


def connect(config: ServiceConfig, timeout_s: int = 5) -> psycopg.Connection:
    """Raises DatabaseDown, and ConfigError for an unreadable password file."""
    return services.connect(config.database, "hx-usage", timeout_s)


def partition_name(day: dt.date) -> str:
    return f"requests_p{day:%Y%m%d}"


class Writer:
    """One connection; the caller holds it from one thread at a time."""

    def __init__(self, conn: psycopg.Connection, observe=None) -> None:
        self.conn = conn
        self.observe = observe or (lambda statement, seconds: None)
        self._partitions: set[dt.date] = set()

    def ensure_partitions(self, wanted: Iterable[dt.date]) -> None:
        missing = sorted(set(wanted) - self._partitions)
        if not missing:
            return
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
            for day in missing:
                start, end = days.utc_day_bounds(day)
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {contract.SCHEMA}.{partition_name(day)} PARTITION OF "
                    f"{contract.TABLE} FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
        self._partitions.update(missing)

    def insert(self, rows: list[tuple]) -> int:
        """Rows written (those already there are skipped); one transaction."""
        if not rows:
            return 0
        self.ensure_partitions(r[0].astimezone(dt.UTC).date() for r in rows)
        columns = [list(c) for c in zip(*rows, strict=True)]
        started = time.perf_counter()
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(INSERT, columns)
                written = cur.rowcount
        except psycopg.errors.CheckViolation:
            # A partition dropped since we created it (retention, by hand): make it again, once.
            self._partitions.clear()
            self.ensure_partitions(r[0].astimezone(dt.UTC).date() for r in rows)
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(INSERT, columns)
                written = cur.rowcount
        self.observe("insert", time.perf_counter() - started)
        return written

    def feedback(self, tenant: str, request_id: str, rating: int, comment: str | None) -> str | None:
        """The model_name of the tenant's row that now carries the rating; None: no such row."""
        started = time.perf_counter()
        with self.conn.transaction():
            found = self.conn.execute(FEEDBACK, (rating, comment, request_id, tenant)).fetchall()
        self.observe("feedback", time.perf_counter() - started)
        return found[0][0] if found else None

    def close(self) -> None:
        self.conn.close()
