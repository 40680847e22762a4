"""The REST adapter: API_PREFIX + "/v1/...", a thin layer over Control (hxgen.control.model).
It reads the caller from the gateway's three headers (and nothing else the client sent), turns
ControlError into its status with {"error": {"code", "message"}}, and describes every answer with a
pydantic model: they are the published OpenAPI document (hxgen/control/openapi.json) and the
generated client's types, so their field descriptions are the API's documentation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from ..contracts import control as contract
from . import headers
from . import model as m

V1 = f"{contract.API_PREFIX}/v1"
BEARER = HTTPBearer(
    auto_error=False,
    description="An API key of the gateway (`Authorization: Bearer hx-...`): the gateway checks it and tells "
    "hx-control the tenant and role; hx-control itself is reachable through the gateway only.",
)


# --- the caller ---------------------------------------------------------------------------------
Unauthenticated = headers.Unauthenticated


def caller(request: Request, _bearer: Annotated[Any, Depends(BEARER)]) -> m.Caller:
    """From the headers the gateway sets after verifying the key (it overwrites a client's)."""
    return headers.caller(request.headers)


def control(request: Request) -> m.Control:
    return request.app.state.control


# --- the answers --------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(_Out):
    code: str = Field(description="Machine-readable: invalid_request, unauthenticated, forbidden, not_found, "
                      "conflict, unavailable.")  # fmt: skip
    message: str = Field(description="What went wrong and, where it helps, what to do.")


class ErrorBody(_Out):
    error: ErrorDetail


class WhoAmI(_Out):
    tenant: str = Field(description="The tenant of the key the call was made with.")
    role: str = Field(description="The tenant's role: admin, operator, user or readonly.")
    key_id: str = Field(
        description=f"The id of the key used; {contract.CERTIFICATE_KEY_ID!r} for a client certificate."
    )
    permissions: list[str] = Field(description="What the role may do (hxgen.contracts.control.PERMISSIONS).")


class TenantOut(_Out):
    name: str
    role: str = Field(description="admin, operator, user or readonly.")
    tier: str = Field(description="The rate-limit tier.")
    models: list[str] = Field(description='Models or route aliases the tenant may use; ["*"] for all.')
    daily_tokens: int | None = Field(description="The daily token quota; null: none.")


class KeyOut(_Out):
    id: str = Field(description="The key's public id (the `hx-<id>-` part of the key).")
    tenant: str
    created: dt.datetime
    expires: dt.datetime | None = Field(description="When the key stops working; null: never.")
    revoked: dt.datetime | None = Field(description="When the key was revoked; null: not revoked.")
    note: str | None
    origin: str = Field(description="inventory (from the controller's inventory, synced on converge) or "
                        "control (created on the host through hx-control).")  # fmt: skip
    replaces: str | None = Field(default=None, description="The key this one was rotated from.")
    status: str = Field(description="ok, expired or revoked, now.")


class NewKeyOut(_Out):
    key: KeyOut
    secret: str = Field(description="The key itself: shown this once, never stored (only its SHA-256 is).")
    replaced: KeyOut | None = Field(default=None, description="For a rotation: the old key, with the end of "
                                    "its overlap as its expiry.")  # fmt: skip


class HealthOut(_Out):
    healthy: bool
    status: int | None = Field(description="The engine's HTTP status; null when it did not answer.")
    detail: str


class ModelOut(_Out):
    name: str = Field(description="The model's name in hx.yaml.")
    served_name: str = Field(description="The name clients send as `model`.")
    engine: str
    task: str = Field(description="generate or embed.")
    version: str | None
    health: HealthOut = Field(description="Asked of the engine just now (a 2 s timeout).")


class WeightIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="A variant of the route (a model's hx.yaml name).")
    weight: int = Field(description="Percent of the route's requests, 0 to 100.")


class WeightOut(_Out):
    model: str
    weight: int


class RouteOut(_Out):
    alias: str = Field(description="The name clients send as `model`.")
    sticky: str = Field(description="tenant or request: what keeps a caller on one variant.")
    weights_owner: str = Field(description="spec: a converge sets the spec's split again; control: weights "
                               "set here survive a converge.")  # fmt: skip
    split: list[WeightOut] = Field(description="The live weights, in the spec's order.")
    spec_split: list[WeightOut] = Field(description="The spec's weights.")
    changed: dt.datetime | None = Field(description="When the live weights were last set; null: never.")
    changed_by: str | None = Field(description="Who set them: <tenant>/<key id>, or hx-control/sync.")


class UsageRowOut(_Out):
    tenant: str
    model: str = Field(description="The hx.yaml name of the model that answered.")
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = Field(description="The tenant's share of the model's cost over the period (the "
                               "host's cost model, without measured energy), in `currency`; null when the "
                               "spec prices nothing.")  # fmt: skip


class UsageOut(_Out):
    start: dt.datetime
    end: dt.datetime
    currency: str | None
    rows: list[UsageRowOut] = Field(description="One per tenant and model with requests in the period.")


