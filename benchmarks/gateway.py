"""What the gateway adds to a request's latency, at constant request rates.

The same small non-streamed chat completion is sent at each rate, back to back, once straight to
the upstream and once through the gateway rendered from benchmarks/data/gateway.hx.yaml (key
check, routing on the body's model and the tier's limit_req on; cache and TLS off). The upstream
is a stand-in (an nginx answering a fixed completion) so that the difference is the gateway's
own cost, not the model's. Load comes from benchmarks/loadgen.c (open loop, latency from the
scheduled send time). Goal: added p99 <= 1 ms at 1000 req/s, zero errors.

    python benchmarks/gateway.py [--rates 100 1000] [--duration 10] [--tenants 1000] [--quotas] [--quick]

--tenants adds that many tenants to the spec: the per-request cost must not grow with them
(the njs handler's data is preloaded once, not rebuilt per request). --quotas gives the tier a
daily token quota (and turns on usage accounting, which quotas need) and writes the benchmark
tenant's quota state file far below it, as hx-usage would: every request then also reads that
file and carries the quota headers. --quick is a smoke run
(one low rate for one second, no warm-up; a few seconds in all) that shows the benchmark still
works; its numbers mean nothing.

Prints one JSON object with the keys benchmark, upstream, gateway, request, duration_s, tenants,
quotas, goal and runs; `runs` has one entry per rate with rate, direct_p50_ms, direct_p99_ms,
gateway_p50_ms, gateway_p99_ms, added_p50_ms, added_p99_ms, errors, gateway_errors,
achieved_rate and generator_lag_p99_us.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import loadgen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import gateway_harness  # noqa: E402  (shared with the integration tests)

from hxgen.contracts import usage as usage_contract  # noqa: E402
from hxgen.keys import hash_key, new_key  # noqa: E402
from hxgen.pipeline import render_file  # noqa: E402

SPEC = ROOT / "benchmarks/data/gateway.hx.yaml"
TENANT = "bench-client"
COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}
REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 1}


def stand_in(port: int) -> contextlib.AbstractContextManager[int]:
    """The upstream: nginx with one worker answering every request with COMPLETION."""
    return loadgen.throwaway_nginx(port=port, body=json.dumps(COMPLETION))


QUOTA_TOKENS = 10**12
"""Never reached: the benchmark measures the quota check, not refusals."""


def spec_with_tenants(directory: Path, extra: int, quotas: bool = False) -> Path:
    """The benchmark spec with `extra` more tenants (each with its own key-less entry) and, with
    quotas, a daily token quota on the tier (usage accounting on: PostgreSQL, not started here)."""
    if extra == 0 and not quotas:
        return SPEC
    lines = "".join(
        f"    - {{name: tenant-{i:05d}, role: user, models: [bench-model], tier: bench}}\n" for i in range(extra)
    )
    tenant = f"    - {{name: {TENANT}, role: user, models: [bench-model], tier: bench}}\n"
    edits = {tenant: tenant + lines}  # anchor -> its replacement
    if quotas:
        edits["burst: 100000}"] = f"burst: 100000, daily_tokens: {QUOTA_TOKENS}}}"
        edits["  postgres: {enabled: false}\n"] = "  postgres: {memory_gb: 2}\n"
    text = SPEC.read_text()
    for anchor, replacement in edits.items():
        assert anchor in text, f"benchmarks/data/gateway.hx.yaml changed: update the anchor {anchor!r}"
        text = text.replace(anchor, replacement)
    spec = directory / "hx.yaml"
    spec.write_text(text)
    return spec


def write_quota_state(quota_dir: Path, tenant: str) -> None:
    """The tenant's state file as hx-usage writes it (hxgen.contracts.usage), far below the quota."""
    state = {"day": "2026-01-01", "used_tokens": 1000, "resets_at": int(time.time()) + 86400}
    (quota_dir / f"{tenant}.json").write_text(json.dumps(state))


@contextlib.contextmanager
def gateway(key_id: str, key_hash: str, extra_tenants: int, quotas: bool = False) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hx-bench-gateway-") as tmp:
        entry = {"id": key_id, "tenant": TENANT, "sha256": key_hash, "expires": None}
        spec = spec_with_tenants(Path(tmp), extra_tenants, quotas)
        staged = gateway_harness.stage(spec, Path(tmp) / "gateway", [entry])
        if quotas:
            write_quota_state(staged.quota_dir, TENANT)
        proc = gateway_harness.start(staged)
        try:
            yield staged.http_url.removeprefix("http://")
        finally:
            gateway_harness.stop(proc)


