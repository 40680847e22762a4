"""The usage tables as hx-usage creates them, for tests that need rows without running the
service: its own migrations (hxgen/usage/migrations) and its own day partitions."""

from __future__ import annotations

import datetime as dt

import psycopg

from hxgen.usage import migrations
from hxgen.usage.database import Writer


def create_usage_tables(dsn: str, first_day: dt.date, last_day: dt.date) -> None:
    """Migrate, then one partition per UTC day from first_day to last_day."""
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        migrations.migrate(conn)
        days = (last_day - first_day).days + 1
        Writer(conn).ensure_partitions(first_day + dt.timedelta(days=i) for i in range(days))
