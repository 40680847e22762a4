"""The chain as the service sees it: verified in full at start (and daily), then incrementally,
reading only what was appended since the last look."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import log
from .verify import ChainVerifier, Result


@dataclass
class ChainState:
    log: log.AuditLog
    public: Ed25519PublicKey | None
    verifier: ChainVerifier = field(default_factory=ChainVerifier)
    by_action: dict[str, int] = field(default_factory=dict)
    """Records of the kept log that verified, by action (exported as hx_audit_records_total; it
    drops only when old segments are pruned, which Prometheus reads as a counter reset)."""
    last_admin_request: str | None = None
    result: Result | None = None
    _segment: Path | None = None
    _offset: int = 0
    _line: int = 0

    def full(self) -> Result:
        self.verifier = ChainVerifier()
        self.by_action = {}
        self._segment, self._offset, self._line = None, 0, 0
        return self.refresh()

    def refresh(self) -> Result:
        """Read what was appended since the last refresh and check the head; under the log's lock,
        so no writer is half-way through a record and its head."""
        with self.log.locked():
            existing = log.segments(self.log.directory)
            if self._segment is not None and (
                self._segment not in existing or self._segment.stat().st_size < self._offset
            ):
                # a verified segment vanished or shrank: start again (and report what is wrong)
                self.verifier = ChainVerifier()
                self.by_action = {}
                self._segment, self._offset, self._line = None, 0, 0
            start = existing.index(self._segment) if self._segment in existing else 0
            for path in existing[start:]:
                if path != self._segment:
                    self._segment, self._offset, self._line = path, 0, 0
                self._read(path)
                if self.verifier.problem is not None:
                    break
            # Every copy of the head counts: one rolled back beside the log, or deleted with it,
            # is caught by the copy beside the backups.
            self.result = None
            for path in [self.log.head_file, *self.log.head_copies]:
                try:
                    head = log.read_head(path)
                except (OSError, ValueError) as exc:
                    head = {"unreadable": str(exc)}
                if head is None and path != self.log.head_file:
                    continue
                result = self.verifier.finish(head, self.public, str(path))
                if self.result is None or not result.ok:
                    self.result = result
                if not result.ok:
                    break
        return self.result

    def _read(self, path: Path) -> None:
        with path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        for raw in data[: end + 1].split(b"\n")[:-1]:
            self._offset += len(raw) + 1
            self._line += 1
            line = raw.decode("utf-8", errors="surrogateescape")
            if self.verifier.feed(str(path), self._line, line) is not None:
                return
            record = json.loads(line)
            self.by_action[record["action"]] = self.by_action.get(record["action"], 0) + 1
            if record["action"] == "admin-call":
                self.last_admin_request = record["detail"].get("request_id") or None
