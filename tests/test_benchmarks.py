"""Every benchmark still runs: each script's --quick mode exits 0 and prints the JSON keys its
docstring documents. Nothing here asserts on time; the point is that a benchmark cannot stop
working (a check that makes its generated spec invalid, a renamed module) without a test
failing. A script's full run is `make bench`.
"""

from __future__ import annotations

import json

import pytest

RENDER_KEYS = {"runs", "cpus", "per_model_ms_50_100", "per_model_ms_100_200"} | {
    f"{name}{suffix}"
    for name in ("default", "sandbox", "models_50", "models_100", "models_200")
    for suffix in ("_s", "_min_s")
}
LOADGEN_RESULT_KEYS = {
    "sent",
    "completed",
    "errors",
    "error_total",
    "achieved_rate",
    "latency_us",
    "service_latency_us",
}

LOADGEN_QUICK_CASES = ("get_100", "post_100", "get_100_tls", "status_404", "connect_refused", "timeout", "tls_wrong_ca")
GATEWAY_KEYS = {"benchmark", "upstream", "gateway", "request", "duration_s", "tenants", "configs", "goal", "summary"}
GATEWAY_RUN_KEYS = {
    "config",
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
    "gateway_connections",
}
GATEWAY_USAGE_KEYS = {"requests_sent", "rows_written", "rows_match", "catch_up_s", "cpu_s", "cpu_pct", "database_cpu_s"}

# script, its quick arguments, the keys of its JSON object, and what to check one level down
CASES = {
    "render": ("render.py", ("--quick",), RENDER_KEYS, {}),
    # The seed is test_analytics_benchmark.py's, so that the session runs the script once.
    "analytics": (
        "analytics.py",
        ("--quick", "--seed", "3"),
        {"benchmark", "seed", "quick", "cpus", "versions", "corpus", "forecast", "anomaly", "speed"},
        {"speed": {"series", "rows_per_series", "wall_s", "anomaly_scores", "forecast", "peak_rss_mb"}},
    ),
    "analytics_service": (
        "analytics_service.py",
        ("--quick",),
        {"analytics_service"},
        {
            "analytics_service": {
                "members",
                "days",
                "points_per_member",
                "interval_s",
                "first_cycle",
                "steady_cycle_median_s",
                "steady_cycles",
                "peak_rss_mb",
            }
        },
    ),
    # No sandbox in the test run: a syntax check of the converge's command (see the script).
    "converge": ("converge.py", ("--quick",), {"runs", "median_s", "aim_s", "quick"}, {}),
    "memory": ("memory.py", ("--quick",), {"python_mb", "validate_default_mb", "render_default_mb"}, {}),
    "loadgen": (
        "loadgen.py",
        ("--quick",),
        set(LOADGEN_QUICK_CASES),
        {name: LOADGEN_RESULT_KEYS for name in LOADGEN_QUICK_CASES},
    ),
    # Two vLLM CPU servers and the whole rollout path: one rollback and one advance.
    "canary": (
        "canary.py",
        ("--quick",),
        {"canary"},
        {
            "canary": {
                "runs",
                "rollback_s",
                "rollback_median_s",
                "advance_s",
                "advance_outcome",
                "client_errors",
                "promise_s",
                "timing",
            }
        },
    ),
    "usage": (
        "usage.py",
        ("--quick",),
        {"usage"},
        {
            "usage": {
                "lines",
                "rows_written",
                "meter_lines_per_s",
                "meter_cpu_ms_per_1000_lines",
                "catch_up_rows_per_s",
                "catch_up_cpu_ms_per_1000_lines",
            }
        },
    ),
    # Every default configuration (plain, usage with the real hx-usage and PostgreSQL, tls, tls-usage).
    "gateway": ("gateway.py", ("--quick",), GATEWAY_KEYS | {"runs"}, {}),
    # The quota check alone, the state file written by the script (checked by the script itself).
    "gateway-quotas": ("gateway.py", ("--quick", "--configs", "quotas"), GATEWAY_KEYS | {"runs"}, {}),
}


@pytest.mark.parametrize("name", CASES)
def test_quick_run_exits_0_and_prints_the_documented_keys(name, quick_benchmark):
    script, args, keys, inner = CASES[name]
    done = quick_benchmark(script, *args)
    assert done.returncode == 0, f"{script} {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout)
    assert keys <= set(result), f"missing: {keys - set(result)}"
    for key, expected in inner.items():
        assert expected <= set(result[key]), f"{key}: missing {expected - set(result[key])}"


def test_gateway_quick_run_has_a_run_per_configuration_with_the_documented_keys(quick_benchmark):
    done = quick_benchmark("gateway.py", "--quick")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [r["config"] for r in result["runs"]] == ["plain", "usage", "tls", "tls-usage"]
    for run in result["runs"]:
        assert set(run) >= GATEWAY_RUN_KEYS, f"{run['config']}: missing {GATEWAY_RUN_KEYS - set(run)}"
        if run["config"].endswith("usage"):
            assert set(run["usage"]) >= GATEWAY_USAGE_KEYS, f"{run['config']}: missing usage keys"
    assert set(result["summary"]) == {"plain", "usage", "tls", "tls-usage"}
