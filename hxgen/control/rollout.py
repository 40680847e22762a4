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
canary, or a restart, starts again.

A step that is not verified yet (the gateway has not loaded its split) may roll back but never
advances: its minimums would judge traffic that the step's weights did not send."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import requests

from ..contracts import control as contract
from ..contracts import usage as usage_contract
from ..contracts.control_config import Canary, Route, ServiceConfig
from .model import Weight

if TYPE_CHECKING:
    from .service import HostControl

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
        return Decision(_succeeded(held), contract.AUDIT_ROLLOUT_SUCCEEDED)
    if canary.promotion == "manual":
        reason = f"step {state.step + 1} held at {canary.steps_percent[state.step]} %: waiting for a promotion"
        # no audit action of its own (the weights stay): the promotion that ends the wait is audited
        return Decision(replace(held, phase="waiting", reason=reason), None)
    return Decision(advanced(held, now, canary, "the gate held"), contract.AUDIT_ROLLOUT_ADVANCED)


def advanced(state: State, now: dt.datetime, canary: Canary, why: str) -> State:
    """The next step (or succeeded from the last), unverified: its split is not live yet."""
    if state.step >= len(canary.steps_percent) - 1:
        return _succeeded(state)
    step = state.step + 1
    reason = f"{why}: step {step + 1} of {len(canary.steps_percent)} at {canary.steps_percent[step]} %"
    return replace(state, phase="progressing", step=step, step_started=now, failed_checks=0, checks={},
                   reason=reason, verified=None)  # fmt: skip


def _succeeded(state: State) -> State:
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
    """'down, errors_above_stable (canary error ratio 0.31, stable error ratio 0.01)'."""
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


# --- the loop -------------------------------------------------------------------------------------
GATE_QUERY = contract.GATE_SERIES + "{{route={alias}}}"
REQUESTS_QUERY = (
    "sum(increase(" + usage_contract.VARIANT_REQUESTS_TOTAL + "{{route={alias},variant={canary}}}[{seconds}s]))"
)
EVIDENCE_QUERY = contract.CANARY_ERRORS_SERIES + "{{route={alias}}}"
QUERY_TIMEOUT_S = 5.0
VERIFY_TIMEOUT_S = 20.0
VERIFY_POLL_S = 0.5
log = logging.getLogger("hx-control.rollout")


class GateError(Exception):
    """Prometheus could not be asked, or answered something that is not a vector."""


def query(url: str, promql: str, timeout_s: float = QUERY_TIMEOUT_S) -> list[tuple[dict[str, str], float]]:
    """An instant query (/api/v1/query): (labels, value) of each series. Raises GateError."""
    try:
        answer = requests.get(f"{url.rstrip('/')}/api/v1/query", params={"query": promql}, timeout=timeout_s)
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise GateError(f"Prometheus at {url}: {exc}") from None
    data = body.get("data") if isinstance(body, dict) else None
    if answer.status_code != 200 or body.get("status") != "success" or not isinstance(data, dict):
        raise GateError(f"Prometheus at {url} answered {answer.status_code}: {body.get('error') or body}")
    try:
        return [(dict(r.get("metric", {})), float(r["value"][1])) for r in data.get("result", [])]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise GateError(f"Prometheus at {url}: not an instant vector ({exc})") from None


def observe(url: str, alias: str, state: State, now: dt.datetime) -> Observation:
    """The gate of `alias` now and the canary's requests since its step started. Raises GateError;
    the evidence is best effort (a failure's reason names what it could read)."""
    quoted = json.dumps(alias)
    failing = {labels.get("check", "?"): value for labels, value in query(url, GATE_QUERY.format(alias=quoted))
               if value >= 1}  # fmt: skip
    seconds = max(1, int((now - state.step_started).total_seconds()))
    counted = query(url, REQUESTS_QUERY.format(alias=quoted, canary=json.dumps(state.canary), seconds=seconds))
    evidence = {}
    if failing:
        try:
            found = query(url, EVIDENCE_QUERY.format(alias=quoted))
        except GateError:
            found = []
        evidence = {f"{labels.get('role', labels.get('variant', '?'))} error ratio": v for labels, v in found}
    return Observation(failing, sum(v for _, v in counted), evidence)


@dataclass(frozen=True)
class Tick:
    """What one check did for one route (logged; the tests read it)."""

    state: State | None
    action: str | None
    gate_error: str | None = None
    verified: bool = False


