"""The usage rules as the spec shapes them (their PromQL is tested by promtool: hx-usage.test.yml)."""

from __future__ import annotations

import yaml
from conftest import dump_yaml

from hxgen.pipeline import render_text

RULES = "rendered/prometheus/rules/hx-usage.yml"


def rendered(data: dict) -> dict[str, str]:
    result = render_text(dump_yaml(data))
    assert result.plan is not None
    return {a.path: a.text for a in result.artifacts}


def alerts(files: dict[str, str], path: str = RULES) -> dict[str, dict]:
    groups = yaml.safe_load(files[path])["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def test_usage_down_pages_only_when_a_quota_depends_on_it(spec_data):
    assert alerts(rendered(spec_data))["HxUsageDown"]["labels"]["severity"] == "ticket"
    spec_data["gateway"]["rate_limit_tiers"][0]["daily_tokens"] = 1_000_000
    down = alerts(rendered(spec_data))["HxUsageDown"]
    assert down["labels"]["severity"] == "page"
    assert "quotas are not enforced (the gateway fails open)" in down["annotations"]["description"]


def test_the_gateway_targets_are_the_alert_thresholds(spec_data):
    spec_data["targets"] = {"gateway_overhead_ms": 12, "gateway_overhead_at_rps": 250, "error_rate_percent": 0.5}
    found = alerts(rendered(spec_data))
    overhead = " ".join(found["HxGatewayOverhead"]["expr"].split())
    assert overhead == "hx:gateway_added_seconds:p99_5m > 0.012 and on () sum(hx:gateway_requests:rate5m) >= 250"
    assert found["HxGatewayErrors"]["expr"] == "hx:gateway_request_errors:ratio_rate5m > 0.005"


def test_without_usage_accounting_there_are_no_usage_rules(spec_data):
    spec_data["usage"] = {"enabled": False}
    files = rendered(spec_data)
    assert RULES not in files
    target_down = alerts(files, "rendered/prometheus/rules/hx-alerts.yml")["HxTargetDown"]
    assert target_down["expr"] == 'up{job!~"node|model-.+"} == 0'
    assert "hx:tenant_" not in "".join(files.values())
