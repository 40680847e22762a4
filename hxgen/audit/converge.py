"""The record of a converge: which spec revision was applied, by whom, and what it changed.

What changed is measured, not guessed: the playbook hands over the SHA-256 of every file hxgen
rendered (computed on the controller), and this host keeps the sums of the previous converge
(in the service's state directory); the record lists the files added, removed and changed since
then. API keys likewise: the ids in the gateway's installed key map are compared with the ids
at the previous converge (ids only, never their hashes), and each difference becomes a
key-created or key-revoked record as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import write_atomically
from .log import AuditLog

STATE_FILE = "last-converge.json"


class ConvergeInputError(ValueError):
    pass


@dataclass(frozen=True)
class ConvergeInput:
    user: str
    revision: str | None
    dirty: bool | None
    rendered: dict[str, str]
    """rendered path (relative) -> sha256."""


def parse_input(data: Any) -> ConvergeInput:
    if not isinstance(data, dict):
        raise ConvergeInputError("the converge input must be a JSON object")
    rendered = data.get("rendered", {})
    pairs = rendered.items() if isinstance(rendered, dict) else ()
    if not isinstance(rendered, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise ConvergeInputError("rendered must map file names to their sha256")
    revision = data.get("revision") or None
    dirty = data.get("dirty")
    if dirty == "":  # no git on the controller
        dirty = None
    if revision is not None and not isinstance(revision, str):
        raise ConvergeInputError("revision must be a string or null")
    if dirty is not None and not isinstance(dirty, bool):
        raise ConvergeInputError("dirty must be true, false or null")
    return ConvergeInput(str(data.get("user") or "unknown"), revision, dirty, dict(rendered))


def installed_key_ids(key_map: Path | None) -> dict[str, str] | None:
    """key id -> tenant, from the gateway's api-keys.map (`<sha256> "<tenant> <expiry> <id>";`);
    None when there is no gateway key map on this host."""
    if key_map is None or not key_map.exists():
        return None
    ids: dict[str, str] = {}
    for line in key_map.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or '"' not in line:
            continue
        words = line.split('"')[1].split()
        if len(words) >= 3:
            ids[words[-1]] = words[0]
    return ids


def record_converge(log: AuditLog, state_dir: Path, given: ConvergeInput, key_map: Path | None) -> dict[str, Any]:
    state_file = state_dir / STATE_FILE
    try:
        previous = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    before = (previous or {}).get("rendered", {})
    after = given.rendered
    keys_now = installed_key_ids(key_map)
    keys_before = (previous or {}).get("keys")
    added_keys: list[str] = []
    revoked_keys: list[str] = []
    if keys_now is not None:
        known = keys_before or {}
        added_keys = sorted(set(keys_now) - set(known))
        revoked_keys = sorted(set(known) - set(keys_now))
    detail = {
        "revision": given.revision,
        "dirty": given.dirty,
        "first": previous is None,
        "rendered_files": len(after),
        "rendered_added": sorted(set(after) - set(before)),
        "rendered_removed": sorted(set(before) - set(after)),
        "rendered_changed": sorted(p for p in set(after) & set(before) if after[p] != before[p]),
        "keys_added": added_keys,
        "keys_revoked": revoked_keys,
    }
    records = [log.append(given.user, "converge", detail)]
    for key in added_keys:
        records.append(log.append(given.user, "key-created", {"key_id": key, "tenant": keys_now[key]}))
    for key in revoked_keys:
        records.append(log.append(given.user, "key-revoked", {"key_id": key, "tenant": (keys_before or {})[key]}))
    state = {"rendered": after, "keys": keys_now if keys_now is not None else keys_before}
    write_atomically(state_file, json.dumps(state, sort_keys=True, indent=1) + "\n", 0o640)
    changed = any(detail[k] for k in ("rendered_added", "rendered_removed", "rendered_changed")) or bool(
        added_keys or revoked_keys
    )
    return {"changed": changed or previous is None, "seq": records[-1]["seq"], "records": len(records)}
