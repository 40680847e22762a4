"""The gateway plan: the policy the njs handler enforces, resolved from the spec."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pytest

from hxgen.plan import build_plan
from hxgen.plan.gateway import nginx_rate
from hxgen.render import render
from hxgen.render.gateway import NGINX_USER_FILE
from hxgen.render.openapi import document
from hxgen.validation import validate

ROOT = Path(__file__).resolve().parents[2]


def gateway_of(data):
    spec, found = validate(data)
    assert spec is not None, found
    return build_plan(spec)


@pytest.mark.parametrize(
    ("per_second", "rate"),
    [(20, "20r/s"), (1, "1r/s"), (0.5, "30r/m"), (2.5, "150r/m"), (0.001, "1r/m")],
)
def test_rates_are_in_whole_requests_per_second_or_minute(per_second, rate):
    assert nginx_rate(per_second) == rate


def test_tenant_models_are_the_names_clients_send(spec_data):
    spec_data["models"][0]["served_name"] = "phi-3"
    spec_data["gateway"]["tenants"][0]["models"] = ["phi-3-mini"]  # the hx name
    config = gateway_of(spec_data).gateway.njs_config()
    assert config["tenants"]["app"]["models"] == ["phi-3"]
    assert list(config["models"]) == ["phi-3"]


def test_splits_become_cumulative_bounds_without_zero_weights(spec_data):
    second = json.loads(json.dumps(spec_data["models"][0])) | {"name": "phi-b", "port": 8002}
    third = second | {"name": "phi-c", "port": 8003}
    spec_data["models"] += [second, third]
    spec_data["models"][0]["gpu_memory_utilization"] = 0.3
    second["gpu_memory_utilization"] = third["gpu_memory_utilization"] = 0.3
    spec_data["gateway"]["routes"] = [
        {
            "alias": "phi",
            "split": [
                {"model": "phi-3-mini", "weight": 70},
                {"model": "phi-b", "weight": 0},
                {"model": "phi-c", "weight": 30},
            ],
        }
    ]
    spec_data["control"] = {"enabled": False}  # without hx-control, a variant of weight 0 is never sent to
    gateway = gateway_of(spec_data).gateway
    route = gateway.njs_config()["routes"]["phi"]
    assert route["sticky"] == "tenant"
    assert route["split"] == [["phi-3-mini", 70], ["phi-c", 100]]
    # Each variant has an upstream that tries it first and the route's others after it.
    assert route["upstreams"] == {"phi-3-mini": "hx_route0_v0", "phi-c": "hx_route0_v1"}
    servers = {u.name: [(s.port, s.backup) for s in u.servers] for u in gateway.route_upstreams}
    assert servers == {"hx_route0_v0": [(8001, False), (8003, True)], "hx_route0_v1": [(8003, False), (8001, True)]}
    assert route["resizes"] is False  # "phi" is shorter than both names: lengths are kept
    # hx-control may give phi-b a share: with it, every variant of the split has an upstream.
    spec_data["control"] = {"enabled": True}
    route = gateway_of(spec_data).gateway.njs_config()["routes"]["phi"]
    assert route["split"] == [["phi-3-mini", 70], ["phi-c", 100]]
    assert route["upstreams"] == {"phi-3-mini": "hx_route0_v0", "phi-b": "hx_route0_v1", "phi-c": "hx_route0_v2"}


def test_an_alias_longer_than_a_variant_drops_the_content_length(spec_data):
    spec_data["gateway"]["routes"] = [
        {"alias": "a-much-longer-alias", "split": [{"model": "phi-3-mini", "weight": 100}]}
    ]
    gateway = gateway_of(spec_data).gateway
    assert gateway.njs_config()["routes"]["a-much-longer-alias"]["resizes"] is True
    assert "js_header_filter hx.dropLength;" in nginx_conf(spec_data)


def nginx_conf(spec_data) -> str:
    return next(a.text for a in render(gateway_of(spec_data)) if a.path.endswith("nginx/nginx.conf"))


def test_the_workers_user_is_the_roles_variable(spec_data):
    """nginx.conf names no user: it includes the file the role writes from gateway_nginx_user."""
    conf = nginx_conf(spec_data)
    assert f"include {NGINX_USER_FILE};" in conf
    assert not re.search(r"(?m)^\s*user\s", conf)
    template = jinja2.Template((ROOT / "roles/gateway/templates/nginx-user.conf.j2").read_text())
    assert "\nuser nginx;" in template.render(gateway_nginx_user="nginx")


def test_the_redirect_names_the_configured_server(spec_data):
    spec_data["gateway"]["server_name"] = "llm.example.internal"
    spec_data["gateway"]["tls"] = {"mode": "internal-ca"}
    conf = nginx_conf(spec_data)
    assert "return 301 https://llm.example.internal$request_uri;" in conf
    assert "https://$host" not in conf


def test_deprecated_versions_carry_rfc_headers(spec_data):
    spec_data["gateway"]["api_versions"] = [
        {"name": "v1", "status": "current"},
        {"name": "v0", "status": "deprecated", "deprecated_on": "2026-01-01", "sunset_on": "2026-07-01"},
    ]
    v0 = gateway_of(spec_data).gateway.njs_config()["versions"]["v0"]
    assert v0["deprecation"] == "@1767225600"  # 2026-01-01T00:00:00Z
    assert v0["sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"


def test_openapi_names_the_roles_of_every_operation(spec_data):
    paths = document(gateway_of(spec_data))["paths"]
    assert paths["/v1/chat/completions"]["post"]["x-hx-roles"] == ["admin", "user"]
    assert paths["/admin/status"]["get"]["x-hx-roles"] == ["admin", "operator"]
    assert paths["/v1/models"]["get"]["x-hx-roles"] == ["admin", "operator", "readonly", "user"]
    assert paths["/v1/embeddings"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "model"
    ]["enum"] == ["phi-3-mini"]


def test_no_gateway_no_plan(spec_data):
    spec_data["gateway"] = {"enabled": False}
    assert gateway_of(spec_data).gateway is None


def test_each_tenant_carries_its_daily_token_quota(spec_data):
    spec_data["gateway"]["rate_limit_tiers"][0]["daily_tokens"] = 5000
    spec_data["gateway"]["tenants"] += [{"name": "big", "tier": "standard", "daily_tokens": 90000}]
    plan = gateway_of(spec_data)
    assert plan.usage is not None
    config = plan.gateway.njs_config()
    assert {name: t["daily_tokens"] for name, t in config["tenants"].items()} == {
        "app": 5000,
        "big": 90000,
        "hx-probe": None,
    }
    assert config["quota_dir"] == plan.usage.quota_dir


def test_usage_endpoints_are_documented_only_with_usage_accounting(spec_data):
    plan = gateway_of(spec_data)
    doc = document(plan)
    assert doc["paths"]["/v1/usage"]["get"]["x-hx-roles"] == ["admin", "user"]
    assert doc["paths"]["/admin/usage"]["get"]["x-hx-roles"] == ["admin", "operator"]
    feedback = doc["paths"]["/v1/feedback"]["post"]
    assert set(feedback["responses"]) >= {"201", "400", "404", "503"}
    rating = doc["components"]["schemas"]["Feedback"]["properties"]["rating"]
    assert (rating["minimum"], rating["maximum"]) == (1, 5)
    assert "GET usage" in plan.gateway.njs_config()["endpoints"]

    spec_data["usage"] = {"enabled": False}
    plan = gateway_of(spec_data)
    assert plan.usage is None
    doc = document(plan)
    assert not {"/v1/usage", "/v1/feedback", "/admin/usage"} & set(doc["paths"])
    config = plan.gateway.njs_config()
    assert "GET usage" not in config["endpoints"] and config["quota_dir"] is None
    assert "upstream hx_usage" not in next(a.text for a in render(plan) if a.path.endswith("nginx.conf"))
