"""The usage table as the contract describes it (hxgen.contracts.usage), for tests that need rows
before hx-usage's own migrations exist: the one place to swap them in.

Partitioned by day of `time` like the service's (`requests_pYYYYMMDD`, UTC days), with the
indexes the reports rely on: (tenant, time) and (model_name, time)."""

from __future__ import annotations

import datetime as dt

from hxgen.contracts import usage as contract

_TYPES = {
    "time": "timestamptz NOT NULL",
    "request_id": "text NOT NULL",
    "tenant": "text NOT NULL",
    "role": "text NOT NULL",
    "model": "text NOT NULL",
    "variant": "text NOT NULL",
    "model_name": "text NOT NULL",
    "endpoint": "text NOT NULL",
    "status": "smallint NOT NULL",
    "cache": "text NOT NULL DEFAULT ''",
    "prompt_tokens": "integer",
    "completion_tokens": "integer",
    "request_s": "real NOT NULL",
    "upstream_s": "real",
    "rating": f"smallint CHECK (rating BETWEEN {contract.RATING_MIN} AND {contract.RATING_MAX})",
    "feedback_comment": "text",
    "feedback_at": "timestamptz",
}


def usage_ddl(first_day: dt.date, last_day: dt.date) -> str:
    """The schema, the table, one partition per UTC day from first_day to last_day, the indexes."""
    assert set(_TYPES) == set(contract.COLUMNS + contract.FEEDBACK_COLUMNS), "the contract's columns changed"
    columns = ",\n  ".join(f"{name} {_TYPES[name]}" for name in contract.COLUMNS + contract.FEEDBACK_COLUMNS)
    statements = [
        f"CREATE SCHEMA {contract.SCHEMA}",
        f"CREATE TABLE {contract.TABLE} (\n  {columns},\n  PRIMARY KEY (request_id, time)\n) PARTITION BY RANGE (time)",
        f"CREATE INDEX requests_tenant_time ON {contract.TABLE} (tenant, time)",
        f"CREATE INDEX requests_model_time ON {contract.TABLE} (model_name, time)",
    ]
    day = first_day
    while day <= last_day:
        following = day + dt.timedelta(days=1)
        statements.append(
            f"CREATE TABLE {contract.SCHEMA}.requests_p{day:%Y%m%d} PARTITION OF {contract.TABLE} "
            f"FOR VALUES FROM ('{day} 00:00+00') TO ('{following} 00:00+00')"
        )
        day = following
    return ";\n".join(statements) + ";\n"