class QuotaOut(_Out):
    tenant: str
    daily_tokens: int | None = Field(description="The quota; null: none.")
    used_tokens: int = Field(description="Prompt and completion tokens of the day so far.")
    day: dt.date = Field(description="The quota day, in the usage time zone.")


class AlertOut(_Out):
    name: str
    severity: str | None
    state: str
    starts_at: dt.datetime
    summary: str | None
    labels: dict[str, str]


class AuditRecordOut(_Out):
    seq: int
    time: dt.datetime
    actor: str = Field(description="<tenant>/<key id> for a call through hx-control.")
    action: str
    detail: dict[str, Any]


class RolloutOut(_Out):
    alias: str = Field(description="The route.")
    canary: str = Field(description="The variant under test (its hx.yaml model name).")
    version: str = Field(description="The canary's models[].version this rollout is of.")
    phase: str = Field(description="progressing (at a step), waiting (the step held; promotion is manual), "
                       "succeeded (the canary takes all the traffic) or rolled_back (the spec's split).")  # fmt: skip
    step: int = Field(description="The current step, from 1.")
    steps: int = Field(description="How many steps there are.")
    steps_percent: list[int] = Field(description="The canary's weight at each step.")
    canary_weight: int = Field(description="The canary's percent of the route's requests in this state.")
    promotion: str = Field(description="auto, or manual (each held step waits for a promotion).")
    failed_checks: int = Field(description="Consecutive checks whose gate failed.")
    failed_checks_limit: int = Field(description="This many failing checks in a row roll back.")
    checks: dict[str, Any] = Field(description="The failing checks of the last check, their values and the "
                                   "evidence; {} when the gate held.")  # fmt: skip
    reason: str = Field(description="Why the rollout is where it is.")
    since: dt.datetime = Field(description="When the current step (or the rollback) began.")
    verified: dt.datetime | None = Field(description="When the gateway was seen serving this split; null: not "
                                         "yet (a step counts only once it is).")  # fmt: skip
    changed: dt.datetime
    changed_by: str = Field(description="hx-rollout (the controller), or <tenant>/<key id> for a promotion or restart.")
    current: bool = Field(description="false when the configuration's canary is another model or version: the "
                          "next check starts its rollout.")  # fmt: skip


class CreateKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str
    note: str | None = Field(default=None, description="Free text, at most 200 characters.")
    expires: dt.datetime | None = Field(default=None, description="When the key stops working (with a time "
                                        "zone); null: never.")  # fmt: skip


class RotateKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: int | None = Field(default=None, description="How long the old key keeps working beside the "
                                      "new one (0 to 720); the host's default when null.")  # fmt: skip
    note: str | None = Field(default=None, description="The new key's note; the old key's when null.")


class SetWeightsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    split: list[WeightIn] = Field(description="Every variant of the route's spec split, once, the weights adding "
                                  "up to 100.")  # fmt: skip


def _key(k: m.ApiKey) -> KeyOut:
    return KeyOut(**vars(k), status=k.status(dt.datetime.now(dt.UTC)))


def _new(n: m.NewKey) -> NewKeyOut:
    return NewKeyOut(key=_key(n.key), secret=n.secret, replaced=_key(n.replaced) if n.replaced else None)


# --- the routes ---------------------------------------------------------------------------------
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "The request is invalid; the message says what to change."),
        (401, "No verified caller: call through the gateway with an API key."),
        (403, "The caller's role may not do this, or not for that tenant."),
        (404, "No such tenant, key or route; or the route has no canary, or its rollout has not started."),
        (409, "The key is revoked or expired already; or the rollout is not in a phase that allows this."),
        (503, "A part the answer needs is down or off (PostgreSQL, Alertmanager, usage, the audit log)."),
    )
}
router = APIRouter(prefix=V1, tags=["v1"], responses=ERRORS)
Who = Annotated[m.Caller, Depends(caller)]
Ctl = Annotated[m.Control, Depends(control)]


@router.get("/whoami", operation_id="whoami", response_model=WhoAmI)
def whoami(who: Who, c: Ctl) -> Any:
    """The caller as the gateway verified it, and what its role may do."""
    return c.whoami(who)


@router.get("/tenants", operation_id="list_tenants", response_model=list[TenantOut])
def list_tenants(who: Who, c: Ctl) -> Any:
    """Every tenant (admin, operator), or the caller's own."""
    return c.tenants(who)


@router.get("/tenants/{name}", operation_id="get_tenant", response_model=TenantOut)
def get_tenant(name: str, who: Who, c: Ctl) -> Any:
    """One tenant; a user or readonly caller may ask for its own only."""
    return c.tenant(who, name)


@router.get("/keys", operation_id="list_keys", response_model=list[KeyOut])
def list_keys(
    who: Who,
    c: Ctl,
    tenant: Annotated[str | None, Query(description="Only this tenant's keys.")] = None,
) -> Any:
    """Keys (ids, dates, notes; never a hash or a key), oldest first; a user sees its tenant's only."""
    return [_key(k) for k in c.keys(who, tenant)]


