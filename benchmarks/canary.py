"""How fast a canary rollout acts, on real components (tests/canary_harness.py: two vLLM CPU
servers, the gateway, hx-usage, hx-control, Prometheus, Alertmanager; tests/data/canary/hx.yaml's
short windows: scrapes and rules every second, a gate over 4 s checked every second, two failed
checks roll back). Under steady closed-loop load through the gateway:

- rollback: the canary's engine is stopped while it takes traffic; the time until the gateway's
  status server shows the canary at weight 0 (its first failed request follows the stop within
  a fraction of a second at this load). The promise is 60 s.
- advance: a healthy canary from its first step (20 %) to 100 %, each step held at least
  step_min_s (3 s) and step_min_requests (5).
- client_errors: answers other than 200 that the clients saw over all runs (the route's retry
  answers a failed canary request from the stable variant).

    python benchmarks/canary.py [--quick] [--runs 3]

Prints JSON: {"canary": {"runs", "rollback_s", "rollback_median_s", "advance_s", "client_errors",
"promise_s"}}. --quick: one rollback and one advance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from canary_harness import CanaryHost, canary_host, wait_for  # noqa: E402  (shared with the tests)

PROMISE_S = 60


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh(host: CanaryHost) -> None:
    host.ensure_canary_running()
    host.restart_rollout()
    wait_for(lambda: host.canary_weight() > 0, "the canary taking traffic", 120)


def rollback(host: CanaryHost) -> tuple[float, int]:
    fresh(host)
    load = host.load()
    try:
        wait_for(lambda: len(load.answers) >= 10, "answers under load", 60)
        stopped = time.monotonic()
        host.stop_canary()
        wait_for(lambda: host.canary_weight() == 0, "the canary at weight 0", 2 * PROMISE_S)
        took = time.monotonic() - stopped
    finally:
        answers = load.stop()
    return took, sum(a.status != 200 for a in answers)


def advance(host: CanaryHost) -> tuple[float, int]:
    fresh(host)
    load = host.load()
    started = time.monotonic()
    try:
        wait_for(lambda: host.canary_weight() == 100, "the canary at 100 %", 300)
        took = time.monotonic() - started
    finally:
        answers = load.stop()
    return took, sum(a.status != 200 for a in answers)


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="hx-canary-bench-") as tmp, canary_host(Path(tmp)) as host:
        rollbacks, errors = [], 0
        for run in range(runs):
            took, failed = rollback(host)
            rollbacks.append(round(took, 2))
            errors += failed
            progress(f"rollback {run + 1}/{runs}: {took:.1f} s")
        advanced, failed = advance(host)
        progress(f"advance 20 -> 100 %: {advanced:.1f} s")
        return {
            "runs": runs,
            "rollback_s": rollbacks,
            "rollback_median_s": statistics.median(rollbacks),
            "advance_s": round(advanced, 2),
            "client_errors": errors + failed,
            "promise_s": PROMISE_S,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one rollback and one advance")
    parser.add_argument("--runs", type=int, default=3, help="rollbacks to measure (default 3)")
    args = parser.parse_args()
    print(json.dumps({"canary": measure(1 if args.quick else args.runs)}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
