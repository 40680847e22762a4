"""`hx-control sync`: on every converge, merge the controller's inventory keys and the spec's
route weights into the host's database, monotonically (hxgen.contracts.control's docstring):

keys
- an inventory key the host has never seen is added (origin inventory);
- a key created on the host (origin control) is never touched;
- an inventory key that has left the inventory is revoked;
- a revoked key stays revoked, whatever the inventory says;
- the expiry is the earlier of the two (a rotation on the host cannot be undone by a converge).
routes
- weights_owner spec: the spec's split again; control: the live split stays, and starts as the
  spec's when there is none;
- a live split that no longer names exactly the spec's variants goes back to the spec's;
- a route no longer in the configuration is deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ..contracts import control as contract
from ..contracts.control_config import ServiceConfig
from ..keys import ID_PATTERN, SHA256_PATTERN
from . import store
from .audit import SYNC_ACTOR
from .model import ApiKey, Weight


class InventoryError(Exception):
    pass


@dataclass(frozen=True)
class InventoryKey:
    id: str
    tenant: str
    sha256: str
    created: dt.datetime
    expires: dt.datetime | None
    note: str | None


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    expiry_shortened: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Inventory keys not added: their id or hash belongs to a key created on the host."""
    routes_initialised: list[str] = field(default_factory=list)
    routes_reset: list[str] = field(default_factory=list)
    routes_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(v for k, v in vars(self).items() if k != "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, **{k: sorted(v) for k, v in vars(self).items()}}


# --- the inventory's keys -----------------------------------------------------------------------
def load_inventory(path: Path) -> list[InventoryKey]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read the inventory keys: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InventoryError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise InventoryError(f'{path}: expected {{"keys": [...]}}')
    found = [_inventory_key(item, f"{path}: keys[{i}]") for i, item in enumerate(data["keys"])]
    ids = [k.id for k in found]
    if len(set(ids)) != len(ids):
        raise InventoryError(f"{path}: a key id appears twice")
    return found


def _inventory_key(item: Any, where: str) -> InventoryKey:
    if not isinstance(item, dict):
        raise InventoryError(f"{where}: expected an object")
    try:
        key_id, tenant, sha256 = str(item["id"]), str(item["tenant"]), str(item["sha256"])
        created = _when(item["created"])
        expires = _when(item["expires"]) if item.get("expires") else None
    except KeyError as exc:
        raise InventoryError(f"{where}: no {exc.args[0]!r}") from None
    except ValueError as exc:
        raise InventoryError(f"{where}: {exc}") from None
    if not ID_PATTERN.fullmatch(key_id) or not SHA256_PATTERN.fullmatch(sha256) or not tenant:
        raise InventoryError(f"{where}: id, tenant or sha256 is malformed")
    note = item.get("note")
    return InventoryKey(key_id, tenant, sha256, created, expires, str(note) if note is not None else None)


def _when(value: Any) -> dt.datetime:
    """A date is its 00:00 UTC (the inventory's keys expire at the start of their day)."""
    text = str(value)
    if len(text) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return when


def _earlier(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def merge_keys(conn: psycopg.Connection, inventory: list[InventoryKey], now: dt.datetime, summary: Summary) -> None:
    stored = {k.key.id: k for k in store.keys(conn)}
    by_hash = {k.sha256: k for k in stored.values()}
    wanted = {k.id for k in inventory}
    for inv in inventory:
        have = stored.get(inv.id)
        if have is None:
            if inv.sha256 in by_hash:
                summary.skipped.append(inv.id)
                continue
            key = ApiKey(inv.id, inv.tenant, inv.created, inv.expires, None, inv.note, contract.ORIGIN_INVENTORY)
            store.insert_key(conn, key, inv.sha256, SYNC_ACTOR)
            summary.added.append(inv.id)
            continue
        if have.key.origin != contract.ORIGIN_INVENTORY:
            summary.skipped.append(inv.id)
            continue
        expires = _earlier(have.key.expires, inv.expires)
        if have.key.revoked is None and expires != have.key.expires:
            store.set_expires(conn, inv.id, expires, SYNC_ACTOR)
            summary.expiry_shortened.append(inv.id)
    for key_id, have in stored.items():
        if have.key.origin == contract.ORIGIN_INVENTORY and have.key.revoked is None and key_id not in wanted:
            store.revoke(conn, key_id, now, SYNC_ACTOR)
            summary.revoked.append(key_id)


# --- the routes' weights ------------------------------------------------------------------------
def merge_routes(conn: psycopg.Connection, config: ServiceConfig, now: dt.datetime, summary: Summary) -> None:
    live = store.weights(conn)
    for alias, route in sorted(config.routes.items()):
        spec = [Weight(t.model, t.weight) for t in route.split]
        have = live.get(alias)
        if have is None:
            store.replace_weights(conn, alias, spec, now, SYNC_ACTOR)
            summary.routes_initialised.append(alias)
            continue
        same_variants = {w.model for w in have.split} == {w.model for w in spec}
        if (route.weights_owner == "spec" or not same_variants) and sorted(
            (w.model, w.weight) for w in have.split
        ) != sorted((w.model, w.weight) for w in spec):
            store.replace_weights(conn, alias, spec, now, SYNC_ACTOR)
            summary.routes_reset.append(alias)
    gone = sorted(set(live) - set(config.routes))
    store.delete_routes(conn, gone)
    summary.routes_removed.extend(gone)


def merge(conn: psycopg.Connection, config: ServiceConfig, inventory: list[InventoryKey], now: dt.datetime) -> Summary:
    """Both merges in the caller's transaction (which holds the mutation lock)."""
    summary = Summary()
    merge_keys(conn, inventory, now, summary)
    merge_routes(conn, config, now, summary)
    return summary
