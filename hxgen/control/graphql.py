"""The GraphQL adapter at GRAPHQL_PATH: the same model as REST (hxgen.control.model), read and changed
through the same Control methods, so the same RBAC (hxgen.control.rbac) decides; nothing here
grants or refuses anything. A nested field that needs another permission (a tenant's keys, its
usage today) asks Control for it, so a caller may get the tenant and a FORBIDDEN error on that
field alone.

Errors carry extensions.code: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT, UNAVAILABLE,
UNAUTHENTICATED (from the ControlError), and GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED for a
document that is malformed, too deep (GRAPHQL_MAX_DEPTH) or too long (GRAPHQL_MAX_TOKENS).

The published schema is hxgen/control/schema.graphql:
    python -m hxgen.control.graphql > hxgen/control/schema.graphql"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from typing import Any

import anyio.to_thread
import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.scalars import JSON
from strawberry.types import Info

from ..contracts import control as contract
from . import headers
from . import model as m

CODES = {
    "forbidden": "FORBIDDEN",
    "not_found": "NOT_FOUND",
    "invalid_request": "BAD_USER_INPUT",
    "conflict": "CONFLICT",
    "unavailable": "UNAVAILABLE",
    "unauthenticated": "UNAUTHENTICATED",
}
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


# --- reaching the host --------------------------------------------------------------------------
class Context(BaseContext):
    def __init__(self, control: m.Control) -> None:
        super().__init__()
        self.control = control
        self.memo: dict[str, Any] = {}

    @property
    def caller(self) -> m.Caller:
        return headers.caller(self.request.headers)


async def _ask(info: Info, method: str, *args: Any) -> Any:
    """control.<method>(caller, *args) in a worker thread (Control blocks on PostgreSQL and on the
    engines), a ControlError as a GraphQL error with its code."""
    context: Context = info.context
    try:
        who = context.caller
        call = functools.partial(getattr(context.control, method), who, *args)
        return await anyio.to_thread.run_sync(call)
    except m.ControlError as exc:
        raise GraphQLError(exc.message, extensions={"code": CODES.get(exc.code, "BAD_USER_INPUT")}) from None


async def _once(info: Info, method: str) -> Any:
    """A caller-wide answer that several nested fields share, asked once per request."""
    memo = info.context.memo
    if method not in memo:
        memo[method] = await _ask(info, method)
    return memo[method]


# --- the types ----------------------------------------------------------------------------------
@strawberry.type(description="The caller as the gateway verified it, and what its role may do.")
class WhoAmI:
    tenant: str
    role: str = strawberry.field(description="admin, operator, user or readonly.")
    key_id: str = strawberry.field(
        description=f"The id of the key used; {contract.CERTIFICATE_KEY_ID!r} for a client certificate."
    )
    permissions: list[str]


@strawberry.type(description="An API key as anyone may see it: never its hash, never the key.")
class Key:
    id: str = strawberry.field(description="The key's public id (the `hx-<id>-` part of the key).")
    tenant: str
    created: dt.datetime
    expires: dt.datetime | None = strawberry.field(description="When the key stops working; null: never.")
    revoked: dt.datetime | None = strawberry.field(description="When it was revoked; null: not revoked.")
    note: str | None
    origin: str = strawberry.field(description="inventory (synced on converge) or control (made on the host).")
    replaces: str | None = strawberry.field(description="The key this one was rotated from.")
    status: str = strawberry.field(description="ok, expired or revoked, now.")

    @classmethod
    def of(cls, k: m.ApiKey) -> Key:
        return cls(**vars(k), status=k.status(dt.datetime.now(dt.UTC)))


@strawberry.type(description="A new key: the secret is shown this once and never stored.")
class NewKey:
    key: Key
    secret: str
    replaced: Key | None = strawberry.field(description="For a rotation: the old key, expiring after the overlap.")

    @classmethod
    def of(cls, n: m.NewKey) -> NewKey:
        return cls(key=Key.of(n.key), secret=n.secret, replaced=Key.of(n.replaced) if n.replaced else None)


@strawberry.type(description="A tenant's tokens of the quota day so far against its daily quota.")
class Quota:
    tenant: str
    daily_tokens: int | None = strawberry.field(description="The quota; null: none.")
    used_tokens: int = strawberry.field(description="Prompt and completion tokens of the day so far.")
    day: dt.date = strawberry.field(description="The quota day, in the usage time zone.")

    @strawberry.field(description="What is left of the quota today; null: no quota.")
    def remaining_tokens(self) -> int | None:
        return None if self.daily_tokens is None else max(self.daily_tokens - self.used_tokens, 0)

    @classmethod
    def of(cls, q: m.Quota) -> Quota:
        return cls(**vars(q))


@strawberry.type
class Tenant:
    name: str
    role: str = strawberry.field(description="admin, operator, user or readonly.")
    tier: str = strawberry.field(description="The rate-limit tier.")
    models: list[str] = strawberry.field(description='Models or route aliases it may use; ["*"] for all.')
    daily_tokens: int | None = strawberry.field(description="The daily token quota; null: none.")

    @strawberry.field(description="The tenant's keys, oldest first (needs keys:read).")
    async def keys(self, info: Info) -> list[Key]:
        return [Key.of(k) for k in await _ask(info, "keys", self.name)]

    @strawberry.field(description="Today's tokens against the quota (needs usage:read).")
    async def usage_today(self, info: Info) -> Quota:
        quotas = await _once(info, "quotas")
        return next(Quota.of(q) for q in quotas if q.tenant == self.name)

    @classmethod
    def of(cls, t: m.Tenant) -> Tenant:
        return cls(**vars(t))


@strawberry.type(description="What the engine answered to its health check just now (2 s timeout).")
class Health:
    healthy: bool
    status: int | None = strawberry.field(description="The engine's HTTP status; null when it did not answer.")
    detail: str


@strawberry.type(description="A route this model is a variant of, with its live weight there.")
class VariantOf:
    alias: str
    weight: int


@strawberry.type
class Model:
    name: str = strawberry.field(description="The model's name in hx.yaml.")
    served_name: str = strawberry.field(description="The name clients send as `model`.")
    engine: str
    task: str = strawberry.field(description="generate or embed.")
    version: str | None
    health: Health

    @strawberry.field(description="The routes that split over this model, with its live weight (needs routes:read).")
    async def variant_of(self, info: Info) -> list[VariantOf]:
        routes = await _once(info, "routes")
        return [VariantOf(alias=r.alias, weight=w.weight) for r in routes for w in r.split if w.model == self.name]

    @classmethod
    def of(cls, x: m.Model) -> Model:
        return cls(
            name=x.name, served_name=x.served_name, engine=x.engine, task=x.task, version=x.version,
            health=Health(**vars(x.health)),
        )  # fmt: skip


@strawberry.type
class Weight:
    model: str = strawberry.field(description="A variant of the route (a model's hx.yaml name).")
    weight: int = strawberry.field(description="Percent of the route's requests.")


@strawberry.input
class WeightInput:
    model: str = strawberry.field(description="A variant of the route (a model's hx.yaml name).")
    weight: int = strawberry.field(description="Percent of the route's requests, 0 to 100.")


@strawberry.type(description="A model alias split over variants.")
class Route:
    alias: str
    sticky: str = strawberry.field(description="tenant or request: what keeps a caller on one variant.")
    weights_owner: str = strawberry.field(description="spec (a converge resets the weights) or control.")
    split: list[Weight] = strawberry.field(description="The live weights, in the spec's order.")
    spec_split: list[Weight]
    changed: dt.datetime | None
    changed_by: str | None = strawberry.field(description="<tenant>/<key id>, or hx-control/sync.")

    @classmethod
    def of(cls, r: m.Route) -> Route:
        return cls(
            alias=r.alias, sticky=r.sticky, weights_owner=r.weights_owner,
            split=[Weight(**vars(w)) for w in r.split], spec_split=[Weight(**vars(w)) for w in r.spec_split],
            changed=r.changed, changed_by=r.changed_by,
        )  # fmt: skip


@strawberry.type
class UsageRow:
    tenant: str
    model: str = strawberry.field(description="The hx.yaml name of the model that answered.")
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = strawberry.field(description="The tenant's share of the model's cost; null: unpriced.")


@strawberry.type(description="Requests, tokens and cost per tenant and model over [start, end).")
class Usage:
    start: dt.datetime
    end: dt.datetime
    currency: str | None
    rows: list[UsageRow]

    @strawberry.field
    def total_tokens(self) -> int:
        return sum(r.prompt_tokens + r.completion_tokens for r in self.rows)

    @strawberry.field(description="The sum of the rows' cost; null when the spec prices nothing.")
    def total_cost(self) -> float | None:
        costs = [r.cost for r in self.rows if r.cost is not None]
        return sum(costs) if costs else None

    @classmethod
    def of(cls, u: m.Usage) -> Usage:
        return cls(start=u.start, end=u.end, currency=u.currency, rows=[UsageRow(**vars(r)) for r in u.rows])


@strawberry.enum(description="A period ending now.")
class UsagePeriod(enum.Enum):
    TODAY = "today"
    LAST_24_HOURS = "last-24-hours"
    LAST_7_DAYS = "last-7-days"
    LAST_30_DAYS = "last-30-days"


PERIOD_HOURS = {UsagePeriod.LAST_24_HOURS: 24, UsagePeriod.LAST_7_DAYS: 24 * 7, UsagePeriod.LAST_30_DAYS: 24 * 30}


@strawberry.type(description="An alert Alertmanager has active now.")
class Alert:
    name: str
    severity: str | None
    state: str
    starts_at: dt.datetime
    summary: str | None
    labels: JSON


@strawberry.type
class AuditRecord:
    seq: int
    time: dt.datetime
    actor: str = strawberry.field(description="<tenant>/<key id> for a call through hx-control.")
    action: str
    detail: JSON


@strawberry.type(description="A route's canary rollout.")
class Rollout:
    alias: str
    canary: str = strawberry.field(description="The variant under test (its hx.yaml model name).")
    version: str = strawberry.field(description="The canary's version this rollout is of.")
    phase: str = strawberry.field(description="progressing, waiting, succeeded or rolled_back.")
    step: int = strawberry.field(description="The current step, from 1.")
    steps: int
    steps_percent: list[int]
    canary_weight: int = strawberry.field(description="The canary's percent of the route's requests.")
    promotion: str = strawberry.field(description="auto or manual.")
    failed_checks: int = strawberry.field(description="Consecutive checks whose gate failed.")
    failed_checks_limit: int
    checks: JSON = strawberry.field(description="The failing checks of the last check and the evidence.")
    reason: str
    since: dt.datetime = strawberry.field(description="When the current step (or the rollback) began.")
    verified: dt.datetime | None = strawberry.field(description="When the gateway served this split; null: not yet.")
    changed: dt.datetime
    changed_by: str
    current: bool = strawberry.field(description="false when the configured canary is another version.")

    @classmethod
    def of(cls, r: m.Rollout) -> Rollout:
        return cls(**vars(r))


def _period(period: UsagePeriod | None, start: dt.datetime | None, end: dt.datetime | None):
    if period is None or period is UsagePeriod.TODAY:
        return start, end
    if start is not None or end is not None:
        raise GraphQLError("give a period or start/end, not both", extensions={"code": CODES["invalid_request"]})
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=PERIOD_HOURS[period]), None


# --- the operations -----------------------------------------------------------------------------
@strawberry.type
class Query:
    @strawberry.field(description="The caller and its permissions.")
    async def whoami(self, info: Info) -> WhoAmI:
        return WhoAmI(**await _ask(info, "whoami"))

    @strawberry.field(description="Every tenant (admin, operator), or the caller's own.")
    async def tenants(self, info: Info) -> list[Tenant]:
        return [Tenant.of(t) for t in await _ask(info, "tenants")]

    @strawberry.field(description="One tenant; a user or readonly caller may ask for its own only.")
    async def tenant(self, info: Info, name: str) -> Tenant:
        return Tenant.of(await _ask(info, "tenant", name))

    @strawberry.field(description="Keys, oldest first; a user sees its tenant's only.")
    async def keys(self, info: Info, tenant: str | None = None) -> list[Key]:
        return [Key.of(k) for k in await _ask(info, "keys", tenant)]

    @strawberry.field(description="The spec's models with their engines' health now.")
    async def models(self, info: Info) -> list[Model]:
        return [Model.of(x) for x in await _ask(info, "models")]

    @strawberry.field(description="Routes with their live and spec weights.")
    async def routes(self, info: Info) -> list[Route]:
        return [Route.of(r) for r in await _once(info, "routes")]

    @strawberry.field(
        description="Usage and cost over a period (default: today, in the usage time zone) or [start, end)."
    )
    async def usage(
        self,
        info: Info,
        period: UsagePeriod | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        tenant: str | None = None,
        model: str | None = None,
    ) -> Usage:
        start, end = _period(period, start, end)
        return Usage.of(await _ask(info, "usage", start, end, tenant, model))

    @strawberry.field(description="Today's tokens of each tenant against its daily quota.")
    async def quotas(self, info: Info) -> list[Quota]:
        return [Quota.of(q) for q in await _once(info, "quotas")]

    @strawberry.field(description="The alerts firing now.")
    async def alerts(self, info: Info) -> list[Alert]:
        return [Alert(**vars(a)) for a in await _ask(info, "alerts")]

    @strawberry.field(description="The newest audit records, newest first (limit 1 to 500).")
    async def audit(self, info: Info, limit: int = 50, action: str | None = None) -> list[AuditRecord]:
        return [AuditRecord(**vars(r)) for r in await _ask(info, "audit", limit, action)]

    @strawberry.field(description="The canary rollouts, by route.")
    async def rollouts(self, info: Info) -> list[Rollout]:
        return [Rollout.of(r) for r in await _ask(info, "rollouts")]

    @strawberry.field(description="One route's canary rollout.")
    async def rollout(self, info: Info, alias: str) -> Rollout:
        return Rollout.of(await _ask(info, "rollout", alias))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="A new key for a tenant (admin); the answer carries the key, once.")
    async def create_key(
        self, info: Info, tenant: str, note: str | None = None, expires: dt.datetime | None = None
    ) -> NewKey:
        return NewKey.of(await _ask(info, "create_key", tenant, note, expires))

    @strawberry.mutation(description="A new key for the same tenant; the old one works for the overlap, then expires.")
    async def rotate_key(
        self, info: Info, id: str, overlap_hours: int | None = None, note: str | None = None
    ) -> NewKey:
        return NewKey.of(await _ask(info, "rotate_key", id, overlap_hours, note))

    @strawberry.mutation(description="Revoke a key, permanently; the gateway refuses it within 5 s.")
    async def revoke_key(self, info: Info, id: str) -> Key:
        return Key.of(await _ask(info, "revoke_key", id))

    @strawberry.mutation(description="Set a route's live weights: every spec variant once, adding up to 100.")
    async def set_route_weights(self, info: Info, alias: str, split: list[WeightInput]) -> Route:
        weights = [m.Weight(w.model, w.weight) for w in split]
        return Route.of(await _ask(info, "set_route_weights", alias, weights))

    @strawberry.mutation(description="A rollout's next step now (waiting or progressing); CONFLICT when it is done.")
    async def promote_rollout(self, info: Info, alias: str) -> Rollout:
        return Rollout.of(await _ask(info, "promote_rollout", alias))

    @strawberry.mutation(
        description="Start an ended (rolled-back or succeeded) rollout again at its first step; CONFLICT otherwise."
    )
    async def restart_rollout(self, info: Info, alias: str) -> Rollout:
        return Rollout.of(await _ask(info, "restart_rollout", alias))


# --- the schema ---------------------------------------------------------------------------------
class _DocumentErrors(SchemaExtension):
    """A code for the errors of the document itself: malformed, too deep, too long, unknown fields."""

    def on_operation(self):
        yield
        result = self.execution_context.result
        if result is None or not result.errors or result.data is not None:
            return
        for error in result.errors:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _document_code(error)}


def _document_code(error: GraphQLError) -> str:
    return PARSE_FAILED if error.message.startswith("Syntax Error") else VALIDATION_FAILED


class _Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log the errors of hx-control's own bugs, not a caller's mistakes (those carry a code)."""
        unexpected = [e for e in errors if not (e.extensions or {}).get("code")]
        super().process_errors(unexpected, execution_context)


schema = _Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        functools.partial(MaxTokensLimiter, max_token_count=contract.GRAPHQL_MAX_TOKENS),
        functools.partial(QueryDepthLimiter, max_depth=contract.GRAPHQL_MAX_DEPTH),
        _DocumentErrors,
    ],
)


def schema_text() -> str:
    return schema.as_str().rstrip("\n") + "\n"


def router(control: m.Control | None = None) -> GraphQLRouter:
    """GRAPHQL_PATH, with GraphiQL for a browser's GET (the page for ad-hoc queries); the host is
    `control`, else the app's (request.app.state.control, as REST reaches it)."""

    def getter(request: Request) -> Context:
        return Context(control or request.app.state.control)

    return GraphQLRouter(
        schema, path=contract.GRAPHQL_PATH, graphql_ide="graphiql", context_getter=getter, include_in_schema=False
    )


if __name__ == "__main__":
    print(schema_text(), end="")
