"""The rollout policy (hxgen.control.rollout.decide) and the weights of its states, without I/O:
every transition, the failed-checks threshold and its reset, manual promotion, the time and request
minimums, a verified step before any advance, terminal phases, and a new version starting over."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from hxgen.contracts import control as contract
from hxgen.contracts.control_config import Canary, Route
from hxgen.control import rollout
from hxgen.control.model import Weight
from hxgen.control.rollout import Observation, State, decide

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HOLD = Observation({}, requests=1000)
FAIL = Observation({"errors_above_stable": 1.0}, requests=1000, evidence={"canary error ratio": 0.3})


def canary(**changes) -> Canary:
    values = dict(model="tiny-b", version="2", steps_percent=[5, 25, 100], step_min_s=300, step_min_requests=50,
                  interval_s=10, failed_checks=2, promotion="auto")  # fmt: skip
    return Canary(**(values | changes))


def route(c: Canary | None = None, split=(("tiny-a", 70), ("tiny-c", 30), ("tiny-b", 0))) -> Route:
    return Route(sticky="tenant", weights_owner="control", split=[{"model": m, "weight": w} for m, w in split],
                 canary=c or canary())  # fmt: skip


def at(step: int, phase="progressing", verified=T0, **changes) -> State:
    return State("tiny-b", "2", phase, step, T0, verified=verified, **changes)


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# --- starting -------------------------------------------------------------------------------------
def test_a_canary_without_a_rollout_starts_at_the_first_step_unverified():
    d = decide(None, None, T0, canary())
    assert d.action == contract.AUDIT_ROLLOUT_STARTED
    assert (d.state.phase, d.state.step, d.state.step_started, d.state.verified) == ("progressing", 0, T0, None)


@pytest.mark.parametrize("phase", rollout.PHASES)
@pytest.mark.parametrize("other", [{"version": "3"}, {"model": "tiny-c"}])
def test_a_new_version_or_another_canary_starts_over_whatever_the_phase(phase, other):
    d = decide(at(2, phase), HOLD, later(5), canary(**other))
    assert d.action == contract.AUDIT_ROLLOUT_STARTED
    assert (d.state.canary, d.state.version, d.state.step, d.state.phase) == (
        other.get("model", "tiny-b"), other.get("version", "2"), 0, "progressing")  # fmt: skip


# --- the gate failing -----------------------------------------------------------------------------
def test_a_failing_gate_counts_and_rolls_back_at_the_threshold_naming_checks_and_evidence():
    first = decide(at(1), FAIL, later(10), canary())
    assert first.action is None and first.state.phase == "progressing" and first.state.failed_checks == 1
    second = decide(first.state, FAIL, later(20), canary())
    assert second.action == contract.AUDIT_ROLLOUT_ROLLED_BACK
    s = second.state
    assert (s.phase, s.failed_checks, s.verified) == ("rolled_back", 2, None)
    assert "errors_above_stable" in s.reason and "0.3" in s.reason
    assert s.checks == {"failing": ["errors_above_stable"], "values": {"errors_above_stable": 1.0},
                        "evidence": {"canary error ratio": 0.3}}  # fmt: skip


def test_a_passing_check_resets_the_count_of_failures():
    once = decide(at(1), FAIL, later(10), canary(failed_checks=2)).state
    passed = decide(once, Observation({}, requests=0), later(20), canary()).state
    assert passed.failed_checks == 0 and passed.checks == {}
    again = decide(passed, FAIL, later(30), canary())
    assert again.action is None and again.state.failed_checks == 1


def test_a_threshold_of_one_rolls_back_at_the_first_failure_even_unverified_or_waiting():
    for state in (at(0, verified=None), at(1, "waiting")):
        assert decide(state, FAIL, later(1), canary(failed_checks=1)).action == contract.AUDIT_ROLLOUT_ROLLED_BACK


def test_prometheus_unreachable_is_neither_a_pass_nor_a_failure():
    once = decide(at(1), FAIL, later(10), canary()).state
    unknown = decide(once, None, later(400), canary())
    assert unknown.action is None and unknown.state == once  # the count neither reset nor raised
    assert decide(unknown.state, FAIL, later(410), canary()).action == contract.AUDIT_ROLLOUT_ROLLED_BACK


@pytest.mark.parametrize("phase", rollout.TERMINAL)
def test_terminal_phases_stay_whatever_the_gate_says(phase):
    for seen in (HOLD, FAIL, None):
        d = decide(at(1, phase), seen, later(10_000), canary())
        assert d.action is None and d.state == at(1, phase)


# --- the gate holding -----------------------------------------------------------------------------
def test_a_held_step_advances_once_both_minimums_are_met():
    c = canary(step_min_s=300, step_min_requests=50)
    assert decide(at(0), Observation({}, 1000), later(299), c).action is None  # too early
    assert decide(at(0), Observation({}, 49), later(301), c).action is None  # too few requests
    d = decide(at(0), Observation({}, 50), later(300), c)
    assert d.action == contract.AUDIT_ROLLOUT_ADVANCED
    assert (d.state.step, d.state.step_started, d.state.verified, d.state.phase) == (1, later(300), None, "progressing")


def test_an_unverified_step_never_advances():
    assert decide(at(0, verified=None), HOLD, later(10_000), canary()).action is None


def test_holding_through_every_step_succeeds_at_the_last():
    c, state, now = canary(), None, T0
    actions = []
    for _ in range(6):
        d = decide(state, HOLD, now, c)
        actions.append(d.action)
        state = replace(d.state, verified=now)  # the gateway took the split
        now += dt.timedelta(seconds=c.step_min_s)
    assert actions[:4] == [contract.AUDIT_ROLLOUT_STARTED, contract.AUDIT_ROLLOUT_ADVANCED,
                           contract.AUDIT_ROLLOUT_ADVANCED, contract.AUDIT_ROLLOUT_SUCCEEDED]  # fmt: skip
    assert actions[4:] == [None, None]
    assert (state.phase, state.step) == ("succeeded", 2)


def test_manual_promotion_waits_after_a_held_step_and_promote_advances():
    c = canary(promotion="manual")
    d = decide(at(0), HOLD, later(300), c)
    assert d.action is None and d.state.phase == "waiting" and "promotion" in d.state.reason
    still = decide(d.state, HOLD, later(10_000), c)
    assert still.state.phase == "waiting" and still.state.step == 0
    promoted = rollout.advanced(still.state, later(10_001), c, "promoted")
    assert (promoted.phase, promoted.step, promoted.verified) == ("progressing", 1, None)


def test_manual_promotion_does_not_wait_at_the_last_step():
    d = decide(at(2), HOLD, later(300), canary(promotion="manual"))
    assert d.action == contract.AUDIT_ROLLOUT_SUCCEEDED


def test_a_waiting_step_still_rolls_back_when_the_gate_fails():
    waiting = at(1, "waiting")
    once = decide(waiting, FAIL, later(1), canary()).state
    assert once.phase == "waiting"
    assert decide(once, FAIL, later(2), canary()).state.phase == "rolled_back"


# --- the weights ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, [("tiny-a", 67), ("tiny-c", 28), ("tiny-b", 5)]), (1, [("tiny-a", 53), ("tiny-c", 22), ("tiny-b", 25)]),
     (2, [("tiny-a", 0), ("tiny-c", 0), ("tiny-b", 100)])],
)  # fmt: skip
def test_the_stable_variants_share_the_rest_in_proportion_remainder_to_the_first(step, expected):
    split = rollout.weights(route(), at(step))
    assert split == [Weight(m, w) for m, w in expected] and sum(w.weight for w in split) == 100


def test_rolled_back_or_no_rollout_is_the_specs_split():
    spec = [Weight("tiny-a", 70), Weight("tiny-c", 30), Weight("tiny-b", 0)]
    assert rollout.weights(route(), at(1, "rolled_back")) == spec
    assert rollout.weights(route(), None) == spec
