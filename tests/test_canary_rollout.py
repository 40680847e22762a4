"""Canary rollouts end to end (tests/canary_harness.py): two real vLLM CPU variants behind the
real gateway, hx-usage, hx-control's rollout loop, and the real Prometheus and Alertmanager with
the rules rendered from tests/data/canary/hx.yaml (gate over 4 s, checked every second).

- A healthy canary goes through every step to all of the route's traffic, each step seen on the
  gateway's status server before hx-control reports it.
- A canary whose engine stops under steady load is rolled back to weight 0 within the promise
  (ROLLBACK_WITHIN_S), without a converge and without a failed answer to any client (the route's
  retry answers from the stable variant); the audit log, `hxgen rollout status` and the
  HxCanaryRolledBack alert say what happened.

benchmarks/canary.py measures the same times over several runs.
"""

from __future__ import annotations

import json
import time

import pytest
from canary_harness import CANARY, ROUTE, STABLE, CanaryHost, canary_host, wait_for

pytestmark = pytest.mark.tools

ROLLBACK_WITHIN_S = 60
"""The promise: a canary whose gate fails is at weight 0 within this many seconds."""
STEPS_WITHIN_S = 180


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    with canary_host(tmp_path_factory.mktemp("canary")) as running:
        yield running


@pytest.fixture
def fresh(host: CanaryHost) -> CanaryHost:
    """The canary's engine running and its rollout started again if the last one ended."""
    host.ensure_canary_running()
    host.restart_rollout()
    return host


def test_a_healthy_canary_advances_through_every_step_to_all_traffic(fresh, record_property):
    seen: list[tuple[float, int]] = []
    load = fresh.load()
    started = time.monotonic()
    try:

        def at_full_weight() -> bool:
            weight = fresh.canary_weight()
            if not seen or seen[-1][1] != weight:
                seen.append((time.monotonic() - started, weight))
            return weight == 100

        wait_for(at_full_weight, "the canary at 100 %", STEPS_WITHIN_S)
        rollout = wait_for(lambda: (r := fresh.rollout())["phase"] == "succeeded" and r, "succeeded", 30)
    finally:
        answers = load.stop()
    weights = [w for _, w in seen if w > 0]
    assert weights == [20, 50, 100][-len(weights) :] and weights[-1] == 100, seen
    assert rollout["canary_weight"] == 100 and rollout["verified"] is not None
    assert all(a.status == 200 for a in answers), {a.status for a in answers}
    assert answers[-1].variant == CANARY  # at 100 % the canary answers everything
    assert {(a.variant, a.version) for a in answers} <= {(CANARY, "2"), (STABLE, "1")}
    record_property("canary_steps_s", json.dumps(seen))
    print(f"canary weights seen on the gateway (s since start, %): {seen}")


def test_a_canary_whose_engine_stops_is_rolled_back_within_a_minute(fresh, record_property):
    wait_for(lambda: fresh.canary_weight() > 0, "the canary taking traffic", 60)
    load = fresh.load()
    try:
        wait_for(lambda: any(a.variant == CANARY for a in load.answers), "an answer from the canary", 60)
        stopped = time.monotonic()
        fresh.stop_canary()
        gone = time.monotonic()  # the engine has exited
        wait_for(lambda: fresh.canary_weight() == 0, "the canary at weight 0", ROLLBACK_WITHIN_S)
        rolled_at = time.monotonic()
        rolled_back_s = rolled_at - stopped
        # Requests begun a second after the new split was live: none of them picks the canary.
        wait_for(lambda: sum(a.at > rolled_at + 1 for a in load.answers) >= 5, "answers after the rollback", 30)
    finally:
        answers = load.stop()
    record_property("rollback_s", round(rolled_back_s, 1))
    print(f"engine stopped -> canary at weight 0 on the gateway: {rolled_back_s:.1f} s")
    # Only requests the engine held when it stopped failed (it aborts them); every request sent
    # after it was gone was answered, from the stable variant by the route's retry if need be.
    failed = [a for a in answers if a.status != 200]
    print(f"answers: {len(answers)}, failed: {len(failed)} (all sent before the engine was gone)")
    assert all(a.sent < gone for a in failed), [(a.status, round(a.sent - gone, 2)) for a in failed]
    assert all(a.status == 200 for a in answers if a.sent > gone)
    assert {a.variant for a in answers if a.at > rolled_at + 1} == {STABLE}

    rollout = wait_for(lambda: (r := fresh.rollout())["verified"] and r, "the rollback verified", 30)
    assert rollout["phase"] == "rolled_back" and rollout["canary_weight"] == 0
    assert "down" in rollout["reason"] or "errors" in rollout["reason"], rollout["reason"]
    records = [r for r in fresh.control.audit_records() if r["action"] == "rollout-rolled-back"]
    assert records and records[-1]["actor"] == "hx-rollout", records[-1:] or "no rollout-rolled-back record"

    status = fresh.cli("rollout", "status")
    assert status.returncode == 0, status.stderr
    assert "rolled_back" in status.stdout and ROUTE in status.stdout, status.stdout

    def delivered() -> bool:
        return any(
            a["labels"]["alertname"] == "HxCanaryRolledBack" and a["labels"]["route"] == ROUTE
            for message in sum(fresh.webhook.received.values(), [])
            for a in message["alerts"]
        )

    wait_for(delivered, "HxCanaryRolledBack at the receiver", 120, every_s=1)
