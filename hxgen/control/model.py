"""The model of the host that the management API shows, in one place: REST (hxgen.control.rest),
GraphQL (hxgen.control.graphql) and the operator's page (hxgen.control.ui) are thin adapters over
the Control protocol, so the three can never disagree on what a caller may see or do.

Every method takes the Caller (what the gateway verified) and checks its permission
(hxgen.contracts.control.PERMISSIONS) itself; an adapter never decides on access.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Caller:
    tenant: str
    role: str
    key_id: str
    """"" when the caller used a client certificate."""


class ControlError(Exception):
    """A request that cannot be served; status is the HTTP status the REST adapter answers."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ControlError):
    status, code = 400, "invalid_request"


class Forbidden(ControlError):
    status, code = 403, "forbidden"


class NotFound(ControlError):
    status, code = 404, "not_found"


class Conflict(ControlError):
    status, code = 409, "conflict"


class Unavailable(ControlError):
    """A part the answer needs is down or off (PostgreSQL, Alertmanager, usage accounting)."""

    status, code = 503, "unavailable"


@dataclass(frozen=True)
class Tenant:
    name: str
    role: str
    tier: str
    models: list[str]
    daily_tokens: int | None


@dataclass(frozen=True)
class ApiKey:
    """A key as anyone may see it: never its hash, never the key."""

    id: str
    tenant: str
    created: dt.datetime
    expires: dt.datetime | None
    revoked: dt.datetime | None
    note: str | None
    origin: str
    """hxgen.contracts.control.ORIGIN_INVENTORY or ORIGIN_CONTROL."""
    replaces: str | None = None
    """The id of the key this one was rotated from."""

    def status(self, now: dt.datetime) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "ok"


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str
    """The key itself: shown once, to the caller that made it, and never stored."""
    replaced: ApiKey | None = None
    """For a rotation: the old key, now with the end of its overlap as its expiry."""


@dataclass(frozen=True)
class Health:
    healthy: bool
    status: int | None
    """The engine's HTTP status, None when it did not answer."""
    detail: str


@dataclass(frozen=True)
class Model:
    name: str
    served_name: str
    engine: str
    task: str
    version: str | None
    health: Health


@dataclass(frozen=True)
class Weight:
    model: str
    weight: int


@dataclass(frozen=True)
class Route:
    alias: str
    sticky: str
    weights_owner: str
    split: list[Weight]
    """The live weights."""
    spec_split: list[Weight]
    changed: dt.datetime | None
    changed_by: str | None


@dataclass(frozen=True)
class Rollout:
    """A route's canary rollout (hxgen.control.rollout) as the API shows it."""

    alias: str
    canary: str
    version: str
    phase: str
    """progressing, waiting, succeeded or rolled_back."""
    step: int
    """1-based: step `step` of `steps`."""
    steps: int
    steps_percent: list[int]
    canary_weight: int
    """The canary's weight in the split this state puts on the gateway."""
    promotion: str
    failed_checks: int
    failed_checks_limit: int
    checks: dict[str, Any]
    reason: str
    since: dt.datetime
    """When the current step (or the rollback) began."""
    verified: dt.datetime | None
    """When the gateway was seen serving this split; null: not yet."""
    changed: dt.datetime
    changed_by: str
    current: bool
    """False when the configuration's canary is another (model, version): the next check starts it."""


@dataclass(frozen=True)
class UsageRow:
    tenant: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    """In the spec's currency; None when the spec prices nothing."""


@dataclass(frozen=True)
class Usage:
    start: dt.datetime
    end: dt.datetime
    currency: str | None
    rows: list[UsageRow]


@dataclass(frozen=True)
class Quota:
    tenant: str
    daily_tokens: int | None
    used_tokens: int
    day: dt.date


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str | None
    state: str
    starts_at: dt.datetime
    summary: str | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any]


class Control(Protocol):
    """What the management API can read and do. Reads filter by the caller's scope (a user sees
    only its own tenant); mutations raise Forbidden unless the caller's role allows them, and
    each successful mutation is in the audit log before it returns."""

    def whoami(self, caller: Caller) -> dict[str, Any]: ...

    def tenants(self, caller: Caller) -> list[Tenant]: ...

    def tenant(self, caller: Caller, name: str) -> Tenant:
        """Forbidden for another tenant than an own-scope caller's; NotFound for no such tenant."""
        ...

    def keys(self, caller: Caller, tenant: str | None = None) -> list[ApiKey]: ...

    def create_key(
        self, caller: Caller, tenant: str, note: str | None = None, expires: dt.datetime | None = None
    ) -> NewKey: ...

    def rotate_key(
        self, caller: Caller, key_id: str, overlap_hours: int | None = None, note: str | None = None
    ) -> NewKey: ...

    def revoke_key(self, caller: Caller, key_id: str) -> ApiKey: ...

    def models(self, caller: Caller) -> list[Model]: ...

    def routes(self, caller: Caller) -> list[Route]: ...

    def set_route_weights(self, caller: Caller, alias: str, split: list[Weight]) -> Route: ...

    def usage(
        self,
        caller: Caller,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        tenant: str | None = None,
        model: str | None = None,
    ) -> Usage:
        """start None: the start of today in the usage time zone; end None: now."""
        ...

    def quotas(self, caller: Caller) -> list[Quota]: ...

    def alerts(self, caller: Caller) -> list[Alert]: ...

    def audit(self, caller: Caller, limit: int = 50, action: str | None = None) -> list[AuditRecord]: ...

    def rollouts(self, caller: Caller) -> list[Rollout]:
        """The rollouts of the routes that have a canary, by alias."""
        ...

    def rollout(self, caller: Caller, alias: str) -> Rollout:
        """NotFound for a route without a canary, or one whose rollout has not started yet."""
        ...

    def promote_rollout(self, caller: Caller, alias: str) -> Rollout:
        """The next step now (progressing or waiting); Conflict in a terminal phase."""
        ...

    def restart_rollout(self, caller: Caller, alias: str) -> Rollout:
        """Start an ended rollout (rolled_back or succeeded) again at the first step; Conflict otherwise."""
        ...