class Rollouts:
    """Every route's canary, checked every interval_s by a daemon thread (start/stop), each check in
    its own transactions (hxgen.control.database). tick(now) runs one check of every route, for the
    tests and the thread alike.

    Prometheus unreachable: no transition, and the check counts as neither a pass nor a failure
    (the count of failures in a row stays); it is logged and counted in
    hx_control_rollout_gate_errors_total (on_gate_error). A transition's split is verified on
    gateway_status_url (polled up to verify_timeout_s): until it answers the new split the row
    says unverified, and every later check tries again before it decides."""

    def __init__(self, host: HostControl, on_gate_error: Callable[[str], None] = lambda alias: None,
                 verify_timeout_s: float = VERIFY_TIMEOUT_S, poll_s: float = VERIFY_POLL_S) -> None:  # fmt: skip
        self.host = host
        self.config = host.config
        self.on_gate_error = on_gate_error
        self.verify_timeout_s = verify_timeout_s
        self.poll_s = poll_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def canaries(self) -> dict[str, Canary]:
        return {a: r.canary for a, r in sorted(self.config.routes.items()) if r.canary is not None}

    @staticmethod
    def wanted(config: ServiceConfig) -> bool:
        """Some route has a canary and there is a Prometheus to ask."""
        return config.prometheus_url is not None and any(r.canary for r in config.routes.values())

    # --- one check ------------------------------------------------------------------------------
    def tick(self, now: dt.datetime | None = None, aliases: list[str] | None = None) -> dict[str, Tick]:
        done = {}
        for alias, canary in self.canaries.items():
            if aliases is None or alias in aliases:
                done[alias] = self._check(alias, canary, now or self.host.now())
        return done

    def _check(self, alias: str, canary: Canary, now: dt.datetime) -> Tick:
        state = self.host.stored_rollout(alias)
        current = state is not None and (state.canary, state.version) == (canary.model, canary.version)
        verified = False
        if current and state.verified is None and self._live(alias):
            state, verified = self._mark_verified(alias, state)
        seen, gate_error = None, None
        if current and state.phase not in TERMINAL:
            try:
                seen = observe(self.config.prometheus_url, alias, state, now)
            except GateError as exc:
                gate_error = str(exc)
                log.warning("rollout of %s: no gate this check (neither pass nor failure): %s", alias, exc)
                self.on_gate_error(alias)
        decision = decide(state, seen, now, canary)
        if decision.state == state:
            return Tick(state, None, gate_error, verified)
        if not self.host.apply_rollout(alias, state, decision.state, decision.action):
            return Tick(self.host.stored_rollout(alias), None, gate_error, verified)
        state = decision.state
        if decision.action is not None:
            log.warning("rollout of %s: %s: %s", alias, decision.action, state.reason)
            verified = False
            if state.verified is None and self._live(alias):
                state, verified = self._mark_verified(alias, state)
        return Tick(state, decision.action, gate_error, verified)

    def _mark_verified(self, alias: str, state: State) -> tuple[State, bool]:
        seen = replace(state, verified=self.host.now())
        if self.host.apply_rollout(alias, state, seen, None):
            return seen, True
        return state, False

    def _live(self, alias: str) -> bool:
        """Whether the gateway serves the split the database holds for `alias`, polled until
        verify_timeout_s; without gateway_status_url there is nothing to ask, so yes."""
        url = self.config.gateway_status_url
        if url is None:
            return True
        wanted = self.host.live_weights().get(alias)
        deadline = time.monotonic() + self.verify_timeout_s
        while True:
            try:
                answer = requests.get(url, timeout=min(QUERY_TIMEOUT_S, self.verify_timeout_s))
                if answer.status_code == 200 and answer.json().get(alias) == wanted:
                    return True
            except (requests.RequestException, ValueError, AttributeError):
                pass
            if time.monotonic() >= deadline or self._stopping.wait(self.poll_s):
                return False

    # --- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hx-rollout", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        due = dict.fromkeys(self.canaries, 0.0)
        while not self._stopping.is_set():
            ready = [a for a, at in due.items() if at <= time.monotonic()]
            for alias in ready:
                due[alias] = time.monotonic() + self.canaries[alias].interval_s
                try:
                    self.tick(aliases=[alias])
                except Exception as exc:  # the thread must outlive a database that is down for a while
                    log.warning("rollout of %s: the check failed, retrying next interval: %s", alias, exc)
            self._stopping.wait(max(0.0, min(due.values()) - time.monotonic()))
