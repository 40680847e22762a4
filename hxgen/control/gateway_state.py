"""What the gateway reads, written from the database after every change (hxgen.contracts.control:
KEYS_MAP and ROUTE_WEIGHTS): whole files, replaced by rename, so nginx (and the path unit that
reloads it) never sees half a file; written only when the content changes, so an unchanged state
costs no reload. The caller holds the mutation lock (database.mutating), so two writers never
interleave and the files always show the latest committed state."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import psycopg

from ..contracts import control as contract
from ..contracts.control_config import Route, ServiceConfig
from ..files import write_atomically
from . import store
from .model import Weight

MAP_HEADER = "# Written by hx-control from its database (hx_control.api_keys): do not edit, it is rewritten.\n"
FILE_MODE = 0o644  # nginx's master (root) reads them; nothing in them is secret
RELOAD_TIMEOUT_S = 30


class StateError(Exception):
    """The files could not be written, or the reload command failed."""


def map_expiry(expires: dt.datetime | None) -> str:
    """'-', a date when the key stops at 00:00 UTC (as the inventory's keys do), else a UTC time."""
    if expires is None:
        return contract.EXPIRY_NEVER
    utc = expires.astimezone(dt.UTC)
    if utc.time() == dt.time(0, 0):
        return utc.date().isoformat()
    return utc.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def keys_map(keys: list[store.StoredKey]) -> str:
    """Every key that is not revoked (an expired one stays, so the gateway can say it expired)."""
    live = sorted((k for k in keys if k.key.revoked is None), key=lambda k: (k.key.tenant, k.key.id))
    lines = [f'{k.sha256} "{k.key.tenant} {map_expiry(k.key.expires)} {k.key.id}";\n' for k in live]
    return MAP_HEADER + "".join(lines)


def live_split(route: Route, live: store.LiveSplit | None) -> list[Weight]:
    """The route's live split in the order of the spec's split; the spec's own where none is stored
    or the stored one no longer names the spec's variants (sync resets those)."""
    spec = [Weight(t.model, t.weight) for t in route.split]
    if live is None:
        return spec
    by_model = {w.model: w.weight for w in live.split}
    if set(by_model) != {w.model for w in spec}:
        return spec
    return [Weight(w.model, by_model[w.model]) for w in spec]


def route_weights(config: ServiceConfig, live: dict[str, store.LiveSplit]) -> str:
    """{alias: [[served name, cumulative percent], ...]}, variants of weight 0 left out, as the
    gateway's own split (hxgen.plan.gateway) has them."""
    out = {}
    for alias, route in sorted(config.routes.items()):
        bounds, total = [], 0
        for w in live_split(route, live.get(alias)):
            if w.weight == 0:
                continue
            total += w.weight
            model = config.models.get(w.model)
            bounds.append([model.served_name if model else w.model, total])
        out[alias] = bounds
    return json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n"


def write(config: ServiceConfig, conn: psycopg.Connection) -> list[str]:
    """Write both files from what `conn` sees; the names of those that changed. When one did, ask
    for a reload (contract.RELOAD_REQUEST, which the path unit acts on) and run the configuration's
    reload_command if it has one. Raises StateError."""
    wanted = {
        contract.KEYS_MAP.rsplit("/", 1)[1]: keys_map(store.keys(conn)),
        contract.ROUTE_WEIGHTS.rsplit("/", 1)[1]: route_weights(config, store.weights(conn)),
    }
    directory = Path(config.gateway_state_dir)
    changed = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in wanted.items():
            path = directory / name
            if _current(path) != text:
                write_atomically(path, text, FILE_MODE)
                changed.append(name)
        if changed:  # after the files: the reload that takes the request reads them
            write_atomically(directory / Path(contract.RELOAD_REQUEST).name, " ".join(changed) + "\n", FILE_MODE)
    except OSError as exc:
        raise StateError(f"cannot write the gateway's state in {directory}: {exc.strerror or exc}") from exc
    if changed and config.reload_command:
        _reload(config.reload_command)
    return changed


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _reload(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RELOAD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StateError(f"the reload command {command[0]} failed: {exc}") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise StateError(
            f"the reload command {' '.join(command)} exited with {done.returncode}: {said[-1] if said else ''}"
        )
