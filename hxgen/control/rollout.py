"""Canary rollouts: hx-control moves a route's canary through its steps while the gate holds, and
back to the spec's split when the gate fails (hxgen.contracts.control_config.Canary).

Two parts. `decide` is the whole policy, a pure function of the stored state, what the gate said
this check, the time and the route's Canary; it is unit-tested without I/O. `Rollouts` is the loop
that, every check, asks Prometheus, calls `decide` and applies the transition through HostControl
(weights, rollout row and one audit record in one transaction, then the gateway's files), then
verifies the new split on the gateway's status server.

The phases: progressing (the canary at steps_percent[step]), waiting (the step's gate held and
promotion is manual: `hxgen rollout promote`), succeeded (the canary at 100 %), rolled_back (the
spec's split, canary 0). succeeded and rolled_back are terminal: only a new (model, version) of the
canary, or a restart (rolled_back only), starts again.

A step that is not verified yet (the gateway has not loaded its split) may roll back but never
advances: its minimums would judge traffic that the step's weights did not send."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..contracts import control as contract
from ..contracts.control_config import Canary, Route
from .model import Weight

Phase = Literal["progressing", "waiting", "succeeded", "rolled_back"]
PHASES: tuple[Phase, ...] = ("progressing", "waiting", "succeeded", "rolled_back")
TERMINAL = ("succeeded", "rolled_back")


@dataclass(frozen=True)
class State:
    """A route's rollout as hx_control.rollouts stores it."""

    canary: str
    version: str
    phase: Phase
    step: int
    """Index into steps_percent."""
    step_started: dt.datetime
    failed_checks: int = 0
    """Consecutive checks whose gate failed."""
    checks: dict[str, Any] = field(default_factory=dict)
    """The failing checks of the last check and their evidence; {} when the gate held."""
    reason: str = ""
    verified: dt.datetime | None = None
    """When the gateway was seen serving this state's split; None: not yet."""


@dataclass(frozen=True)
class Observation:
    """What the gate said at one check."""

    failing: dict[str, float]
    """check -> the value of its hx:canary_gate:failing series (1), for each failing check."""
    requests: float
    """Requests the canary answered since the step started."""
    evidence: dict[str, float] = field(default_factory=dict)
    """Values that explain a failure, e.g. the error ratios of canary and stable ("canary", "stable")."""


@dataclass(frozen=True)
class Decision:
    state: State
    action: str | None
    """The audit action of a transition; None when the weights stay: nothing changed, or only the
    row did (a failed check counted, a held gate reset the count, a manual step began waiting)."""


def started(canary: Canary, now: dt.datetime, reason: str = "") -> State:
    return State(canary.model, canary.version, "progressing", 0, now,
                 reason=reason or f"started at {canary.steps_percent[0]} %")  # fmt: skip


def decide(state: State | None, seen: Observation | None, now: dt.datetime, canary: Canary) -> Decision:
    """The next state, and the audit action when it is a transition.

    - No state, or one for another (model, version): start at steps_percent[0].
    - Terminal phases stay until a restart or a new version.
    - seen None (Prometheus could not be asked): nothing changes; the check counts as neither a
      pass nor a failure.
    - A failing gate counts; failed_checks in a row roll back. A holding gate resets the count.
    - A holding gate with the step verified, step_min_s elapsed and step_min_requests answered:
      the last step succeeds; otherwise auto promotion advances and manual promotion waits."""
    if state is None or (state.canary, state.version) != (canary.model, canary.version):
        return Decision(started(canary, now), contract.AUDIT_ROLLOUT_STARTED)
    if state.phase in TERMINAL or seen is None:
        return Decision(state, None)
    if seen.failing:
        return _failed(state, seen, now, canary)
    held = replace(state, failed_checks=0, checks={})
    if state.phase == "waiting" or not _step_done(state, seen, now, canary):
        return Decision(held, None)
    if state.step == len(canary.steps_percent) - 1:
        return Decision(_succeeded(held, now), contract.AUDIT_ROLLOUT_SUCCEEDED)
    if canary.promotion == "manual":
        reason = f"step {state.step + 1} held at {canary.steps_percent[state.step]} %: waiting for a promotion"
        # no audit action of its own (the weights stay): the promotion that ends the wait is audited
        return Decision(replace(held, phase="waiting", reason=reason), None)
    return Decision(advanced(held, now, canary, "the gate held"), contract.AUDIT_ROLLOUT_ADVANCED)


