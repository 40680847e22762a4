"""One record of the chain: its canonical encoding and the hashes that link it to the previous one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64
"""The `prev` of the very first record (seq 1)."""

FIELDS = ("seq", "time", "actor", "action", "detail", "prev", "hash")


def canonical(obj: Any) -> str:
    """The one encoding hashed and written: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical encoding of the record without its own `hash` field; the
    next record's `prev` is this value."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def utc_now() -> str:
    return rfc3339(dt.datetime.now(dt.UTC))


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 UTC time as records carry it; ValueError for anything else."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    return dt.datetime.fromisoformat(text[:-1] + "+00:00")


# Names of detail fields that would carry a secret; append refuses them (at any depth), and any
# string that looks like an Authorization header's value.
SECRET_FIELDS = frozenset(
    {"authorization", "password", "passphrase", "secret", "token", "api_key", "private_key", "key_hash"}
)


def secret_in(detail: Any, path: str = "detail") -> str | None:
    """Where a detail holds something that looks like a secret, or None."""
    if isinstance(detail, dict):
        for k, v in detail.items():
            if str(k).lower().replace("-", "_") in SECRET_FIELDS:
                return f"{path}.{k}"
            found = secret_in(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(detail, list):
        for i, v in enumerate(detail):
            found = secret_in(v, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(detail, str) and detail.lower().startswith(("bearer ", "basic ")):
        return path
    return None


def make_record(seq: int, prev: str, actor: str, action: str, detail: dict[str, Any], time: str) -> dict[str, Any]:
    record = {"seq": seq, "time": time, "actor": actor, "action": action, "detail": detail, "prev": prev}
    record["hash"] = record_hash(record)
    return record


def encode(record: dict[str, Any]) -> str:
    """The line written to the log (with its newline)."""
    return canonical(record) + "\n"
