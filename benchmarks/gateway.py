"""What the gateway adds to a request's latency, at constant request rates, in several configurations.

The same small non-streamed chat completion is sent at each rate, back to back, once straight to
the upstream (plain HTTP) and once through the gateway rendered from benchmarks/data/gateway.hx.yaml
(key check, routing on the body's model and the tier's limit_req on; cache off). The upstream is a
stand-in (an nginx answering a fixed completion) so that the difference is the gateway's own cost,
not the model's. Load comes from benchmarks/loadgen.c (open loop, latency from the scheduled send
time, keep-alive connections). Goals: zero errors and added p99 <= 1 ms at 1000 req/s in every
configuration; aim: <= 0.5 ms at 5000 req/s.

    python benchmarks/gateway.py [--configs plain usage tls tls-usage] [--rates 1000 5000] [--duration 10]
                                 [--tenants 1000] [--quick]

Configurations (each gets its own gateway; all four by default, in this order):
- plain: quotas and usage accounting off, plain HTTP: the gateway's own routing and checks.
- usage: the tier has a daily token quota (never reached) and usage accounting is on. The real
  hx-usage service (`python -m hxgen.usage.cli serve`, a separate process) follows the gateway's
  access log into a throwaway PostgreSQL behind PgBouncer (tests/pg_harness.py, migrated first)
  during the load, and writes the tenant's quota state file, which the gateway's njs handler reads
  on every request; measuring starts once hx-usage has written it. So this measures the quota
  check and the headers, and hx-usage competing with nginx for the same cores. After each rate the
  benchmark waits for hx-usage to catch up and compares the rows it wrote with the requests sent
  (they must match exactly), and reports hx-usage's CPU seconds during the load (/proc/PID/stat).
- tls, tls-usage: plain and usage over HTTPS (the spec's `tls: {mode: internal-ca}`, with the
  harness's CA and server certificate; loadgen verifies it for localhost). Connections are kept
  alive, so handshakes happen in the warm-up; the direct path stays plain HTTP, so the added
  latency includes TLS.
- quotas (not in the default set): the quota check alone; the benchmark writes the state file
  far below the quota, as hx-usage would, and no hx-usage runs.

--tenants adds that many tenants to the spec: the per-request cost must not grow with them (the
njs handler's data is preloaded once, not rebuilt per request). --quick is a smoke run (every
selected configuration at one low rate for one second, no warm-up) that shows the benchmark still
works; its numbers mean nothing.

Prints one JSON object with the keys benchmark, upstream, gateway, request, duration_s, tenants,
configs, goal, summary and runs. `summary` maps configuration -> rate -> {added_p50_ms,
added_p99_ms, errors}. `runs` has one entry per configuration and rate with config, rate,
direct_p50_ms, direct_p99_ms, gateway_p50_ms, gateway_p99_ms, added_p50_ms, added_p99_ms, errors,
gateway_errors, achieved_rate, generator_lag_p99_us and gateway_connections (with tls_handshakes);
usage configurations add `usage`: requests_sent, rows_written, rows_match, catch_up_s, cpu_s and
cpu_pct (hx-usage's CPU over the gateway's load, warm-up included) and database_cpu_s
(PostgreSQL's and PgBouncer's over the same time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import loadgen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import gateway_harness  # noqa: E402  (shared with the integration tests)
import pg_harness  # noqa: E402

from hxgen.contracts import usage as usage_contract  # noqa: E402
from hxgen.contracts.usage_config import ServiceConfig  # noqa: E402
from hxgen.keys import hash_key, new_key  # noqa: E402
from hxgen.pipeline import render_file  # noqa: E402
from hxgen.render.usage import CONFIG_FILE as USAGE_CONFIG_FILE  # noqa: E402
from hxgen.render.usage import NICE  # noqa: E402

SPEC = ROOT / "benchmarks/data/gateway.hx.yaml"
TENANT = "bench-client"
HTTPS_PORT = 18243
COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}
REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 1}
QUOTA_TOKENS = 10**12
"""Never reached: the benchmark measures the quota check, not refusals."""


@dataclass(frozen=True)
class Config:
    name: str
    quota: bool
    """The tier has a daily token quota (usage accounting on in the spec)."""
    usage_service: bool
    """hx-usage runs and writes the quota state; else the benchmark writes it (with quota)."""
    tls: bool


CONFIGS = {
    c.name: c
    for c in (
        Config("plain", quota=False, usage_service=False, tls=False),
        Config("usage", quota=True, usage_service=True, tls=False),
        Config("tls", quota=False, usage_service=False, tls=True),
        Config("tls-usage", quota=True, usage_service=True, tls=True),
        Config("quotas", quota=True, usage_service=False, tls=False),
    )
}
DEFAULT_CONFIGS = ("plain", "usage", "tls", "tls-usage")


def stand_in(port: int) -> contextlib.AbstractContextManager[int]:
    """The upstream: nginx with one worker answering every request with COMPLETION."""
    return loadgen.throwaway_nginx(port=port, body=json.dumps(COMPLETION))


def spec_for(directory: Path, extra: int, config: Config) -> Path:
    """The benchmark spec with `extra` more tenants (each with its own key-less entry); with a
    quota, a daily token quota on the tier (usage accounting on: PostgreSQL); with TLS, the
    internal CA's certificate on HTTPS_PORT."""
    lines = "".join(
        f"    - {{name: tenant-{i:05d}, role: user, models: [bench-model], tier: bench}}\n" for i in range(extra)
    )
    tenant = f"    - {{name: {TENANT}, role: user, models: [bench-model], tier: bench}}\n"
    edits = {tenant: tenant + lines}  # anchor -> its replacement
    if config.quota:
        edits["burst: 100000}"] = f"burst: 100000, daily_tokens: {QUOTA_TOKENS}}}"
        edits["  postgres: {enabled: false}\n"] = "  postgres: {memory_gb: 2}\n"
    if config.tls:
        edits['tls: {mode: "off"}'] = "tls: {mode: internal-ca}"
        edits["http_port: 18280}"] = f"http_port: 18280, https_port: {HTTPS_PORT}}}"
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


