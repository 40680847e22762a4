"""The log on disk: a directory of monthly segments (audit-YYYY-MM.jsonl) that writers append to
under an exclusive flock, each append fsync'd and followed by a newly signed head.

Several writers share the log (root: the playbook, fail2ban's action; the hx-audit service
user): the lock file serialises them, so seq numbers never repeat and no record is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import fsync_dir, write_atomically
from . import records, signing

SEGMENT_PREFIX = "audit-"
SEGMENT_SUFFIX = ".jsonl"
HEAD_FILE = "head.json"
LOCK_FILE = ".lock"
FILE_MODE = 0o660  # root and the hx-audit group both append (the directory is setgid hx-audit)
LOCK_TIMEOUT_S = 10.0
PRUNED = "audit-pruned"


class AuditError(Exception):
    """The log cannot be appended to (unreadable tail, lock timeout, no key)."""


def segment_name(when: dt.datetime) -> str:
    return f"{SEGMENT_PREFIX}{when.astimezone(dt.UTC):%Y-%m}{SEGMENT_SUFFIX}"


def segments(directory: Path) -> list[Path]:
    """The log's segments, oldest first (their names sort by month)."""
    return sorted(p for p in directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}") if p.is_file())


def last_line(path: Path) -> str | None:
    """The last non-empty line of a file, read from its end."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        chunk, data = 4096, b""
        pos = end
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
            stripped = data.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1].decode("utf-8")
        stripped = data.rstrip(b"\n")
        return stripped.decode("utf-8") if stripped else None


def first_line(path: Path) -> str | None:
    with path.open("rb") as f:
        line = f.readline()
    return line.decode("utf-8").rstrip("\n") or None


def read_head(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@dataclass
class AuditLog:
    directory: Path
    key_file: Path
    """The Ed25519 private key that signs the head after every append."""
    head_copies: list[Path] = field(default_factory=list)
    """Files that receive a copy of the signed head (e.g. <backups_dir>/audit/head.json)."""

    @property
    def head_file(self) -> Path:
        return self.directory / HEAD_FILE

    @contextlib.contextmanager
    def locked(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = self.directory / LOCK_FILE
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            if os.fstat(fd).st_uid == os.geteuid():  # the other writers open it too, whatever our umask
                os.fchmod(fd, FILE_MODE)
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        raise AuditError(f"{lock}: cannot lock the log: {exc}") from exc
                    time.sleep(0.005)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, actor: str, action: str, detail: dict[str, Any], now: dt.datetime | None = None) -> dict:
        """Append one record and sign the new head; returns the record."""
        with self.locked():
            return self._append_locked(actor, action, detail, now)

    def _append_locked(self, actor: str, action: str, detail: dict[str, Any], now: dt.datetime | None) -> dict:
        key = self._key()
        when = now or dt.datetime.now(dt.UTC)
        existing = segments(self.directory)
        last = self._last_record(existing)
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, records.GENESIS)
        target = self.directory / segment_name(when)
        if existing and existing[-1].name >= target.name:
            target = existing[-1]  # the clock went back: keep appending to the newest segment
        record = records.make_record(seq, prev, actor, action, detail, records.rfc3339(when))
        new_file = not target.exists()
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            if new_file:
                os.fchmod(fd, FILE_MODE)
            os.write(fd, records.encode(record).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(self.directory)
        self._write_head(signing.sign_head(key, seq, record["hash"], record["time"]))
        return record

    def _key(self):
        try:
            return signing.load_private_key(self.key_file)
        except FileNotFoundError as exc:
            raise AuditError(f"{self.key_file}: no signing key (run `hx-audit keygen`)") from exc
        except (OSError, ValueError) as exc:
            raise AuditError(f"{self.key_file}: cannot read the signing key: {exc}") from exc

    def _last_record(self, existing: list[Path]) -> dict | None:
        for path in reversed(existing):
            line = last_line(path)
            if line is None:
                continue
            try:
                record = json.loads(line)
                int(record["seq"]), str(record["hash"])
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(
                    f"{path}: its last line is not a record ({exc}); run `hx-audit verify` and repair by hand"
                ) from exc
            return record
        return None

    def _write_head(self, head: dict[str, Any]) -> None:
        text = json.dumps(head, sort_keys=True, indent=2) + "\n"
        write_atomically(self.head_file, text, 0o644)
        for copy in self.head_copies:
            try:
                copy.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(copy, text, 0o644)
            except OSError as exc:  # the record is written and signed; a missing copy is reported
                print(f"hx-audit: warning: cannot copy the head to {copy}: {exc}", file=sys.stderr)

    def prune(self, retention_days: int, now: dt.datetime | None = None) -> list[str]:
        """Remove the oldest segments whose newest record is older than the retention, never the
        newest segment, and record what went (an `audit-pruned` record naming the first kept
        seq and its prev, which verification then accepts as the chain's anchor)."""
        when = now or dt.datetime.now(dt.UTC)
        cutoff = when - dt.timedelta(days=retention_days)
        with self.locked():
            existing = segments(self.directory)
            removed: list[str] = []
            for path in existing[:-1]:
                line = last_line(path)
                newest = records.parse_time(json.loads(line)["time"]) if line else None
                if newest is not None and newest >= cutoff:
                    break
                removed.append(path.name)
            if not removed:
                return []
            kept = existing[len(removed)]
            first = json.loads(first_line(kept) or "{}")
            for name in removed:
                (self.directory / name).unlink()
            fsync_dir(self.directory)
            detail = {
                "segments": removed,
                "retention_days": retention_days,
                "first_seq": first.get("seq"),
                "anchor": first.get("prev"),
            }
            self._append_locked("hx-audit", PRUNED, detail, now)
            return removed


def recent(directory: Path, limit: int, action: str | None = None) -> list[dict]:
    """The newest `limit` records (of `action`, when given), newest first, read from the end of
    the newest segments; a line that is not JSON is skipped (`hx-audit verify` reports it)."""
    found: list[dict] = []
    for path in reversed(segments(directory)):
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (action is None or record.get("action") == action):
                found.append(record)
                if len(found) >= limit:
                    return found
    return found
