"""The pieces of the monitoring layer that are decided in Python: histogram bounds for the SLO
targets, burn-rate factors, the probe's target and tenant, and the PromQL slips hxgen reports."""

from __future__ import annotations

import pytest

from hxgen import alerts
from hxgen.plan import build_plan
from hxgen.plan.histograms import VLLM_DEFAULT_BOUNDS, bucket_label, vllm_custom_buckets
from hxgen.render import slo_rules
from hxgen.validation import validate


def plan_of(data):
    spec, found = validate(data)
    assert spec is not None, found
    return build_plan(spec)


def test_targets_on_default_bounds_leave_the_engine_command_alone():
    assert vllm_custom_buckets({"ttft": 500, "e2e": 2000}) == {}


def test_a_target_between_bounds_is_added_and_the_defaults_kept():
    custom = vllm_custom_buckets({"ttft": 1500, "e2e": 2000})
    assert set(custom) == {"time_to_first_token"}
    bounds = custom["time_to_first_token"]
    assert bounds == sorted(bounds)
    assert set(bounds) == set(VLLM_DEFAULT_BOUNDS["time_to_first_token"]) | {1.5}


@pytest.mark.parametrize(("seconds", "label"), [(1.5, "1.5"), (2, "2.0"), (0.3, "0.3"), (10, "10.0")])
def test_bucket_labels_are_written_as_prometheus_client_writes_them(seconds, label):
    assert bucket_label(seconds) == label


def test_the_engine_command_carries_the_custom_buckets(spec_data):
    spec_data["models"][0]["slo"] = {"time_to_first_token": {"target_ms": 1500}}
    argv = plan_of(spec_data).models[0].argv
    flag = argv.index("--custom-histogram-buckets")
    assert '"time_to_first_token":[' in argv[flag + 1] and ",1.5," in argv[flag + 1]


@pytest.mark.parametrize(("window_days", "factors"), [(30, ["14.4", "6", "3", "1"]), (28, ["13.44", "5.6", "2.8"])])
def test_burn_factors_follow_the_budget_window(spec_data, window_days, factors):
    spec_data["models"][0]["slo"] = {"availability_percent": 99.9, "window_days": window_days}
    (objective,) = [o for o in slo_rules.objectives(plan_of(spec_data).models[0]) if o.slo == "availability"]
    exprs = " ".join(rule["expr"] for rule in slo_rules.burn_alerts(objective, "docs/runbooks.md"))
    for factor in factors:
        assert f"({factor} * 0.001)" in exprs


def test_the_probe_calls_the_first_generating_model_as_its_own_tenant(spec_data):
    plan = plan_of(spec_data)
    served = plan.models[0].served_name
    assert plan.probe.call_path == "/v1/chat/completions"
    assert f'"model":"{served}"' in plan.probe.call_body
    assert plan.gateway.tenants["hx-probe"]["models"] == [served]
    assert plan.gateway.tenants["hx-probe"]["role"] == "user"


def test_no_probe_without_the_gateway_or_when_disabled(spec_data):
    spec_data["monitoring"] = {"probes": {"enabled": False}}
    plan = plan_of(spec_data)
    assert plan.probe is None
    assert "hx-probe" not in plan.gateway.tenants


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('up{job="x"} == 0', None),
        ('sum(rate(x{a="(]"}[5m]))', None),  # brackets inside strings do not count
        ("sum(rate(x[5m])", "')' is missing at the end"),
        ("rate(x[5m)]", "')' at character 10 closes no matching bracket"),
        ('up{job="x} == 0', 'a string opened with " is never closed'),
    ],
)
def test_unbalanced_promql_is_reported_with_what_is_wrong(expr, problem):
    assert alerts.unbalanced(expr) == problem
