"""hx-usage's throughput: how fast it meters the gateway's access log, and how many rows a second
it writes through PgBouncer when it catches up (after an outage, or a first start on a full log),
with the service's own CPU time per 1000 lines. A real PostgreSQL and PgBouncer
(tests/pg_harness.py) on loopback; the service runs in this process, so its CPU time is
time.process_time() (PostgreSQL's and PgBouncer's are not counted). Prints JSON.

    python benchmarks/usage.py [--quick] [--lines 100000]

Its JSON has one key, `usage`, holding `lines`, `rows_written`, `meter_s`, `meter_lines_per_s`,
`meter_cpu_ms_per_1000_lines`, `catch_up_s`, `catch_up_rows_per_s`, `catch_up_cpu_ms_per_1000_lines`
and `cpus`. --quick: 5000 lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from pg_harness import pg_cluster  # noqa: E402  (shared with the integration tests)
from usage_harness import config, line  # noqa: E402

from hxgen.usage.service import Service  # noqa: E402


def write_log(path: Path, count: int, start: dt.datetime) -> None:
    tenants = ("acme", "bob", "hx-probe")
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            moment = (start + dt.timedelta(milliseconds=10 * i)).isoformat()
            f.write(line(f"{i:032x}", time=moment, tenant=tenants[i % 3], prompt=i % 500, completion=i % 200))


def measure(count: int) -> dict:
    start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with pg_cluster(bouncer=True, retention=True) as cluster, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_log(work / "gateway-access.log", count, start)
        service = Service(config(work, cluster), now=lambda: start + dt.timedelta(hours=12))
        cpu, wall = time.process_time(), time.perf_counter()
        service.meter_step()
        meter_cpu, meter_s = time.process_time() - cpu, time.perf_counter() - wall
        print(f"metered {count} lines in {meter_s:.2f} s", file=sys.stderr, flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        written = service.database_step()
        catch_cpu, catch_s = time.process_time() - cpu, time.perf_counter() - wall
        print(f"wrote {written} rows in {catch_s:.2f} s", file=sys.stderr, flush=True)
        service.close()
    return {
        "lines": count,
        "rows_written": written,
        "meter_s": round(meter_s, 3),
        "meter_lines_per_s": round(count / meter_s),
        "meter_cpu_ms_per_1000_lines": round(1000 * meter_cpu / count * 1000, 2),
        "catch_up_s": round(catch_s, 3),
        "catch_up_rows_per_s": round(written / catch_s),
        "catch_up_cpu_ms_per_1000_lines": round(1000 * catch_cpu / count * 1000, 2),
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5000 lines: a check that the benchmark runs")
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps({"usage": measure(5000 if args.quick else args.lines)}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
