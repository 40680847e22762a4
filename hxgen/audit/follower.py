"""Follows the gateway's JSON access log with a durable position (hxgen.logtail: the file's inode
and the offset of the next unread line), kept in a state file. Rotation by rename is followed (the
rest of the renamed file is read before the new one), a restart goes on from the saved position, and a
request that was recorded just before a crash (its record written, the position not yet saved)
is recognised by its request id and not recorded twice."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import write_atomically
from ..logtail import LogCursor, Position

ADMIN_CALL = "admin-call"
UNAUTHORIZED = 401


@dataclass
class Counts:
    auth_failures: int = 0
    admin_calls: dict[str, int] = field(default_factory=dict)
    """tenant -> admin calls seen."""
    unreadable_lines: int = 0


def admin_detail(entry: dict[str, Any]) -> dict[str, Any]:
    """What an admin call's record keeps: who, what and how it ended; never a header or a key."""
    return {
        "tenant": str(entry.get("tenant") or ""),
        "role": str(entry.get("role") or ""),
        "method": str(entry.get("method") or ""),
        "path": str(entry.get("path") or ""),
        "status": entry.get("status"),
        "request_id": str(entry.get("request_id") or ""),
        "client": str(entry.get("client") or ""),
        "time": str(entry.get("time") or ""),
    }


class AccessLogFollower:
    def __init__(
        self,
        access_log: Path,
        state_file: Path,
        record: Callable[[dict[str, Any]], None],
        admin_prefix: str = "/admin",
        last_recorded_request: str | None = None,
    ) -> None:
        self.access_log = access_log
        self.state_file = state_file
        self.record = record
        """Appends one admin-call record with the given detail."""
        self.admin_prefix = admin_prefix.rstrip("/")
        self.last_recorded_request = last_recorded_request
        self.counts = Counts()
        self.cursor = LogCursor(access_log, self._load_state(), self._lost)

    # -- position (the same state file as before the shared cursor: {"inode", "offset"}) ---------
    def _load_state(self) -> Position:
        try:
            return Position.from_json(json.loads(self.state_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return Position()

    def _save_state(self) -> None:
        if self.cursor.position.inode is None:
            return
        write_atomically(self.state_file, json.dumps(self.cursor.position.to_json()) + "\n", 0o640)

    @staticmethod
    def _lost(position: Position) -> None:
        print(
            f"hx-audit: the access log with inode {position.inode} is gone before it was read to its end "
            f"(from offset {position.offset}); admin calls in its rest are not recorded",
            file=sys.stderr,
            flush=True,
        )

    # -- reading ------------------------------------------------------------------------------
    def poll(self) -> int:
        """Read every complete line written since the last poll; returns how many were read."""
        count = 0
        before = self.cursor.position
        for raw, _position in self.cursor.lines():
            count += 1
            if self._handle(raw):
                self._save_state()  # the record is written: move past its line at once
        if self.cursor.position != before:
            self._save_state()
        return count

    def close(self) -> None:
        """Nothing is held open between polls; kept for the service's shutdown."""

    def _handle(self, raw: bytes) -> bool:
        """Count the line; True when it produced a record."""
        try:
            entry = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError:
            self.counts.unreadable_lines += 1
            return False
        if not isinstance(entry, dict):
            self.counts.unreadable_lines += 1
            return False
        if entry.get("status") == UNAUTHORIZED:
            self.counts.auth_failures += 1
        path = str(entry.get("path") or "")
        if path != self.admin_prefix and not path.startswith(self.admin_prefix + "/"):
            return False
        detail = admin_detail(entry)
        tenant = detail["tenant"] or "-"
        self.counts.admin_calls[tenant] = self.counts.admin_calls.get(tenant, 0) + 1
        if detail["request_id"] and detail["request_id"] == self.last_recorded_request:
            return False  # recorded before a crash that lost the saved position
        self.record(detail)
        self.last_recorded_request = detail["request_id"] or None
        return True
