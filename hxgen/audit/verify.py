"""Verification of the chain: every record's encoding, hash, seq and link to the previous one,
then the signed head (how many records there must be, and the last one's hash).

The first problem found is reported with its file:line and seq; nothing after it is trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import log, records, signing


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    seq: int | None
    message: str

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        seq = f" seq {self.seq}:" if self.seq is not None else ""
        return f"{where}:{seq} {self.message}"


@dataclass(frozen=True)
class Result:
    records: int
    first_seq: int | None
    last_seq: int | None
    anchored: bool
    """The oldest kept record's prev was accepted as the anchor (older segments were pruned)."""
    head_seq: int | None
    signature: str
    """ok, or "not checked" (no head or no public key given)."""
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        span = f"seq {self.first_seq}..{self.last_seq}" if self.records else "empty"
        anchor = f", anchored at seq {self.first_seq} (older segments pruned)" if self.anchored else ""
        head = f"head seq {self.head_seq}" if self.head_seq is not None else "no head"
        return f"ok: {self.records} records ({span}{anchor}), {head}, signature {self.signature}"


class ChainVerifier:
    """Feeds lines one at a time, so the service can go on from where it stopped."""

    def __init__(self, require_prune_record: bool = True) -> None:
        self.require_prune_record = require_prune_record
        """A log directory that does not start at seq 1 must hold a prune record saying so; one
        segment verified alone starts wherever it starts."""
        self.count = 0
        self.first: dict[str, Any] | None = None
        self.first_where: tuple[str, int] | None = None
        self.last: dict[str, Any] | None = None
        self.last_where: tuple[str, int] | None = None
        self.last_pruned: tuple[dict[str, Any], str, int] | None = None
        self.hashes: dict[int, str] = {}
        """seq -> hash, for the head's check of a record that is not the last."""
        self.problem: Problem | None = None

    def feed(self, file: str, lineno: int, line: str) -> Problem | None:
        if self.problem is not None:
            return self.problem
        self.problem = self._check(file, lineno, line)
        return self.problem

    def _check(self, file: str, lineno: int, line: str) -> Problem | None:
        def bad(message: str, seq: int | None = None) -> Problem:
            return Problem(file, lineno, seq, message)

        if not line.strip():
            return bad("an empty line inside the log (a record was blanked out)")
        try:
            record = json.loads(line)
        except ValueError as exc:
            return bad(f"not a JSON record ({exc.msg} at column {exc.colno})")
        if not isinstance(record, dict):
            return bad("not a JSON object")
        seq = record.get("seq") if isinstance(record.get("seq"), int) else None
        missing = [f for f in records.FIELDS if f not in record]
        extra = sorted(set(record) - set(records.FIELDS))
        if missing or extra:
            what = ", ".join([f"missing {m}" for m in missing] + [f"unexpected {e}" for e in extra])
            return bad(f"not a record of this log ({what})", seq)
        if seq is None or seq < 1:
            return bad(f"seq is not a positive integer ({record['seq']!r})")
        if not isinstance(record["detail"], dict):
            return bad("detail is not an object", seq)
        try:
            records.parse_time(record["time"])
        except ValueError as exc:
            return bad(str(exc), seq)
        if records.canonical(record) != line:
            return bad("the line is not in the canonical encoding: it was rewritten", seq)
        if records.record_hash(record) != record["hash"]:
            return bad("its hash does not match its content: the record was edited", seq)
        if self.last is None:
            if seq == 1 and record["prev"] != records.GENESIS:
                return bad("the first record's prev is not the genesis value", seq)
        else:
            last_seq = self.last["seq"]
            lf, ll = self.last_where
            if seq <= last_seq:
                return bad(
                    f"seq {seq} does not follow seq {last_seq} ({lf}:{ll}): a record was inserted here or moved", seq
                )
            if seq > last_seq + 1:
                gone = f"seq {last_seq + 1}" if seq == last_seq + 2 else f"seq {last_seq + 1}..{seq - 1}"
                return bad(f"{gone} missing before it (after {lf}:{ll}): records were deleted", seq)
            if record["prev"] != self.last["hash"]:
                return bad(
                    f"its prev does not match the hash of seq {last_seq} ({lf}:{ll}): "
                    "the record before it was replaced, or this one was inserted",
                    seq,
                )
        if self.first is None:
            self.first, self.first_where = record, (file, lineno)
        if record["action"] == log.PRUNED:
            self.last_pruned = (record, file, lineno)
        self.last, self.last_where = record, (file, lineno)
        self.hashes[seq] = record["hash"]
        self.count += 1
        return None

    def finish(self, head: dict[str, Any] | None, public: Ed25519PublicKey | None, head_name: str = "head") -> Result:
        problem = self.problem or self._anchor_problem()
        signature = "not checked"
        head_seq = None
        if problem is None and head is not None:
            head_seq = head.get("seq") if isinstance(head.get("seq"), int) else None
            if public is not None:
                why = signing.head_signature_problem(head, public)
                if why:
                    problem = Problem(head_name, None, head_seq, why)
                else:
                    signature = "ok"
            if problem is None:
                problem = self._head_problem(head, head_name)
        return Result(
            records=self.count,
            first_seq=self.first["seq"] if self.first else None,
            last_seq=self.last["seq"] if self.last else None,
            anchored=bool(self.first and self.first["seq"] != 1),
            head_seq=head_seq,
            signature=signature,
            problem=problem,
        )

    def _anchor_problem(self) -> Problem | None:
        """A log that does not start at seq 1 must say, in a later prune record, that it starts there."""
        if self.first is None or self.first["seq"] == 1 or not self.require_prune_record:
            return None
        file, line = self.first_where
        seq = self.first["seq"]
        if self.last_pruned is None:
            return Problem(file, line, seq, "the log starts here, but no prune record says older records were removed")
        pruned, pf, pl = self.last_pruned
        if pruned["detail"].get("first_seq") != seq or pruned["detail"].get("anchor") != self.first["prev"]:
            return Problem(
                file,
                line,
                seq,
                f"the log starts here, but the last prune record ({pf}:{pl}) says the oldest kept record is "
                f"seq {pruned['detail'].get('first_seq')}: segments were removed outside the retention",
            )
        return None

    def _head_problem(self, head: dict[str, Any], head_name: str) -> Problem | None:
        head_seq, head_hash = head.get("seq"), head.get("sha256")
        if not isinstance(head_seq, int):
            return Problem(head_name, None, None, "the head has no seq")
        if self.last is None:
            return Problem(head_name, None, head_seq, f"the log holds no record, but the signed head says {head_seq}")
        file, line = self.last_where
        last_seq = self.last["seq"]
        if last_seq < head_seq:
            missing = head_seq - last_seq
            return Problem(
                file,
                line,
                last_seq,
                f"the log ends here, but the signed head says seq {head_seq}: the tail was truncated "
                f"({missing} record{'s' if missing != 1 else ''} missing)",
            )
        if head_seq in self.hashes and self.hashes[head_seq] != head_hash:
            return Problem(
                head_name,
                None,
                head_seq,
                f"seq {head_seq}'s hash differs from the signed head's: records up to it were rewritten",
            )
        if head_seq < (self.first or {}).get("seq", 0):
            return Problem(head_name, None, head_seq, "the signed head is older than the oldest kept record")
        if last_seq > head_seq:
            return Problem(
                file,
                line,
                last_seq,
                f"records after the signed head (seq {head_seq}) up to here are not covered by a signature",
            )
        return None


def files_of(target: Path) -> list[Path]:
    """A log directory's segments, oldest first, or the one file given."""
    return log.segments(target) if target.is_dir() else [target]


def verify(target: Path, head: dict[str, Any] | None = None, public: Ed25519PublicKey | None = None) -> Result:
    verifier = ChainVerifier(require_prune_record=target.is_dir())
    for path in files_of(target):
        with path.open(encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            for lineno, raw in enumerate(f, 1):
                if verifier.feed(str(path), lineno, raw.rstrip("\n")) is not None:
                    break
        if verifier.problem is not None:
            break
    return verifier.finish(head, public)
