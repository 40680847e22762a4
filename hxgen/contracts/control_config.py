"""The configuration file of hx-control: rendered by hxgen.render.control from the Plan, read by
hxgen.control.config. The names it refers to are in hxgen.contracts.control."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .control import GATEWAY_STATE_DIR
from .service_config import Database, Listen
from .service_config import Strict as _Strict


class Tier(_Strict):
    requests_per_second: float
    burst: int
    daily_tokens: int | None = None


class Tenant(_Strict):
    role: Literal["admin", "operator", "user", "readonly"]
    tier: str
    models: list[str]
    """Model names or route aliases, or ["*"]."""
    daily_tokens: int | None = None
    """The tenant's quota (its own, else its tier's); None: no quota."""


class Model(_Strict):
    served_name: str
    engine: str
    task: Literal["generate", "embed"]
    version: str | None = None
    health_url: str
    """The engine's /health on loopback."""


class SplitTarget(_Strict):
    model: str
    weight: int = Field(ge=0, le=100)


class Canary(_Strict):
    """A route's variant under a progressive rollout (hxgen.control.rollout): hx-control moves its
    weight through steps_percent while the gate (the hx:canary_gate:failing series) holds, and to 0
    when the gate fails failed_checks times in a row."""

    model: str
    """The hx.yaml name of the variant under test; the route's other variants are the stable ones."""
    version: str
    """Its models[].version: a new (model, version) starts a new rollout."""
    steps_percent: list[int] = Field(min_length=1)
    step_min_s: int = Field(ge=0)
    step_min_requests: int = Field(ge=0)
    interval_s: int = Field(ge=1)
    failed_checks: int = Field(ge=1)
    promotion: Literal["auto", "manual"]


class Route(_Strict):
    sticky: Literal["tenant", "request"]
    weights_owner: Literal["spec", "control"]
    """spec: `hx-control sync` (every converge) sets the spec's split again. control: the split
    is the starting point; weights set through hx-control survive a converge."""
    split: list[SplitTarget]
    """The spec's split: its variants bound what hx-control may set."""
    canary: Canary | None = None


class Usage(_Strict):
    table: str
    time_zone: str


class ServiceConfig(_Strict):
    version: Literal["hx-control/v1"]
    host_name: str
    listen: Listen
    database: Database
    gateway_state_dir: str = GATEWAY_STATE_DIR
    reload_command: list[str] | None = None
    """None on a host, where the path unit reloads nginx when the state files change; a command
    (run after each write) where there is no systemd, as in the tests."""
    tenants: dict[str, Tenant]
    tiers: dict[str, Tier]
    models: dict[str, Model]
    """hx.yaml name -> model."""
    routes: dict[str, Route]
    alertmanager_url: str | None = None
    prometheus_url: str | None = None
    """Where the rollouts read their gate; None when no route has a canary."""
    gateway_status_url: str | None = None
    """The gateway's loopback status server: GET answers the route weights the running nginx
    loaded (hxgen.contracts.control.LIVE_WEIGHTS_PATH), which a rollout step is verified against."""
    audit_config: str | None = None
    """hx-audit's configuration file (hxgen.contracts.audit.CONFIG_PATH); None: the audit log is off."""
    usage: Usage | None = None
    """None without usage accounting: usage queries answer that it is off."""
    spec_file: str | None = None
    """The spec the host was converged from, for the cost model (hxgen.plan.costs)."""
    rotate_overlap_hours: int = Field(default=24, ge=0)
    """How long a rotated key keeps working beside its successor, unless the caller says otherwise."""