# --- hx-usage ------------------------------------------------------------------------------------


def cpu_s(pid: int, children_reaped: bool = False) -> float:
    """User + system CPU seconds of a process, all its threads (/proc/PID/stat), plus those of
    the children it has waited for if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11 : 15 if children_reaped else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class UsageService:
    proc: subprocess.Popen
    cluster: pg_harness.PgCluster
    quota_file: Path

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def database_cpu_s(self) -> float:
        """PostgreSQL's (the postmaster, its live backends and those it reaped) and PgBouncer's."""
        postmaster = int((self.cluster.root / "data/postmaster.pid").read_text().split()[0])
        total = cpu_s(postmaster, children_reaped=True)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    total += cpu_s(int(stat.parent.name))
        bouncer = self.cluster._bouncer  # the harness's process; no public accessor
        return total + (cpu_s(bouncer.pid) if bouncer else 0.0)

    def rows(self) -> int:
        return int(self.cluster.sql(f"SELECT count(*) FROM {usage_contract.TABLE} WHERE tenant = '{TENANT}'"))

    def wait_rows(self, expected: int, timeout_s: float = 120) -> tuple[int, float]:
        """Polls until `expected` rows are in (or the deadline); returns the rows and the wait."""
        start = time.monotonic()
        while (rows := self.rows()) < expected and time.monotonic() - start < timeout_s:
            assert self.proc.poll() is None, f"hx-usage exited with {self.proc.returncode}"
            time.sleep(0.2)
        return rows, round(time.monotonic() - start, 2)


def usage_config(spec: Path, staged: gateway_harness.StagedGateway, cluster: pg_harness.PgCluster) -> Path:
    """What hxgen renders for hx-usage from the spec, with the paths and ports of this run."""
    rendered = {a.path: a.text for a in render_file(spec).artifacts}
    data = json.loads(rendered[f"rendered/{USAGE_CONFIG_FILE}"])
    password = staged.root / "db.password"
    password.write_text(pg_harness.PASSWORD + "\n")
    data |= {
        "access_log": str(staged.access_log),
        "state_dir": str(staged.root / "usage-state"),
        "quota_dir": str(staged.quota_dir),
        "listen": {"address": "127.0.0.1", "port": staged.usage_port},  # where the gateway proxies /v1/usage
        "reports": None,  # the weekly report is not part of the request path
    }
    data["database"] |= {"host": "127.0.0.1", "port": cluster.bouncer_port, "password_file": str(password)}
    ServiceConfig.model_validate(data)
    path = staged.root / "usage.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def hx_usage(config: Path, *command: str) -> list[str]:
    return [sys.executable, "-m", "hxgen.usage.cli", "--config", str(config), *command]


@contextlib.contextmanager
def usage_service(
    spec: Path, staged: gateway_harness.StagedGateway, cluster: pg_harness.PgCluster
) -> Iterator[UsageService]:
    config = usage_config(spec, staged, cluster)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    migrated = subprocess.run(hx_usage(config, "migrate"), capture_output=True, text=True, env=env, timeout=60)
    assert migrated.returncode == 0, f"hx-usage migrate failed: {migrated.stderr}"
    log = (staged.root / "hx-usage.log").open("w")
    # At the priority its systemd unit gives it (Nice=; CPUWeight= needs a cgroup of its own).
    proc = subprocess.Popen(
        hx_usage(config, "serve"), stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=lambda: os.nice(NICE)
    )
    try:
        gateway_harness.wait_listening(staged.usage_port, proc, 30, "hx-usage")
        yield UsageService(proc, cluster, staged.quota_dir / f"{TENANT}.json")
    finally:
        gateway_harness.stop(proc, 20)
        log.close()


# --- the gateway ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Front:
    host_port: str
    tls: bool
    ca_file: Path | None
    usage: UsageService | None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host_port}"


@contextlib.contextmanager
def gateway(
    key_id: str, key_hash: str, extra_tenants: int, config: Config, cluster: pg_harness.PgCluster | None
) -> Iterator[Front]:
    with tempfile.TemporaryDirectory(prefix="hx-bench-gateway-") as tmp:
        entry = {"id": key_id, "tenant": TENANT, "sha256": key_hash, "expires": None}
        spec = spec_for(Path(tmp), extra_tenants, config)
        staged = gateway_harness.stage(spec, Path(tmp) / "gateway", [entry])
        if config.quota and not config.usage_service:
            write_quota_state(staged.quota_dir, TENANT)
        with contextlib.ExitStack() as stack:
            usage = None
            if config.usage_service:
                assert cluster is not None
                usage = stack.enter_context(usage_service(spec, staged, cluster))
            proc = gateway_harness.start(staged)
            stack.callback(gateway_harness.stop, proc)
            url = staged.https_url if config.tls else staged.http_url
            yield Front(url.split("://", 1)[1], config.tls, staged.ca_cert if config.tls else None, usage)


def post(front: Front, key: str) -> dict[str, str]:
    """One request through the gateway; its response headers."""
    request = urllib.request.Request(
        f"{front.url}/v1/chat/completions",
        data=json.dumps(REQUEST).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(front.ca_file)) if front.tls else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return dict(response.headers)


def assert_quota_checked(front: Front, key: str, quota_dir_file: Path | None) -> None:
    """The quota is really checked: an answer's remaining quota is what the state file says (or less,
    when hx-usage counts requests meanwhile)."""
    used = json.loads(quota_dir_file.read_text())["used_tokens"] if quota_dir_file else 1000
    remaining = post(front, key).get(usage_contract.HEADER_QUOTA_REMAINING)
    assert remaining is not None and int(remaining) <= QUOTA_TOKENS - used, (
        f"the quota was not checked: remaining {remaining!r}, the state file says {used} used"
    )


def wait_quota_file(usage: UsageService, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not usage.quota_file.exists():
        assert usage.proc.poll() is None, f"hx-usage exited with {usage.proc.returncode}"
        assert time.monotonic() < deadline, f"hx-usage wrote no {usage.quota_file} within {timeout_s} s"
        time.sleep(0.1)


# --- measuring -----------------------------------------------------------------------------------


def measure(target: Front | str, rate: float, duration_s: float, headers: dict[str, str], warmup_s: float) -> dict:
    tls = {"tls": True, "ca_file": target.ca_file} if isinstance(target, Front) and target.tls else {}
    return loadgen.run(
        target.host_port if isinstance(target, Front) else target,
        rate,
        duration_s,
        method="POST",
        path="/v1/chat/completions",
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps(REQUEST).encode(),
        warmup_s=warmup_s,
        connections=64,
        realtime=True,
        **tls,
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
        "gateway_connections": {
            k: through["generator"][k] for k in ("connections_opened", "tls_handshakes", "tls_resumed")
        },
    }


def requests_sent(rate: float, duration_s: float, warmup_s: float) -> int:
    """What loadgen sends, warm-up included (its own rounding), when nothing fails to connect."""
    return int(warmup_s * rate + 0.5) + int(duration_s * rate + 0.5)


def run_config(config: Config, front: Front, key: str, args: argparse.Namespace, upstream_port: int) -> list[dict]:
    auth = {"Authorization": f"Bearer {key}"}
    usage = front.usage
    # Rows hx-usage must have written: an earlier configuration's (all in: it waited for them) and
    # this one's requests so far.
    expected = usage.rows() if usage else 0
    probe = measure(front, 10, 1, auth, warmup_s=0)
    assert probe["status_counts"] == {"200": probe["completed"]}, f"the gateway does not answer 200: {probe}"
    expected += probe["sent"]
    if usage:
        wait_quota_file(usage)  # written once hx-usage has counted the probe's requests
    if config.quota:
        assert_quota_checked(front, key, usage.quota_file if usage else None)
        expected += 1
    runs = []
    for rate in args.rates:
        progress(f"{config.name}: {rate:g} req/s")
        direct = measure(f"127.0.0.1:{upstream_port}", rate, args.duration, {}, args.warmup)
        if usage:
            rows_before = usage.wait_rows(expected)[0]  # what came before is in: only this run's rows count
            cpu_before, db_cpu_before = usage.cpu_s(), usage.database_cpu_s()
        through = measure(front, rate, args.duration, auth, args.warmup)
        run = {"config": config.name, **compare(direct, through, rate)}
        if usage:
            cpu, db_cpu = usage.cpu_s() - cpu_before, usage.database_cpu_s() - db_cpu_before
            sent = requests_sent(rate, args.duration, args.warmup)
            expected = rows_before + sent
            rows, waited = usage.wait_rows(expected)
            written = rows - rows_before
            run["usage"] = {
                "requests_sent": sent,
                "rows_written": written,
                "rows_match": written == sent,
                "catch_up_s": waited,
                "cpu_s": round(cpu, 2),
                "cpu_pct": round(100 * cpu / (args.warmup + args.duration), 1),
                "database_cpu_s": round(db_cpu, 2),
            }
        runs.append(run)
    return runs


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(runs: list[dict]) -> dict:
    table: dict[str, dict] = {}
    for r in runs:
        row = {k: r[k] for k in ("added_p50_ms", "added_p99_ms", "errors")}
        if "usage" in r:
            row["rows_match"] = r["usage"]["rows_match"]
        table.setdefault(r["config"], {})[f"{r['rate']:g}"] = row
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(DEFAULT_CONFIGS))
    parser.add_argument("--rates", type=float, nargs="+", default=[1000, 5000], help="requests per second")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per rate and path")
    parser.add_argument("--tenants", type=int, default=1, help="tenants in the spec (default: 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one low rate for one second")
    args = parser.parse_args()
    args.warmup = 2.0
    if args.quick:
        args.rates, args.duration, args.warmup = [100.0], 1.0, 0.0
    plan = render_file(SPEC).plan
    key_id, key = new_key()
    configs = [CONFIGS[name] for name in args.configs]
    runs = []
    with contextlib.ExitStack() as stack:
        upstream_port = stack.enter_context(stand_in(plan.models[0].port))
        cluster = None
        if any(c.usage_service for c in configs):
            progress("starting PostgreSQL and PgBouncer")
            cluster = stack.enter_context(pg_harness.pg_cluster(bouncer=True, retention=True))
        for config in configs:
            with gateway(key_id, hash_key(key), args.tenants - 1, config, cluster) as front:
                runs += run_config(config, front, key, args, upstream_port)
    print(
        json.dumps(
            {
                "benchmark": "gateway-added-latency",
                "upstream": "stand-in: nginx (1 worker) answering a fixed chat completion; not vLLM",
                "gateway": "rendered from benchmarks/data/gateway.hx.yaml: njs key check (SHA-256), routing on the "
                "body's model, tier limit_req, limit_conn, JSON access log; cache off. usage: daily token quota "
                "read from hx-usage's state file, hx-usage following the access log into PostgreSQL via PgBouncer; "
                "tls: HTTPS with the internal CA's certificate",
                "request": "POST /v1/chat/completions, non-streamed, keep-alive HTTP/1.1 (over TLS in tls configs)",
                "duration_s": args.duration,
                "tenants": args.tenants,
                "configs": args.configs,
                "goal": {"added_p99_ms_at_1000_rps": 1.0, "aim_added_p99_ms_at_5000_rps": 0.5, "errors": 0},
                "summary": summary(runs),
                "runs": runs,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
