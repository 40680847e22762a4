"""Usage accounting: where the per-request rows live, the day quotas count in, and the reports
the host keeps. hx-usage runs whenever the gateway and PostgreSQL both do (hxgen.components)."""

from __future__ import annotations

import zoneinfo

from pydantic import Field, field_validator

from .common import PositiveInt, StrictModel
from .databases import PgIdentifier


class UsageReports(StrictModel):
    enabled: bool = Field(default=True, description="A weekly report written on the host (hx-usage-report.timer).")
    keep: PositiveInt = Field(default=8, le=520, description="Weekly reports kept on the host; older ones are removed.")


class Usage(StrictModel):
    enabled: bool = Field(
        default=True,
        description="Follow the gateway's access log into PostgreSQL and meter tokens per tenant. "
        "Needs the gateway and PostgreSQL; daily token quotas need it.",
    )
    database: PgIdentifier | None = Field(
        default=None,
        description="The databases.postgres.databases entry that holds the usage tables; "
        "defaults to the first. The service logs in as its owner, through PgBouncer.",
    )
    time_zone: str = Field(
        default="UTC",
        description="IANA time zone of the quota day (quotas reset at its midnight) and of report periods.",
    )
    reports: UsageReports = Field(default_factory=UsageReports)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as UTC or Europe/Berlin") from None
        return value