@router.post("/keys", operation_id="create_key", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED)
def create_key(body: CreateKeyIn, who: Who, c: Ctl) -> Any:
    """A new key for a tenant (admin): the answer carries the key, once. The gateway accepts it
    within 5 s."""
    return _new(c.create_key(who, body.tenant, body.note, body.expires))


@router.post(
    "/keys/{key_id}/rotate", operation_id="rotate_key", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED
)
def rotate_key(key_id: str, body: RotateKeyIn, who: Who, c: Ctl) -> Any:
    """A new key for the same tenant; the old one keeps working for the overlap, then expires."""
    return _new(c.rotate_key(who, key_id, body.overlap_hours, body.note))


@router.post("/keys/{key_id}/revoke", operation_id="revoke_key", response_model=KeyOut)
def revoke_key(key_id: str, who: Who, c: Ctl) -> Any:
    """Revoke a key: the gateway refuses it within 5 s; a revocation is permanent (409 if repeated)."""
    return _key(c.revoke_key(who, key_id))


@router.get("/models", operation_id="list_models", response_model=list[ModelOut])
def list_models(who: Who, c: Ctl) -> Any:
    """The spec's models, with the health their engines report now."""
    return c.models(who)


@router.get("/routes", operation_id="list_routes", response_model=list[RouteOut])
def list_routes(who: Who, c: Ctl) -> Any:
    """Routes (model aliases split over variants) with their live and spec weights."""
    return c.routes(who)


@router.put("/routes/{alias}/weights", operation_id="set_route_weights", response_model=RouteOut)
def set_route_weights(alias: str, body: SetWeightsIn, who: Who, c: Ctl) -> Any:
    """Set a route's live weights, bounded by the spec's variants; the gateway uses them within 5 s."""
    return c.set_route_weights(who, alias, [m.Weight(w.model, w.weight) for w in body.split])


@router.get("/usage", operation_id="get_usage", response_model=UsageOut)
def get_usage(
    who: Who,
    c: Ctl,
    start: Annotated[
        dt.datetime | None,
        Query(description="ISO 8601 with a time zone; default: the start of today in the usage time zone."),
    ] = None,
    end: Annotated[dt.datetime | None, Query(description="Exclusive; default: now.")] = None,
    tenant: Annotated[str | None, Query(description="Only this tenant.")] = None,
    model: Annotated[str | None, Query(description="Only this model (hx.yaml name).")] = None,
) -> Any:
    """Requests, tokens and cost per tenant and model over a period; a user sees its own tenant."""
    return c.usage(who, start, end, tenant, model)


@router.get("/quotas", operation_id="list_quotas", response_model=list[QuotaOut])
def list_quotas(who: Who, c: Ctl) -> Any:
    """Today's tokens of each tenant against its daily quota; a user sees its own."""
    return c.quotas(who)


@router.get("/alerts", operation_id="list_alerts", response_model=list[AlertOut])
def list_alerts(who: Who, c: Ctl) -> Any:
    """The alerts firing now (Alertmanager's active ones, not silenced or inhibited)."""
    return c.alerts(who)


@router.get("/audit", operation_id="list_audit_records", response_model=list[AuditRecordOut])
def list_audit_records(
    who: Who,
    c: Ctl,
    limit: Annotated[int, Query(description="At most this many records (1 to 500).")] = 50,
    action: Annotated[str | None, Query(description="Only records of this action, e.g. key-revoked.")] = None,
) -> Any:
    """The newest audit records, newest first."""
    return c.audit(who, limit, action)


@router.get("/rollouts", operation_id="list_rollouts", response_model=list[RolloutOut])
def list_rollouts(who: Who, c: Ctl) -> Any:
    """The canary rollouts of the routes that have a canary, by route."""
    return c.rollouts(who)


@router.get("/rollouts/{alias}", operation_id="get_rollout", response_model=RolloutOut)
def get_rollout(alias: str, who: Who, c: Ctl) -> Any:
    """One route's rollout: phase, step, the canary's weight, failed checks, whether it is verified."""
    return c.rollout(who, alias)


@router.post("/rollouts/{alias}/promote", operation_id="promote_rollout", response_model=RolloutOut)
def promote_rollout(alias: str, who: Who, c: Ctl) -> Any:
    """The next step now: from waiting (manual promotion), or from progressing, skipping the rest of
    the step's minimums; from the last step, succeeded. 409 when succeeded or rolled back."""
    return c.promote_rollout(who, alias)


@router.post("/rollouts/{alias}/restart", operation_id="restart_rollout", response_model=RolloutOut)
def restart_rollout(alias: str, who: Who, c: Ctl) -> Any:
    """Start an ended rollout (rolled back, or succeeded) again at its first step. 409 while one
    runs (progressing or waiting)."""
    return c.restart_rollout(who, alias)
