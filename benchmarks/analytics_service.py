"""The hx-analytics service's cycle against a real Prometheus: how long the first cycle takes
(the whole history window fetched and analysed) and a steady one (only the minutes since the
last fetched), and the memory they need.

The series are the analytics speed corpus (benchmarks/analytics_corpus.py), backfilled into a
fresh Prometheus with promtool, ending now, and read back through one user query whose members
are the series. The cycles run in a child process, so that its peak memory is the service's
alone. Prints JSON.

    python benchmarks/analytics_service.py [--quick] [--members 200] [--days 14] [--seed 0]

Its JSON has one key, `analytics_service`, holding `members`, `days`, `points_per_member`, `interval_s`,
`first_cycle`, `steady_cycle_median_s`, `steady_cycles` and `peak_rss_mb`. --quick: 5 members of 2 days.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from analytics_corpus import speed_corpus
from memory import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from gateway_harness import free_port  # noqa: E402  (shared with the integration tests)
from prometheus_harness import PrometheusServer, Written, backfill  # noqa: E402

from hxgen.analytics.service import Service  # noqa: E402
from hxgen.contracts.analytics import VERSION, ServiceConfig  # noqa: E402

STEP_S = 60
STEADY_CYCLES = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def written(seed: int, members: int, days: int, now: float) -> list[Written]:
    rows = days * 1440
    found = []
    for s in speed_corpus(seed, members, rows, STEP_S):
        # The corpus' own clock, moved so that its last row is now, on the step.
        t = now - STEP_S * np.arange(len(s.values) - 1, -1, -1)
        found.append(Written("hx_bench_value", {"series_id": s.name, "kind": s.kind}, t, np.asarray(s.values)))
    return found


def config(url: str, days: int) -> ServiceConfig:
    return ServiceConfig.model_validate(
        {
            "version": VERSION,
            "prometheus_url": url,
            "listen": {"address": "127.0.0.1", "port": free_port()},
            "interval_s": STEP_S,
            "history_days": days,
            "prediction_interval": 0.9,
            "series": [{"name": "bench", "query": "hx_bench_value", "horizons_minutes": [60, 1440]}],
        }
    )


def timed_cycle(service: Service) -> dict:
    started = time.perf_counter()
    snapshot = service.analyzer.cycle()
    seconds = time.perf_counter() - started
    phases = {phase: round(s, 2) for phase, s in service.analyzer.phases.items()}
    return {"seconds": round(seconds, 2), "members": len(snapshot.results), **phases}


def cycles(url: str, days: int) -> dict:
    """The child's part: a first cycle and a few steady ones, as the service runs them."""
    service = Service(config(url, days))
    first = timed_cycle(service)
    log(f"first cycle: {first}")
    steady = []
    for _ in range(STEADY_CYCLES):
        steady.append(timed_cycle(service))
        log(f"steady cycle: {steady[-1]}")
    return {
        "first_cycle": first,
        "steady_cycle_median_s": statistics.median(c["seconds"] for c in steady),
        "steady_cycles": steady,
        "peak_rss_mb": round(peak_rss_mb()),
    }


def measure(seed: int, members: int, days: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        now = float(np.floor(time.time() / STEP_S) * STEP_S)
        started = time.perf_counter()
        backfill(data, written(seed, members, days, now))
        log(f"backfilled {members} series of {days} days in {time.perf_counter() - started:.0f} s")
        server = PrometheusServer(data, free_port())
        server.start()
        try:
            child = [sys.executable, __file__, "--cycles-from", server.url, "--days", str(days)]
            measured = json.loads(subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True).stdout)
        finally:
            server.stop()
    return {"members": members, "days": days, "points_per_member": days * 1440, "interval_s": STEP_S} | measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 members of 2 days (a smoke run)")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cycles-from", metavar="URL", help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args(argv)
    if args.cycles_from:
        print(json.dumps(cycles(args.cycles_from, args.days)))
        return
    members, days = (5, 2) if args.quick else (args.members, args.days)
    print(json.dumps({"analytics_service": measure(args.seed, members, days)}, indent=2))


if __name__ == "__main__":
    main()
