"""The sandbox's canary rollout (route tiny-next, docs/canary.md) on the converged host: hx-control
started it at its first step and verified the split on the gateway's status server, Prometheus
evaluates its gate, hx-usage counts what each variant answered, and `hxgen rollout status` reads
it through the gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from test_audit import records
from test_control import request
from test_sandbox import GATEWAY, call, chat, key, prometheus_query, tls  # noqa: F401  (tls is a fixture)

ROUTE = "tiny-next"
CHECKS = {"down", "fast_burn", "errors_above_stable", "latency_below_stable"}


def rollout(tls) -> dict:  # noqa: F811
    status, found = request(tls, key("sandbox-admin"), "GET", f"/rollouts/{ROUTE}")
    assert status == 200, found
    return found


def until(what: str, condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(1)
    return found


def test_the_rollout_began_at_its_first_step_and_the_gateway_serves_what_it_reports(host, tls):  # noqa: F811
    """Its first step is audited; whatever the gate did since (the other verify tests load the
    engines, and tiny-b has the tighter latency objectives), the split hx-control reports as
    verified is the one the running nginx serves."""
    started = [r for r in records(host) if r["action"] == "rollout-started" and r["detail"].get("alias") == ROUTE]
    assert started and started[0]["actor"] == "hx-rollout", started
    found = until("the rollout's split verified", lambda: (r := rollout(tls))["verified"] and r)
    assert found["phase"] in ("progressing", "rolled_back"), found
    assert found["phase"] == "progressing" or found["failed_checks"] >= 2 and found["reason"], found
    # The gateway's loopback status server (the container shares this machine's network).
    with urllib.request.urlopen("http://127.0.0.1:8081/weights", timeout=10) as response:
        live = json.load(response)
    weight = found["canary_weight"]
    expected = [["tiny-a", 100]] if weight == 0 else [["tiny-a", 100 - weight], ["tiny-b", 100]]
    assert live[ROUTE] == expected, (live, found)


def test_prometheus_evaluates_the_gate():
    def evaluated() -> dict | None:
        group = _rule_groups().get("hx-canary")
        return group if group and all(r["health"] != "unknown" for r in group["rules"]) else None

    group = until("the hx-canary rules evaluated", evaluated)
    assert {r["health"] for r in group["rules"]} == {"ok"}, [r.get("lastError") for r in group["rules"]]
    # Failing checks, if any now, name the route, the canary and a check of the gate.
    for series in prometheus_query(f'hx:canary_gate:failing{{route="{ROUTE}"}}')["data"]["result"]:
        assert series["metric"]["canary"] == "tiny-b" and series["value"][1] == "1", series
        assert series["metric"]["check"] in CHECKS, series


def test_usage_counts_the_requests_the_weights_sent_to_each_variant(tls):  # noqa: F811
    for i in range(20):
        status, _, _ = call(tls, "/v1/chat/completions", chat(ROUTE) | {"seed": i})
        assert status == 200

    def counted() -> list | None:
        query = f'sum by (variant, outcome) (hx_usage_variant_requests_total{{route="{ROUTE}"}})'
        result = prometheus_query(query)["data"]["result"]
        return result if sum(float(r["value"][1]) for r in result) >= 20 else None

    result = until("all 20 requests in the variant counts in Prometheus", counted, 90)
    assert {r["metric"]["outcome"] for r in result} == {"ok"}, result


def test_hxgen_rollout_status_reads_the_live_host(host, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    admin_key = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "keys" / "sandbox-admin.key"
    command = [sys.executable, "-m", "hxgen", "rollout", "status", "--host", GATEWAY,
               "--api-key-file", str(admin_key), "--ca-file", str(ca), "--format", "json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [r["alias"] for r in json.loads(done.stdout)] == [ROUTE], done.stdout


def _rule_groups() -> dict:
    with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/rules", timeout=10) as response:
        return {g["name"]: g for g in json.load(response)["data"]["groups"]}
