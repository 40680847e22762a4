"""HostControl: the real Control (hxgen.control.model) over PostgreSQL, the gateway's state files,
the audit log, the engines and Alertmanager. Every method checks the caller's permission first
(hxgen.control.rbac); every mutation runs in one transaction that holds the mutation lock, appends
its audit record before the commit, and then writes the gateway's state from the database.

A failure after the commit (the state files cannot be written, the reload command fails) answers
Unavailable and says that the change is stored: the next change, `hx-control state` or the
service's start writes the files again. For a new key that means its secret is not shown: revoke
it and create another."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..contracts import control as contract
from ..contracts.control_config import ServiceConfig
from ..keys import hash_key, new_key
from . import database, gateway_state, observe, rbac, rollout, store, sync
from .audit import SYNC_ACTOR, Audit, actor
from .model import (
    Alert,
    ApiKey,
    AuditRecord,
    Caller,
    Conflict,
    Invalid,
    Model,
    NewKey,
    NotFound,
    Quota,
    Rollout,
    Route,
    Tenant,
    Unavailable,
    Usage,
    Weight,
)

NOTE_MAX_CHARS = 200
AUDIT_LIMIT_MAX = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HostControl:
    def __init__(self, config: ServiceConfig, now: Callable[[], dt.datetime] = _now) -> None:
        self.config = config
        self.now = now
        self.audit_log = Audit(config.audit_config)
        self.costs = observe.Costs(config.spec_file)
        self.on_mutation: Callable[[str], None] = lambda action: None
        """Called with the audit action after each committed mutation (the service's metrics)."""

    # --- the state files ---------------------------------------------------------------------
    def write_state(self) -> list[str]:
        """Rewrite the gateway's files from the database; the names that changed."""
        with database.mutating(self.config) as conn:
            try:
                return gateway_state.write(self.config, conn)
            except gateway_state.StateError as exc:
                raise Unavailable(str(exc)) from None

    def _publish(self, action: str) -> None:
        self.on_mutation(action)
        try:
            self.write_state()
        except Unavailable as exc:
            raise Unavailable(
                f"the change is stored and audited, but the gateway does not have it yet: {exc.message}; "
                "`hx-control state` writes the gateway's files again"
            ) from None

    # --- tenants -----------------------------------------------------------------------------
    def whoami(self, caller: Caller) -> dict[str, Any]:
        return {
            "tenant": caller.tenant,
            "role": caller.role,
            "key_id": caller.key_id,
            "permissions": rbac.granted(caller.role),
        }

    def tenants(self, caller: Caller) -> list[Tenant]:
        only = rbac.tenant_filter(caller, "tenants:read", None)
        return [self._tenant(name) for name in sorted(self.config.tenants) if only in (None, name)]

    def tenant(self, caller: Caller, name: str) -> Tenant:
        rbac.tenant_filter(caller, "tenants:read", name)
        if name not in self.config.tenants:
            raise NotFound(f"no tenant {name!r}")
        return self._tenant(name)

    def _tenant(self, name: str) -> Tenant:
        t = self.config.tenants[name]
        return Tenant(name, t.role, t.tier, list(t.models), t.daily_tokens)

    # --- keys --------------------------------------------------------------------------------
    def keys(self, caller: Caller, tenant: str | None = None) -> list[ApiKey]:
        only = rbac.tenant_filter(caller, "keys:read", tenant)
        with database.reading(self.config) as conn:
            return [k.key for k in store.keys(conn, only)]

    def create_key(
        self, caller: Caller, tenant: str, note: str | None = None, expires: dt.datetime | None = None
    ) -> NewKey:
        rbac.scope(caller, "keys:create")
        if tenant not in self.config.tenants:
            raise NotFound(f"no tenant {tenant!r}: create keys for {', '.join(sorted(self.config.tenants))}")
        now = self.now()
        expires = _aware(expires, "expires")
        if expires is not None and expires <= now:
            raise Invalid(f"expires {expires.isoformat()} is not in the future")
        _check_note(note)
        with database.mutating(self.config) as conn:
            key_id, secret = new_key(store.key_ids(conn))
            key = ApiKey(key_id, tenant, now, expires, None, note, contract.ORIGIN_CONTROL)
            store.insert_key(conn, key, hash_key(secret), actor(caller))
            detail = {"key_id": key_id, "tenant": tenant, "expires": _iso(expires), "note": note}
            self.audit_log.append(actor(caller), contract.AUDIT_KEY_CREATED, detail)
        self._publish(contract.AUDIT_KEY_CREATED)
        return NewKey(key, secret)

    def rotate_key(
        self, caller: Caller, key_id: str, overlap_hours: int | None = None, note: str | None = None
    ) -> NewKey:
        rbac.scope(caller, "keys:rotate")
        hours = self.config.rotate_overlap_hours if overlap_hours is None else overlap_hours
        if not 0 <= hours <= contract.ROTATE_OVERLAP_HOURS_MAX:
            raise Invalid(f"overlap_hours must be from 0 to {contract.ROTATE_OVERLAP_HOURS_MAX}, not {hours}")
        _check_note(note)
        now = self.now()
        with database.mutating(self.config) as conn:
            old = self._live_key(conn, caller, "keys:rotate", key_id, now)
            new_id, secret = new_key(store.key_ids(conn))
            ends = min(now + dt.timedelta(hours=hours), old.expires or dt.datetime.max.replace(tzinfo=dt.UTC))
            store.set_expires(conn, old.id, ends, actor(caller))
            key = ApiKey(
                new_id, old.tenant, now, None, None, note if note is not None else old.note,
                contract.ORIGIN_CONTROL, replaces=old.id,
            )  # fmt: skip
            store.insert_key(conn, key, hash_key(secret), actor(caller))
            detail = {"key_id": old.id, "new_key_id": new_id, "tenant": old.tenant, "old_expires": _iso(ends)}
            self.audit_log.append(actor(caller), contract.AUDIT_KEY_ROTATED, detail)
            replaced = store.key(conn, old.id)
        self._publish(contract.AUDIT_KEY_ROTATED)
        return NewKey(key, secret, replaced.key if replaced else None)

    def revoke_key(self, caller: Caller, key_id: str) -> ApiKey:
        rbac.scope(caller, "keys:revoke")
        now = self.now()
        with database.mutating(self.config) as conn:
            found = store.key(conn, key_id, for_update=True)
            if found is None:
                raise NotFound(f"no key {key_id!r}")
            rbac.check_tenant(caller, "keys:revoke", found.key.tenant)
            if found.key.revoked is not None:
                raise Conflict(f"key {key_id} was revoked already, at {_iso(found.key.revoked)}")
            store.revoke(conn, key_id, now, actor(caller))
            detail = {"key_id": key_id, "tenant": found.key.tenant, "origin": found.key.origin}
            self.audit_log.append(actor(caller), contract.AUDIT_KEY_REVOKED, detail)
            revoked = store.key(conn, key_id)
        self._publish(contract.AUDIT_KEY_REVOKED)
        return revoked.key

    def _live_key(self, conn, caller: Caller, permission: str, key_id: str, now: dt.datetime) -> ApiKey:
        found = store.key(conn, key_id, for_update=True)
        if found is None:
            raise NotFound(f"no key {key_id!r}")
        rbac.check_tenant(caller, permission, found.key.tenant)
        status = found.key.status(now)
        if status != "ok":
            raise Conflict(f"key {key_id} is {status}: create a new key instead")
        return found.key

    # --- models and routes -------------------------------------------------------------------
    def models(self, caller: Caller) -> list[Model]:
        rbac.scope(caller, "models:read")
        found = observe.healths({name: m.health_url for name, m in self.config.models.items()})
        return [
            Model(name, m.served_name, m.engine, m.task, m.version, found[name])
            for name, m in sorted(self.config.models.items())
        ]

    def routes(self, caller: Caller) -> list[Route]:
        rbac.scope(caller, "routes:read")
        with database.reading(self.config) as conn:
            live = store.weights(conn)
        return [self._route(alias, live.get(alias)) for alias in sorted(self.config.routes)]

    def _route(self, alias: str, live: store.LiveSplit | None) -> Route:
        route = self.config.routes[alias]
        split = gateway_state.live_split(route, live)
        spec = [Weight(t.model, t.weight) for t in route.split]
        return Route(
            alias, route.sticky, route.weights_owner, split, spec,
            live.changed if live else None, live.changed_by if live else None,
        )  # fmt: skip

    def set_route_weights(self, caller: Caller, alias: str, split: list[Weight]) -> Route:
        rbac.scope(caller, "routes:write")
        if alias not in self.config.routes:
            raise NotFound(f"no route {alias!r}: the routes are {', '.join(sorted(self.config.routes)) or 'none'}")
        route = self.config.routes[alias]
        ordered = _bounded(alias, [t.model for t in route.split], split)
        now = self.now()
        with database.mutating(self.config) as conn:
            self._no_rollout_running(conn, alias)
            before = self._route(alias, store.weights(conn).get(alias))
            store.replace_weights(conn, alias, ordered, now, actor(caller))
            detail = {
                "alias": alias,
                "split": [[w.model, w.weight] for w in ordered],
                "previous": [[w.model, w.weight] for w in before.split],
            }
            self.audit_log.append(actor(caller), contract.AUDIT_ROUTE_WEIGHTS, detail)
            after = self._route(alias, store.weights(conn).get(alias))
        self._publish(contract.AUDIT_ROUTE_WEIGHTS)
        return after

    def _no_rollout_running(self, conn, alias: str) -> None:
        """A running rollout owns its route's weights: the next step would overwrite a change."""
        canary = self.config.routes[alias].canary
        found = store.rollout(conn, alias) if canary else None
        if found and found.state.phase not in rollout.TERMINAL and _current(found.state, canary):
            raise Conflict(
                f"route {alias}: a canary rollout of {canary.model} is {found.state.phase}, and it sets the weights; "
                "promote it, or wait until it succeeds or rolls back"
            )

    # --- canary rollouts (hxgen.control.rollout) ---------------------------------------------
    def rollouts(self, caller: Caller) -> list[Rollout]:
        rbac.scope(caller, "rollouts:read")
        return self.all_rollouts()

    def all_rollouts(self) -> list[Rollout]:
        """Without RBAC, for the service's metrics: the rows of the routes that have a canary."""
        with database.reading(self.config) as conn:
            found = store.rollouts(conn)
        return [self._rollout(a, r) for a, r in sorted(found.items()) if self._has_canary(a)]

    def stored_rollout(self, alias: str) -> rollout.State | None:
        with database.reading(self.config) as conn:
            found = store.rollout(conn, alias)
        return found.state if found else None

    def live_weights(self) -> dict:
        """The route weights the gateway should be serving (gateway_state.route_weights), parsed."""
        with database.reading(self.config) as conn:
            return json.loads(gateway_state.route_weights(self.config, store.weights(conn)))

    def rollout(self, caller: Caller, alias: str) -> Rollout:
        rbac.scope(caller, "rollouts:read")
        self._canary(alias)
        with database.reading(self.config) as conn:
            found = store.rollout(conn, alias)
        if found is None:
            raise NotFound(f"route {alias}: its rollout has not started yet; hx-control starts it at its next check")
        return self._rollout(alias, found)

    def promote_rollout(self, caller: Caller, alias: str) -> Rollout:
        """The next step now, from waiting or progressing (an operator may skip the rest of a
        step's minimums); from the last step, succeeded. Conflict in a terminal phase."""
        rbac.scope(caller, "rollouts:write")
        canary = self._canary(alias)
        who, now = actor(caller), self.now()
        with database.mutating(self.config) as conn:
            before = self._changeable(conn, alias, canary, ("progressing", "waiting"), "promoted")
            after = rollout.advanced(before, now, canary, f"promoted by {who}")
            self._transition(conn, alias, before, after, who, contract.AUDIT_ROLLOUT_PROMOTED, now)
        self._publish(contract.AUDIT_ROLLOUT_PROMOTED)
        return self._rollout(alias, store.StoredRollout(after, now, who))

    def restart_rollout(self, caller: Caller, alias: str) -> Rollout:
        """Start an ended rollout (rolled back, or succeeded: to run the canary's steps again, after
        a fix that kept its version) again at its first step. Conflict while one runs."""
        rbac.scope(caller, "rollouts:write")
        canary = self._canary(alias)
        who, now = actor(caller), self.now()
        with database.mutating(self.config) as conn:
            before = self._changeable(conn, alias, canary, rollout.TERMINAL, "restarted")
            after = rollout.started(canary, now, f"restarted by {who} at {canary.steps_percent[0]} %")
            self._transition(conn, alias, before, after, who, contract.AUDIT_ROLLOUT_RESTARTED, now)
        self._publish(contract.AUDIT_ROLLOUT_RESTARTED)
        return self._rollout(alias, store.StoredRollout(after, now, who))

    def apply_rollout(
        self, alias: str, expected: rollout.State | None, after: rollout.State, action: str | None
    ) -> bool:
        """The controller's own change (actor contract.ROLLOUT_ACTOR, no RBAC): with an action, the
        weights, the row and one audit record in one transaction, then the gateway's files; without
        one, the row alone. False, and nothing done, when the row is no longer `expected` (a
        promotion or restart came first: the next check decides again)."""
        now = self.now()
        with database.mutating(self.config) as conn:
            found = store.rollout(conn, alias, for_update=True)
            if (found.state if found else None) != expected:
                return False
            if action is None:
                store.save_rollout(conn, alias, after, now, contract.ROLLOUT_ACTOR)
                return True
            self._transition(conn, alias, expected, after, contract.ROLLOUT_ACTOR, action, now)
        self._publish(action)
        return True

    def _transition(self, conn, alias: str, before: rollout.State | None, after: rollout.State, who: str,
                    action: str, now: dt.datetime) -> None:  # fmt: skip
        route = self.config.routes[alias]
        previous = gateway_state.live_split(route, store.weights(conn).get(alias))
        split = rollout.weights(route, after)
        store.replace_weights(conn, alias, split, now, who)
        store.save_rollout(conn, alias, after, now, who)
        detail = {
            "alias": alias, "canary": after.canary, "version": after.version, "phase": after.phase,
            "step": after.step + 1, "from_phase": before.phase if before else None,
            "split": [[w.model, w.weight] for w in split], "previous": [[w.model, w.weight] for w in previous],
            "reason": after.reason, "checks": after.checks,
        }  # fmt: skip
        self.audit_log.append(who, action, detail)

    def _changeable(self, conn, alias: str, canary, phases: tuple[str, ...], what: str) -> rollout.State:
        found = store.rollout(conn, alias, for_update=True)
        if found is None:
            raise Conflict(f"route {alias}: its rollout has not started yet, so it cannot be {what}")
        if not _current(found.state, canary):
            raise Conflict(
                f"route {alias}: the rollout is of {found.state.canary} {found.state.version}, but the canary is now "
                f"{canary.model} {canary.version}; hx-control starts its rollout at the next check"
            )
        if found.state.phase not in phases:
            raise Conflict(
                f"route {alias}: the rollout is {found.state.phase}; only a rollout that is {' or '.join(phases)} "
                f"can be {what}"
            )
        return found.state

    def _has_canary(self, alias: str) -> bool:
        route = self.config.routes.get(alias)
        return route is not None and route.canary is not None

    def _canary(self, alias: str):
        if not self._has_canary(alias):
            with_canary = sorted(a for a in self.config.routes if self._has_canary(a))
            raise NotFound(f"route {alias!r} has no canary; the routes with one are {', '.join(with_canary) or 'none'}")
        return self.config.routes[alias].canary

    def _rollout(self, alias: str, stored: store.StoredRollout) -> Rollout:
        route, s = self.config.routes[alias], stored.state
        canary = route.canary
        weight = {w.model: w.weight for w in rollout.weights(route, s)}.get(s.canary, 0)
        return Rollout(
            alias=alias, canary=s.canary, version=s.version, phase=s.phase, step=s.step + 1,
            steps=len(canary.steps_percent), steps_percent=list(canary.steps_percent), canary_weight=weight,
            promotion=canary.promotion, failed_checks=s.failed_checks, failed_checks_limit=canary.failed_checks,
            checks=s.checks, reason=s.reason, since=s.step_started, verified=s.verified, changed=stored.changed,
            changed_by=stored.changed_by, current=_current(s, canary),
        )  # fmt: skip

    # --- usage, quotas, alerts, audit --------------------------------------------------------
    def usage(
        self,
        caller: Caller,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        tenant: str | None = None,
        model: str | None = None,
    ) -> Usage:
        only = rbac.tenant_filter(caller, "usage:read", tenant)
        usage = observe.usage_config_of(self.config)
        start = _aware(start, "start") or self.today()[1]
        end = _aware(end, "end") or self.now()
        if end <= start:
            raise Invalid(f"end {end.isoformat()} is not after start {start.isoformat()}")
        with database.reading(self.config) as conn:
            found = observe.usage_rows(conn, usage.table, start, end)
        rows = self.costs.rows(found, start, end)  # every tenant's tokens share a model's cost
        rows = [r for r in rows if only in (None, r.tenant) and model in (None, r.model)]
        return Usage(start, end, self.costs.currency, rows)

    def today(self) -> tuple[dt.date, dt.datetime]:
        """The usage day now, and its first instant (in usage.time_zone)."""
        zone = zoneinfo.ZoneInfo(observe.usage_config_of(self.config).time_zone)
        day = self.now().astimezone(zone).date()
        return day, dt.datetime.combine(day, dt.time(), tzinfo=zone)

    def quotas(self, caller: Caller) -> list[Quota]:
        only = rbac.tenant_filter(caller, "usage:read", None)
        usage = observe.usage_config_of(self.config)
        day, start = self.today()
        with database.reading(self.config) as conn:
            used = observe.tokens_since(conn, usage.table, start)
        return [
            Quota(name, t.daily_tokens, used.get(name, 0), day)
            for name, t in sorted(self.config.tenants.items())
            if only in (None, name)
        ]

    def alerts(self, caller: Caller) -> list[Alert]:
        rbac.scope(caller, "alerts:read")
        return observe.alerts(self.config.alertmanager_url)

    def audit(self, caller: Caller, limit: int = 50, action: str | None = None) -> list[AuditRecord]:
        rbac.scope(caller, "audit:read")
        if not 1 <= limit <= AUDIT_LIMIT_MAX:
            raise Invalid(f"limit must be from 1 to {AUDIT_LIMIT_MAX}, not {limit}")
        return self.audit_log.recent(limit, action)

    # --- the converge's merge ----------------------------------------------------------------
    def sync(self, inventory_file: Path, dry_run: bool = False) -> sync.Summary:
        """Merge the inventory's keys and the spec's weights (hxgen.control.sync); audited when
        anything changed; the state files written after (also when nothing changed, so a converge
        repairs a file edited by hand). dry_run: what would change, nothing written."""
        inventory = sync.load_inventory(inventory_file)
        try:
            with database.mutating(self.config) as conn:
                summary = sync.merge(conn, self.config, inventory, self.now())
                if dry_run:
                    raise _DryRun(summary)  # leaving the transaction by an exception rolls it back
                if summary.changed:
                    self.audit_log.append(SYNC_ACTOR, contract.AUDIT_KEYS_SYNCED, summary.as_dict())
        except _DryRun as run:
            return run.summary
        if summary.changed:
            self.on_mutation(contract.AUDIT_KEYS_SYNCED)
        self.write_state()
        return summary


class _DryRun(Exception):
    def __init__(self, summary: sync.Summary) -> None:
        super().__init__("dry run")
        self.summary = summary


def _current(state: rollout.State, canary) -> bool:
    return (state.canary, state.version) == (canary.model, canary.version)


def _bounded(alias: str, variants: list[str], split: list[Weight]) -> list[Weight]:
    """The split in the spec's order, when it names each of the spec's variants once with weights
    from 0 to 100 that add up to 100; Invalid saying what is wrong otherwise."""
    names = [w.model for w in split]
    allowed = ", ".join(variants)
    unknown = sorted(set(names) - set(variants))
    if unknown:
        raise Invalid(f"route {alias}: {', '.join(unknown)} is not a variant of the route; its variants are {allowed}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise Invalid(f"route {alias}: {', '.join(twice)} is named more than once")
    missing = [v for v in variants if v not in names]
    if missing:
        raise Invalid(f"route {alias}: give a weight to every variant ({allowed}); missing {', '.join(missing)}")
    bad = [f"{w.model}={w.weight}" for w in split if not 0 <= w.weight <= 100]
    if bad:
        raise Invalid(f"route {alias}: a weight is from 0 to 100, not {', '.join(bad)}")
    total = sum(w.weight for w in split)
    if total != 100:
        raise Invalid(f"route {alias}: the weights of {allowed} add up to {total}, not 100")
    by_name = {w.model: w.weight for w in split}
    return [Weight(v, by_name[v]) for v in variants]


def _aware(when: dt.datetime | None, what: str) -> dt.datetime | None:
    if when is not None and when.tzinfo is None:
        raise Invalid(f"{what} {when.isoformat()} has no time zone: add Z or an offset")
    return when


def _check_note(note: str | None) -> None:
    if note is not None and len(note) > NOTE_MAX_CHARS:
        raise Invalid(f"a note is at most {NOTE_MAX_CHARS} characters, not {len(note)}")


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if when else None
