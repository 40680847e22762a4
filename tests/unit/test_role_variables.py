"""Decisions the roles used to make in Jinja, now rendered as role variables: how each model's
weights are staged, and the URLs and host:port the health checks and listeners use."""

from __future__ import annotations

from conftest import ROOT
from ruamel.yaml import YAML

from hxgen.pipeline import check_file
from hxgen.plan import build_plan
from hxgen.plan.weights import staging
from hxgen.render import render
from hxgen.render.endpoints import endpoint_vars
from hxgen.validation import validate


def group_vars(spec) -> dict:
    variables: dict = {}
    for artifact in render(build_plan(spec)):
        if "/group_vars/" in artifact.path:
            variables |= YAML(typ="safe", pure=True).load(artifact.text)
    return variables


def test_each_source_shape_has_its_staging():
    assert staging({"generate": "tiny-llama", "seed": 3}, "/srv/m/tiny") == {
        "method": "generate",
        "seed": 3,
        "parent_dir": "/srv/m",
        "marker": "/srv/m/tiny/model.safetensors",
    }
    assert staging({"hub": "org/model", "revision": "abc123"}, "/srv/m/model") == {
        "method": "download",
        "repo": "org/model",
        "revision": "abc123",
        "parent_dir": "/srv/m",
        "marker": "/srv/m/model/.hx-revision-abc123",
    }
    assert staging({"path": "/data/weights"}, "/data/weights") == {"method": "present"}


def test_a_new_revision_has_a_new_marker_so_it_downloads_again():
    old = staging({"hub": "org/model", "revision": "a" * 40}, "/srv/m/x")["marker"]
    new = staging({"hub": "org/model", "revision": "b" * 40}, "/srv/m/x")["marker"]
    assert old != new


def test_the_sandbox_models_are_generated():
    spec = check_file(ROOT / "sandbox/hx.yaml").spec
    variables = group_vars(spec)
    assert variables["vllm_generates_tiny_models"] is True
    assert {m["name"]: m["weights"]["method"] for m in variables["vllm_models"]} == {
        "tiny-a": "generate",
        "tiny-b": "generate",
    }


def test_hub_models_are_downloaded_and_nothing_is_generated(spec_data):
    spec, _ = validate(spec_data)
    variables = group_vars(spec)
    assert variables["vllm_generates_tiny_models"] is False
    assert [m["weights"]["method"] for m in variables["vllm_models"]] == ["download"]


def test_health_urls_of_an_ipv6_gateway_and_a_wildcard_qdrant(spec_data):
    spec_data["gateway"]["listen"] = {"address": "fd00::5", "https_port": 8443}
    spec_data.setdefault("databases", {})["qdrant"] = {"enabled": True, "listen_address": "::"}
    spec, found = validate(spec_data)
    assert spec is not None, found
    variables = group_vars(spec)
    assert variables["gateway_health_url"] == "https://[fd00::5]:8443/healthz"
    assert variables["qdrant_api_url"] == "http://[::1]:6333"
    assert variables["qdrant_health_url"] == "http://[::1]:6333/readyz"


def test_without_tls_the_gateway_is_checked_over_http(spec_data):
    spec_data["gateway"]["listen"] = {"address": "0.0.0.0", "http_port": 8080}
    spec_data["gateway"]["tls"] = {"mode": "off"}
    spec, found = validate(spec_data)
    assert spec is not None, found
    assert group_vars(spec)["gateway_health_url"] == "http://127.0.0.1:8080/healthz"


def test_monitoring_services_listen_on_loopback_with_their_health_urls():
    derived = endpoint_vars(
        {
            "prometheus": {"prometheus_port": 9090},
            "alertmanager": {"alertmanager_port": 9093},
            "node_exporter": {"node_exporter_port": 9100},
            "nvidia": {"nvidia_dcgm_exporter_port": 9400},
            "grafana": {"grafana_port": 3000},
        }
    )
    assert derived["prometheus"] == {
        "prometheus_listen_address": "127.0.0.1",
        "prometheus_listen_endpoint": "127.0.0.1:9090",
        "prometheus_health_url": "http://127.0.0.1:9090/-/ready",
    }
    assert derived["alertmanager"]["alertmanager_health_url"] == "http://127.0.0.1:9093/-/ready"
    assert derived["node_exporter"]["node_exporter_health_url"] == "http://127.0.0.1:9100/metrics"
    assert derived["nvidia"]["nvidia_dcgm_exporter_listen_endpoint"] == "127.0.0.1:9400"
    assert derived["grafana"] == {
        "grafana_listen_address": "127.0.0.1",
        "grafana_health_url": "http://127.0.0.1:3000/api/health",
    }


def test_roles_absent_from_the_render_get_nothing():
    assert endpoint_vars({"prometheus": {"prometheus_port": 9090}}).keys() == {"prometheus"}