def advanced(state: State, now: dt.datetime, canary: Canary, why: str) -> State:
    """The next step (or succeeded from the last), unverified: its split is not live yet."""
    if state.step >= len(canary.steps_percent) - 1:
        return _succeeded(state, now)
    step = state.step + 1
    reason = f"{why}: step {step + 1} of {len(canary.steps_percent)} at {canary.steps_percent[step]} %"
    return replace(state, phase="progressing", step=step, step_started=now, failed_checks=0, checks={},
                   reason=reason, verified=None)  # fmt: skip


def _succeeded(state: State, now: dt.datetime) -> State:
    # the last step's weights are already live, so its verification stands
    return replace(state, phase="succeeded", failed_checks=0, checks={},
                   reason="every step held: the canary takes all the traffic")  # fmt: skip


def _step_done(state: State, seen: Observation, now: dt.datetime, canary: Canary) -> bool:
    elapsed = (now - state.step_started).total_seconds()
    return state.verified is not None and elapsed >= canary.step_min_s and seen.requests >= canary.step_min_requests


def _failed(state: State, seen: Observation, now: dt.datetime, canary: Canary) -> Decision:
    count = state.failed_checks + 1
    checks = {"failing": sorted(seen.failing), "values": dict(sorted(seen.failing.items())),
              "evidence": dict(sorted(seen.evidence.items()))}  # fmt: skip
    said = failure_text(seen)
    if count < canary.failed_checks:
        reason = f"gate failing ({count} of {canary.failed_checks}): {said}"
        return Decision(replace(state, failed_checks=count, checks=checks, reason=reason), None)
    reason = f"rolled back after {count} failing checks in a row: {said}"
    back = replace(state, phase="rolled_back", failed_checks=count, checks=checks, reason=reason,
                   step_started=now, verified=None)  # fmt: skip
    return Decision(back, contract.AUDIT_ROLLOUT_ROLLED_BACK)


def failure_text(seen: Observation) -> str:
    """'errors_above_stable, down (canary error ratio 0.31, stable 0.01)'."""
    text = ", ".join(sorted(seen.failing))
    if seen.evidence:
        text += " (" + ", ".join(f"{k} {_number(v)}" for k, v in sorted(seen.evidence.items())) + ")"
    return text


def _number(value: float) -> str:
    return f"{value:.4g}"


# --- the weights of a state -----------------------------------------------------------------------
def weights(route: Route, state: State | None) -> list[Weight]:
    """The split a state puts on the gateway, in the spec's order: the canary at its step's percent
    and the stable variants sharing the rest in proportion to their spec weights (integers, the
    remainder to the first stable variant); the spec's split when rolled back (or no rollout)."""
    spec = [Weight(t.model, t.weight) for t in route.split]
    canary = route.canary
    if state is None or canary is None or state.phase == "rolled_back" or state.canary != canary.model:
        return spec
    percent = canary.steps_percent[min(state.step, len(canary.steps_percent) - 1)]
    stable = [w for w in spec if w.model != canary.model]
    base = sum(w.weight for w in stable)
    rest = 100 - percent
    shares = {w.model: (rest * w.weight // base if base else 0) for w in stable}
    if stable:
        shares[stable[0].model] += rest - sum(shares.values())
    return [Weight(w.model, percent if w.model == canary.model else shares[w.model]) for w in spec]
