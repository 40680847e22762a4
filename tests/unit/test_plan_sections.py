"""The Plan's sections: one decision of what is on, every placed part on a known host, and the
pipeline's entry point that renders only a spec without errors."""

from __future__ import annotations

from conftest import ROOT, dump_yaml

from hxgen.components import helper_ports
from hxgen.pipeline import render_file, render_text
from hxgen.validation import validate


def test_every_placed_part_names_a_host_of_the_plan():
    plan = render_file(ROOT / "hx.yaml").plan
    names = {h.name for h in plan.hosts}
    assert names == {"hx-enterprise-llm-server-01"}
    db = plan.databases
    placed = [m.host for m in plan.models] + [c.host for c in plan.components]
    placed += [plan.gateway.host, plan.monitoring.host, plan.analytics.host]
    placed += [db.postgres.host, db.pgbouncer.host, db.qdrant.host]
    assert set(placed) == names
    assert plan.host_named("hx-enterprise-llm-server-01") is plan.single_host


def test_turning_a_component_off_removes_its_role_section_and_exporters(spec_data):
    spec_data["databases"] = {"postgres": {"pgbouncer": {"enabled": False}}, "qdrant": {"enabled": False}}
    spec_data["gateway"] = {"enabled": False}
    spec, found = validate(spec_data)
    assert spec is not None, found
    plan = render_text(dump_yaml(spec_data)).plan
    roles = [c.role for c in plan.components]
    assert "pgbouncer" not in roles and "qdrant" not in roles and "gateway" not in roles
    assert "postgresql" in roles
    assert plan.databases.pgbouncer is None and plan.databases.qdrant is None and plan.gateway is None
    jobs = {h.job for h in plan.helper_ports}
    assert "pgbouncer" not in jobs and "nginx" not in jobs and "postgres" in jobs
    # The port checks reserve exactly what the plan scrapes and binds.
    assert [h.port for h in helper_ports(spec)] == [h.port for h in plan.helper_ports]


def test_a_spec_with_errors_renders_nothing():
    rendered = render_text("version: hx/v1\nhost: {name: x}\n")
    assert rendered.outcome.errors
    assert rendered.plan is None and rendered.artifacts == []
