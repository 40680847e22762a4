"""How fast a canary rollout acts, on real components (tests/canary_harness.py: two vLLM CPU
servers, the gateway, hx-usage, hx-control, Prometheus, Alertmanager; tests/data/canary/hx.yaml's
short windows: scrapes and rules every second, a gate over 4 s checked every second, two failed
checks roll back). Under steady closed-loop load through the gateway:

- rollback: the canary's engine is stopped while it takes traffic; the time until the gateway's
  status server shows the canary at weight 0 (its first failed request follows the stop within
  a fraction of a second at this load). The promise is 60 s.
- advance: a healthy canary from its first step (20 %) to 100 %, each step held at least
  step_min_s (3 s) and step_min_requests (5).
- client_errors: answers other than 200 that the clients saw over all runs: only requests the
  stopping engine held can fail (it aborts them); the route's retry answers the others from the
  stable variant.

    python benchmarks/canary.py [--quick] [--runs 3] [--defaults]

Prints JSON: {"canary": {"runs", "rollback_s", "rollback_median_s", "advance_s", "advance_outcome",
"client_errors", "promise_s", "timing"}}; advance_s is null when the rollout did not reach 100 %
(advance_outcome says why). --quick: one rollback and one advance. --defaults: the same spec with the
product's default timing (monitoring.scrape_interval_s 10; canary interval_s 10, failed_checks 2,
window_s 60), the case the promise is made for.
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
from canary_harness import SPEC, CanaryHost, canary_host, wait_for  # noqa: E402  (shared with the tests)
from ruamel.yaml import YAML  # noqa: E402

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


def advance(host: CanaryHost) -> tuple[float | None, str, int]:
    """Seconds from the first step to 100 % (None if it did not get there), how the rollout ended
    (its phase and reason), and the answers other than 200."""
    fresh(host)
    load = host.load()
    started = time.monotonic()
    try:
        ended = wait_for(lambda: (r := host.rollout())["phase"] in ("succeeded", "rolled_back") and r, "an end", 600, 1)
        took = time.monotonic() - started if ended["phase"] == "succeeded" else None
    finally:
        answers = load.stop()
    return took, f"{ended['phase']}: {ended['reason']}", sum(a.status != 200 for a in answers)


TIMING = ("interval_s", "failed_checks", "window_s")


def default_timing(directory: Path) -> Path:
    """SPEC without its short windows: the defaults decide (the models and route stay)."""
    yaml = YAML()
    data = yaml.load(SPEC.read_text())
    del data["monitoring"]["scrape_interval_s"]
    for name in TIMING:
        del data["gateway"]["routes"][0]["canary"][name]
    out = directory / "hx.yaml"
    with out.open("w") as f:
        yaml.dump(data, f)
    return out


def measure(runs: int, defaults: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="hx-canary-bench-") as tmp:
        spec = default_timing(Path(tmp)) if defaults else SPEC
        with canary_host(Path(tmp) / "host", spec) as host:
            result = _runs(host, runs)
        return result | {"timing": "defaults" if defaults else "short windows (tests/data/canary/hx.yaml)"}


def _runs(host: CanaryHost, runs: int) -> dict:
    # The advance first: a rollback stops the canary's engine, which the next run starts again.
    advanced, outcome, errors = advance(host)
    progress(f"advance 20 -> 100 %: {outcome} ({advanced if advanced is None else round(advanced, 1)} s)")
    rollbacks = []
    for run in range(runs):
        took, failed = rollback(host)
        rollbacks.append(round(took, 2))
        errors += failed
        progress(f"rollback {run + 1}/{runs}: {took:.1f} s")
    return {
        "runs": runs,
        "rollback_s": rollbacks,
        "rollback_median_s": statistics.median(rollbacks),
        "advance_s": advanced if advanced is None else round(advanced, 2),
        "advance_outcome": outcome,
        "client_errors": errors,
        "promise_s": PROMISE_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one rollback and one advance")
    parser.add_argument("--runs", type=int, default=3, help="rollbacks to measure (default 3)")
    parser.add_argument("--defaults", action="store_true", help="the default timing instead of the short windows")
    args = parser.parse_args()
    result = measure(1 if args.quick else args.runs, args.defaults)
    print(json.dumps({"canary": result}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