QUICK = {"rates": [100.0], "duration": 1.0, "warmup_s": 0.0}
KEYS = ("benchmark", "upstream", "gateway", "request", "duration_s", "tenants", "quotas", "goal", "runs")
RUN_KEYS = (
    "rate",
    "direct_p50_ms",
    "direct_p99_ms",
    "gateway_p50_ms",
    "gateway_p99_ms",
    "added_p50_ms",
    "added_p99_ms",
    "errors",
    "gateway_errors",
    "achieved_rate",
    "generator_lag_p99_us",
)


def assert_quota_checked(front: str, key: str) -> None:
    """The quota is really checked: an answer carries the quota headers of the state file."""
    request = urllib.request.Request(
        f"http://{front}/v1/chat/completions",
        data=json.dumps(REQUEST).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        remaining = response.headers.get(usage_contract.HEADER_QUOTA_REMAINING)
    assert remaining == str(QUOTA_TOKENS - 1000), f"the quota was not checked: remaining {remaining!r}"


def measure(target: str, rate: float, duration_s: float, headers: dict[str, str], warmup_s: float = 2.0) -> dict:
    return loadgen.run(
        target,
        rate,
        duration_s,
        method="POST",
        path="/v1/chat/completions",
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps(REQUEST).encode(),
        warmup_s=warmup_s,
        connections=64,
        realtime=True,
    )


def ms(result: dict, percentile: str) -> float:
    return round(result["latency_us"][percentile] / 1000, 3)


def compare(direct: dict, through: dict, rate: float) -> dict:
    return {
        "rate": rate,
        "direct_p50_ms": ms(direct, "p50"),
        "direct_p99_ms": ms(direct, "p99"),
        "gateway_p50_ms": ms(through, "p50"),
        "gateway_p99_ms": ms(through, "p99"),
        "added_p50_ms": round(ms(through, "p50") - ms(direct, "p50"), 3),
        "added_p99_ms": round(ms(through, "p99") - ms(direct, "p99"), 3),
        "errors": direct["error_total"] + through["error_total"],
        "gateway_errors": through["errors"],
        "achieved_rate": {"direct": direct["achieved_rate"], "gateway": through["achieved_rate"]},
        "generator_lag_p99_us": max(
            direct["generator"]["dispatch_lag_us"]["p99"], through["generator"]["dispatch_lag_us"]["p99"]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 1000], help="requests per second")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per rate and path")
    parser.add_argument("--tenants", type=int, default=1, help="tenants in the spec (default: 1)")
    parser.add_argument("--quotas", action="store_true", help="the tenant has a daily token quota (under it)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one low rate for one second")
    args = parser.parse_args()
    warmup_s = 2.0
    if args.quick:
        args.rates, args.duration, warmup_s = QUICK["rates"], QUICK["duration"], QUICK["warmup_s"]
    plan = render_file(SPEC).plan
    key_id, key = new_key()
    runs = []
    with (
        stand_in(plan.models[0].port) as upstream_port,
        gateway(key_id, hash_key(key), args.tenants - 1, args.quotas) as front,
    ):
        auth = {"Authorization": f"Bearer {key}"}
        probe = loadgen.run(front, 10, 1, method="POST", path="/v1/chat/completions", headers=auth,
                            body=json.dumps(REQUEST).encode(), warmup_s=0)  # fmt: skip
        assert probe["status_counts"] == {"200": probe["completed"]}, f"the gateway does not answer 200: {probe}"
        if args.quotas:
            assert_quota_checked(front, key)
        for rate in args.rates:
            direct = measure(f"127.0.0.1:{upstream_port}", rate, args.duration, {}, warmup_s)
            through = measure(front, rate, args.duration, auth, warmup_s)
            runs.append(compare(direct, through, rate))
    print(
        json.dumps(
            {
                "benchmark": "gateway-added-latency",
                "upstream": "stand-in: nginx (1 worker) answering a fixed chat completion; not vLLM",
                "gateway": "rendered from benchmarks/data/gateway.hx.yaml: njs key check (SHA-256), routing on the "
                "body's model, tier limit_req, limit_conn, JSON access log; cache off, TLS off",
                "request": "POST /v1/chat/completions, non-streamed, keep-alive HTTP/1.1",
                "duration_s": args.duration,
                "tenants": args.tenants,
                "quotas": args.quotas,
                "goal": {"added_p99_ms_at_1000_rps": 1.0, "errors": 0},
                "runs": runs,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
