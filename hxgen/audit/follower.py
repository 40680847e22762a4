"""Follows the gateway's JSON access log with a durable position: the file's inode and the offset
of the next unread line, kept in a state file. Rotation by rename is followed (the rest of the
renamed file is read before the new one), a restart goes on from the saved position, and a
request that was recorded just before a crash (its record written, the position not yet saved)
is recognised by its request id and not recorded twice."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..files import write_atomically

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
        self._file: BinaryIO | None = None
        self._inode: int | None = None
        self._offset = 0
        self._load_state()

    # -- position -----------------------------------------------------------------------------
    def _load_state(self) -> None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            self._inode, self._offset = int(state["inode"]), int(state["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            self._inode, self._offset = None, 0

    def _save_state(self) -> None:
        if self._inode is None:
            return
        write_atomically(self.state_file, json.dumps({"inode": self._inode, "offset": self._offset}) + "\n", 0o640)

    def _find_by_inode(self, inode: int) -> Path | None:
        """The renamed file that had the saved inode (access.log.1 after a rotation), if still here."""
        directory = self.access_log.parent
        for path in sorted(directory.glob(self.access_log.name + "*")):
            try:
                if path.stat().st_ino == inode and path.is_file():
                    return path
            except OSError:
                continue
        return None

    # -- reading ------------------------------------------------------------------------------
    def poll(self) -> int:
        """Read every complete line written since the last poll; returns how many were read."""
        read = 0
        try:
            current = self.access_log.stat()
        except FileNotFoundError:
            current = None
        if self._file is None and self._inode is not None and (current is None or current.st_ino != self._inode):
            old = self._find_by_inode(self._inode)
            if old is not None:  # restarted after a rotation: finish the renamed file first
                self._open(old, self._inode, self._offset)
        if self._file is not None and current is not None and current.st_ino != self._inode:
            read += self._drain()  # rotated while we were reading it: the rest, then the new file
            self._close()
            self._inode, self._offset = current.st_ino, 0
            self._save_state()
        if current is None:
            if self._file is not None:
                read += self._drain()
            return read
        if self._file is None:
            offset = self._offset if self._inode == current.st_ino else 0
            if offset > current.st_size:  # truncated in place: start again from its beginning
                offset = 0
            self._open(self.access_log, current.st_ino, offset)
        elif current.st_size < self._offset:
            self._offset = 0
            self._file.seek(0)
        read += self._drain()
        return read

    def _open(self, path: Path, inode: int, offset: int) -> None:
        self._file = path.open("rb")
        self._inode, self._offset = inode, offset
        self._file.seek(offset)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None

    def close(self) -> None:
        self._close()

    def _drain(self) -> int:
        assert self._file is not None
        self._file.seek(self._offset)
        data = self._file.read()
        end = data.rfind(b"\n")
        if end < 0:
            return 0
        lines = data[: end + 1].split(b"\n")[:-1]
        count = 0
        for raw in lines:
            self._offset += len(raw) + 1
            count += 1
            if self._handle(raw):
                self._save_state()  # the record is written: move past its line at once
        self._save_state()
        return count

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


def inode_of(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
