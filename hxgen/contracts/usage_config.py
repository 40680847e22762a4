"""The configuration file of hx-usage: rendered by hxgen.render.usage, read by hxgen.usage.config
and by `hxgen report --config`. The names it refers to are in hxgen.contracts.usage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .service_config import Database, Listen
from .service_config import Strict as _Strict
from .usage import QUOTA_DIR


class TenantQuota(_Strict):
    daily_tokens: int | None = Field(default=None, ge=1)
    """The tenant's own quota, else its tier's; None: no quota."""


class Reports(_Strict):
    enabled: bool
    directory: str
    keep: int = Field(ge=1)
    prometheus_url: str
    """Where `hx-usage report` reads SLOs, latencies and alerts."""


class ServiceConfig(_Strict):
    version: Literal["hx-usage/v1"]
    access_log: str
    state_dir: str
    """The durable read positions and today's counts (position.json)."""
    quota_dir: str = QUOTA_DIR
    listen: Listen
    database: Database
    time_zone: str
    tenants: dict[str, TenantQuota]
    """Every tenant the gateway knows (the spec's, and the probe's): the only tenant label values."""
    models: dict[str, str]
    """Served name -> hx.yaml name of every model: the only model label values."""
    poll_s: float = Field(default=0.5, gt=0, le=5)
    """How often the access log is read; quotas are enforced at most about this late (plus a write)."""
    reports: Reports | None = None
