"""state_dir/position.json: the two read positions in the access log, saved together (atomically)
with what depends on them. The metering position moves whether or not PostgreSQL answers, and
today's counts move with it; the database position moves only past rows PostgreSQL committed.
pending_rows counts, per log file (inode), the rows metered but not yet committed, so that a file
that disappears before the database caught up is reported with how many rows it took along."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..files import write_atomically
from ..logtail import Position
from .metering import DayCounts

FILE = "position.json"


@dataclass
class State:
    metering: Position = field(default_factory=Position)
    database: Position = field(default_factory=Position)
    pending_rows: dict[int, int] = field(default_factory=dict)
    lost_rows: int = 0
    today: DayCounts | None = None

    def to_json(self) -> dict:
        return {
            "metering": self.metering.to_json(),
            "database": self.database.to_json(),
            "pending_rows": {str(inode): n for inode, n in sorted(self.pending_rows.items()) if n},
            "lost_rows": self.lost_rows,
            "today": self.today.to_json() if self.today else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        pending = data.get("pending_rows") or {}
        return cls(
            metering=Position.from_json(data.get("metering")),
            database=Position.from_json(data.get("database")),
            pending_rows={int(k): int(v) for k, v in pending.items()} if isinstance(pending, dict) else {},
            lost_rows=int(data.get("lost_rows") or 0),
            today=DayCounts.from_json(data.get("today")),
        )


def load(state_dir: Path) -> State:
    """The saved state; none (a first start) is a fresh one. Raises ValueError on a damaged file:
    starting over would count the whole log again into today's quotas."""
    path = state_dir / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return State()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the saved positions: {exc}; move it away to start over") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object; move it away to start over")
    try:
        return State.from_json(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: damaged ({exc}); move it away to start over") from exc


def save(state_dir: Path, state: State) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(state_dir / FILE, json.dumps(state.to_json(), sort_keys=True) + "\n", 0o640)
