"""The keys, the live route weights and the rollouts in PostgreSQL (hxgen.contracts.control.SCHEMA). Functions
over a connection the caller holds in a transaction (hxgen.control.database.mutating for
changes), so a change and its audit record commit together or not at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from ..contracts import control as contract
from .model import ApiKey, Weight
from .rollout import State

KEY_COLUMNS = "id, tenant, created, expires, revoked, note, origin, replaces, sha256"


@dataclass(frozen=True)
class StoredKey:
    key: ApiKey
    sha256: str


def _stored(row: tuple) -> StoredKey:
    *fields, sha256 = row
    return StoredKey(ApiKey(*fields), sha256)


def keys(conn: psycopg.Connection, tenant: str | None = None) -> list[StoredKey]:
    """Oldest first, then by id: the order every listing and the key map use."""
    where, params = ("WHERE tenant = %s", (tenant,)) if tenant is not None else ("", ())
    rows = conn.execute(f"SELECT {KEY_COLUMNS} FROM {contract.KEYS_TABLE} {where} ORDER BY created, id", params)
    return [_stored(r) for r in rows.fetchall()]


def key(conn: psycopg.Connection, key_id: str, for_update: bool = False) -> StoredKey | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(f"SELECT {KEY_COLUMNS} FROM {contract.KEYS_TABLE} WHERE id = %s{lock}", (key_id,)).fetchone()
    return _stored(row) if row else None


def key_ids(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT id FROM {contract.KEYS_TABLE}").fetchall()}


def sha256_taken(conn: psycopg.Connection, sha256: str) -> str | None:
    row = conn.execute(f"SELECT id FROM {contract.KEYS_TABLE} WHERE sha256 = %s", (sha256,)).fetchone()
    return row[0] if row else None


def insert_key(conn: psycopg.Connection, key: ApiKey, sha256: str, changed_by: str) -> None:
    conn.execute(
        f"INSERT INTO {contract.KEYS_TABLE} (id, tenant, sha256, created, expires, revoked, note, origin, replaces, "
        "changed_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (key.id, key.tenant, sha256, key.created, key.expires, key.revoked, key.note, key.origin, key.replaces,
         changed_by),
    )  # fmt: skip


def set_expires(conn: psycopg.Connection, key_id: str, expires: dt.datetime | None, changed_by: str) -> None:
    conn.execute(
        f"UPDATE {contract.KEYS_TABLE} SET expires = %s, changed_by = %s WHERE id = %s", (expires, changed_by, key_id)
    )


def revoke(conn: psycopg.Connection, key_id: str, when: dt.datetime, changed_by: str) -> None:
    conn.execute(
        f"UPDATE {contract.KEYS_TABLE} SET revoked = %s, changed_by = %s WHERE id = %s AND revoked IS NULL",
        (when, changed_by, key_id),
    )


# --- route weights ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveSplit:
    split: list[Weight]
    changed: dt.datetime
    changed_by: str


def weights(conn: psycopg.Connection) -> dict[str, LiveSplit]:
    """alias -> its live split (in the table's order of models; callers order by the spec)."""
    rows = conn.execute(
        f"SELECT alias, model, weight, changed, changed_by FROM {contract.ROUTE_WEIGHTS_TABLE} ORDER BY alias, model"
    ).fetchall()
    found: dict[str, LiveSplit] = {}
    for alias, model, weight, changed, changed_by in rows:
        live = found.setdefault(alias, LiveSplit([], changed, changed_by))
        live.split.append(Weight(model, weight))
    return found


def replace_weights(
    conn: psycopg.Connection, alias: str, split: list[Weight], when: dt.datetime, changed_by: str
) -> None:
    conn.execute(f"DELETE FROM {contract.ROUTE_WEIGHTS_TABLE} WHERE alias = %s", (alias,))
    for w in split:
        conn.execute(
            f"INSERT INTO {contract.ROUTE_WEIGHTS_TABLE} (alias, model, weight, changed, changed_by) "
            "VALUES (%s, %s, %s, %s, %s)",
            (alias, w.model, w.weight, when, changed_by),
        )


def delete_routes(conn: psycopg.Connection, aliases: list[str]) -> None:
    if aliases:
        conn.execute(f"DELETE FROM {contract.ROUTE_WEIGHTS_TABLE} WHERE alias = ANY(%s)", (aliases,))


# --- rollouts -----------------------------------------------------------------------------------
ROLLOUT_COLUMNS = "canary, version, phase, step, step_started, failed_checks, checks, reason, verified"


@dataclass(frozen=True)
class StoredRollout:
    state: State
    changed: dt.datetime
    changed_by: str


def rollouts(conn: psycopg.Connection) -> dict[str, StoredRollout]:
    rows = conn.execute(
        f"SELECT alias, {ROLLOUT_COLUMNS}, changed, changed_by FROM {contract.ROLLOUTS_TABLE} ORDER BY alias"
    ).fetchall()
    return {r[0]: StoredRollout(State(*r[1:10]), r[10], r[11]) for r in rows}


def rollout(conn: psycopg.Connection, alias: str, for_update: bool = False) -> StoredRollout | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {ROLLOUT_COLUMNS}, changed, changed_by FROM {contract.ROLLOUTS_TABLE} WHERE alias = %s{lock}",
        (alias,),
    ).fetchone()
    return StoredRollout(State(*row[:9]), row[9], row[10]) if row else None


def save_rollout(conn: psycopg.Connection, alias: str, s: State, when: dt.datetime, changed_by: str) -> None:
    conn.execute(
        f"INSERT INTO {contract.ROLLOUTS_TABLE} (alias, {ROLLOUT_COLUMNS}, changed, changed_by) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (alias) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*ROLLOUT_COLUMNS.split(", "), "changed", "changed_by"]),
        (alias, s.canary, s.version, s.phase, s.step, s.step_started, s.failed_checks, Jsonb(s.checks), s.reason,
         s.verified, when, changed_by),
    )  # fmt: skip
