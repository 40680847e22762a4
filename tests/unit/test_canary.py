"""A route's canary: every field reaches what is rendered, the plan hx-control carries out, and
what hx-usage counts for the gate."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import DATA, dump_yaml
from ruamel.yaml import YAML

from hxgen.pipeline import check_text, render_text
from hxgen.usage.lines import parse

SPEC = DATA / "cases/canary/hx.yaml"
RULES = "rendered/prometheus/rules/hx-canary.yml"
CONTROL = "rendered/control/control.json"


def spec() -> dict:
    return YAML(typ="safe").load(SPEC.read_text())


def rendered(data: dict) -> dict[str, str]:
    return {a.path: a.text for a in render_text(dump_yaml(data)).artifacts}


BASE = rendered(spec())

MUTATIONS = {
    "steps_percent": [10, 100],
    "step_min_s": 60,
    "step_min_requests": 10,
    "interval_s": 30,
    "failed_checks": 3,
    "window_s": 60,
    "error_margin_percent": 3,
    "latency_margin_percent": 10,
    "promotion": "auto",
}


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_every_canary_field_changes_the_render(field):
    data = spec()
    data["gateway"]["routes"][0]["canary"][field] = MUTATIONS[field]
    changed = {path for path, text in rendered(data).items() if BASE.get(path) != text}
    assert changed & {RULES, CONTROL}, f"canary.{field} changes nothing"


def test_hx_control_gets_the_rollout_and_where_to_read_and_verify_it():
    config = json.loads(BASE[CONTROL])
    assert config["routes"]["phi"]["canary"] == {
        "model": "phi-3-mini-next",
        "version": "2024-06-rc1",
        "steps_percent": [5, 25, 100],
        "step_min_s": 600,
        "step_min_requests": 200,
        "interval_s": 10,
        "failed_checks": 2,
        "promotion": "manual",
    }
    assert config["prometheus_url"] == "http://127.0.0.1:9090"
    assert config["gateway_status_url"] == "http://127.0.0.1:8081/weights"
    assert "location = /weights" in BASE["rendered/nginx/nginx.conf"]


def test_the_gate_uses_the_canarys_own_budget_and_the_stable_variants_latency():
    rules = YAML(typ="safe").load(BASE[RULES])["groups"][0]["rules"]
    gate = {r["labels"]["check"]: r["expr"] for r in rules if r.get("record") == "hx:canary_gate:failing"}
    assert set(gate) == {"down", "fast_burn", "errors_above_stable", "latency_below_stable"}
    assert "> bool 0.0144" in gate["fast_burn"]  # 14.4 x (1 - 99.9 %)
    assert 'up{job="model-phi-3-mini-next"}' in gate["down"]
    stable = [
        r for r in rules if r.get("record") == "hx:canary_latency_misses:ratio" and r["labels"]["role"] == "stable"
    ]
    assert 'le="3.0"' in stable[0]["expr"]  # the stable variant's own end-to-end objective


def test_a_canary_without_latency_objectives_has_no_latency_check():
    data = spec()
    del data["models"][1]["slo"]["time_to_first_token"]
    rules = YAML(typ="safe").load(rendered(data)[RULES])["groups"][0]["rules"]
    checks = {r["labels"]["check"] for r in rules if r.get("record") == "hx:canary_gate:failing"}
    assert checks == {"down", "fast_burn", "errors_above_stable"}


def test_a_canary_alone_in_its_split_is_refused():
    data = spec()
    route = data["gateway"]["routes"][0]
    route["split"] = [{"model": "phi-3-mini-next", "weight": 100}]
    codes = {d.diagnostic.code for d in check_text(dump_yaml(data)).diagnostics}
    assert {"canary-no-stable", "canary-weight"} <= codes


def test_the_version_reaches_the_scrape_labels_and_the_gateways_models():
    assert "version: 2024-06-rc1" in BASE["rendered/prometheus/prometheus.yml"]
    models = json.loads(BASE["rendered/nginx/hx_config.json"])["models"]
    assert models["phi-3-mini-next"]["version"] == "2024-06-rc1"
    assert "X-HX-Variant-Version" in BASE["rendered/nginx/nginx.conf"]


LINE = {
    "time": "2026-12-02T10:00:00+00:00", "request_id": "r1", "tenant": "app", "role": "user",
    "model": "phi", "variant": "phi-3-mini-next", "picked": "phi-3-mini-next", "route": "phi",
    "path": "/v1/chat/completions", "status": 200, "cache": "MISS", "request_s": 0.1,
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({}, False),
        ({"status": 502}, True),
        ({"variant": "phi-3-mini"}, True),  # the route's retry: another variant answered
        ({"cache": "HIT"}, None),  # the cache says nothing about the variant
        ({"picked": "", "route": "", "model": "phi-3-mini"}, None),  # no route, no pick
    ],
)
def test_the_picked_variant_failed_when_it_errs_or_another_answers(change, failed):
    line = copy.deepcopy(LINE) | change
    assert parse(json.dumps(line).encode()).picked_failed is failed
