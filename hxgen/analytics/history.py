"""The service's memory of each series: the history window, kept between cycles so that a
cycle asks Prometheus only for the minutes since the last one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .prometheus import Result

# Points a cycle fetches again: rules and scrapes that arrive late replace what was read early.
REFETCH_STEPS = 5


@dataclass(frozen=True, order=True)
class Member:
    """One series among those a query returns, named the way the exported metrics are."""

    model: str
    resource: str


def member_of(labels: dict[str, str], member_label: str | None) -> Member:
    if member_label == "model":
        return Member(labels.get("model", ""), "")
    if member_label is not None:
        return Member("", labels.get(member_label, ""))
    # A user's query: its labels, except the model (a label of its own), tell members apart.
    rest = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("model", "__name__"))
    return Member(labels.get("model", ""), rest)


@dataclass
class Points:
    timestamps: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty(0))

    def merge(self, new: Result, since: float) -> None:
        keep = self.timestamps < since
        self.timestamps = np.concatenate((self.timestamps[keep], new.timestamps))
        self.values = np.concatenate((self.values[keep], new.values))

    def trim(self, oldest: float) -> None:
        keep = self.timestamps >= oldest
        self.timestamps, self.values = self.timestamps[keep], self.values[keep]


@dataclass
class History:
    """One spec series: its members' points over the last `window_s` seconds."""

    member_label: str | None
    window_s: float
    step_s: int
    members: dict[Member, Points] = field(default_factory=dict)
    fetched_until: float | None = None

    def next_span(self, now: float) -> tuple[float, float]:
        """What to fetch: from a little before the last fetch (or the window's start) to now,
        on multiples of the step so that points fall on the same instants every cycle."""
        end = np.floor(now / self.step_s) * self.step_s
        start = end - self.window_s
        if self.fetched_until is not None:
            start = max(start, self.fetched_until - REFETCH_STEPS * self.step_s)
        return float(start), float(end)

    def update(self, results: list[Result], start: float, end: float) -> None:
        for r in results:
            member = member_of(r.labels, self.member_label)
            self.members.setdefault(member, Points()).merge(r, start)
        for member, points in list(self.members.items()):
            points.trim(end - self.window_s)
            if not len(points.timestamps):
                del self.members[member]  # gone for a whole window: a model removed, a disk unmounted
        self.fetched_until = end
