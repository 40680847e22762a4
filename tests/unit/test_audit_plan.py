"""security.audit_log in the plan and the render: on, it adds the audit role, its service,
configuration, rules and scrape job; its retention reaches the service; off, none of it."""

from __future__ import annotations

import json

from hxgen.audit.config import parse
from hxgen.checks import run_checks
from hxgen.plan import build_plan
from hxgen.render import render
from hxgen.validation import validate


def rendered(data) -> dict[str, str]:
    spec, found = validate(data)
    assert spec is not None, found
    return {a.path: a.text for a in render(build_plan(spec))}


def test_the_audit_log_on_renders_the_service_its_configuration_rules_and_scrape_job(spec_data):
    spec_data["security"] = {"audit_log": {"enabled": True, "retention_days": 90}}
    out = rendered(spec_data)
    cfg = parse(json.loads(out["rendered/audit/audit.json"]))  # what hx-audit reads on the host
    assert cfg.retention_days == 90 and cfg.listen_port == 9745
    assert str(cfg.head_copies[0]).endswith("/audit/head.json")
    assert "hx-audit --config /etc/hx/audit.json serve" in out["rendered/systemd/hx-audit.service"].replace(
        " \\\n    ", " "
    )
    assert "HxAuditChainBroken" in out["rendered/prometheus/rules/hx-audit.yml"]
    assert "job_name: audit" in out["rendered/prometheus/prometheus.yml"]
    assert "hx_audit_enabled: true" in out["inventory/group_vars/hx/hx.yml"]
    assert "- audit" in out["inventory/group_vars/hx/hx.yml"]


def test_the_audit_log_off_renders_none_of_it(spec_data):
    spec_data.setdefault("security", {})["audit_log"] = {"enabled": False}
    out = rendered(spec_data)
    assert not [p for p in out if "audit" in p.rsplit("/", 1)[-1]]
    assert "hx_audit_enabled: false" in out["inventory/group_vars/hx/hx.yml"]
    assert "job_name: audit" not in out["rendered/prometheus/prometheus.yml"]


def test_a_model_on_the_audit_port_is_refused_only_while_the_audit_log_is_on(spec_data):
    spec_data["models"][0]["port"] = 9745
    spec, _ = validate(spec_data)
    assert "port 9745 is reserved for the audit service's metrics" in {d.message for d in run_checks(spec)}
    spec_data.setdefault("security", {})["audit_log"] = {"enabled": False}
    spec, _ = validate(spec_data)
    assert run_checks(spec) == []
