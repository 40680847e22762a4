"""hxgen doctor's rules on facts written by hand: each fault gives its finding with the fix the
user needs, and a host that matches the sandbox spec is healthy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hxgen import layout
from hxgen.doctor.facts import GIB, HostFacts, MountFacts, UnitFacts
from hxgen.doctor.findings import Report, Severity
from hxgen.doctor.rules import diagnose
from hxgen.pipeline import render_file

PLAN = render_file(Path(__file__).parents[2] / "sandbox/hx.yaml").plan
HEALTHY = HostFacts(
    host="hx-sandbox",
    journal_window_min=10,
    units={f"{m.service}.service": UnitFacts("active", "running") for m in PLAN.models},
    listening_tcp_ports=frozenset(m.port for m in PLAN.models),
    mounts=(MountFacts("/", 100 * GIB, 60 * GIB),),
)
TINY_B = f"{layout.model_service('tiny-b')}.service"


def report(facts: HostFacts) -> Report:
    return Report.of(facts.host, diagnose(PLAN, facts))


def with_unit(unit: str, state: UnitFacts) -> HostFacts:
    return replace(HEALTHY, units=HEALTHY.units | {unit: state})


def test_the_sandbox_models_are_units_named_as_the_facts_say():
    assert TINY_B in HEALTHY.units, "the tests below fault tiny-b; the sandbox spec must still have it"


def test_a_host_as_the_spec_wants_is_healthy():
    result = report(HEALTHY)
    assert result.findings == ()
    assert result.healthy
    assert "healthy" in result.to_text()


def test_an_oom_killed_model_names_the_memory_field_to_raise():
    result = report(with_unit(TINY_B, UnitFacts("active", "running", restarts=6, oom_kills=6)))
    (finding,) = result.findings
    assert (finding.severity, finding.code, finding.subject) == (Severity.CRITICAL, "oom-killed", TINY_B)
    assert finding.summary == "tiny-b restarted 6 times in 10 min, OOM-killed 6 times; MemoryMax 4G"
    assert "raise models[1].resources.memory_gb (now 4)" in finding.hint
    assert not result.healthy


def test_a_stopped_model_is_down_and_says_how_to_start_it():
    (finding,) = report(with_unit(TINY_B, UnitFacts("inactive", "dead"))).findings
    assert (finding.code, finding.severity) == ("unit-down", Severity.CRITICAL)
    assert f"systemctl start {TINY_B}" in finding.hint
    assert "ActiveState=inactive" in finding.evidence


def test_a_crash_loop_without_oom_is_a_warning_pointing_at_the_journal():
    (finding,) = report(with_unit(TINY_B, UnitFacts("active", "running", restarts=4))).findings
    assert (finding.code, finding.severity) == ("unit-restarts", Severity.WARNING)
    assert f"journalctl -u {TINY_B}" in finding.hint


def test_a_few_restarts_are_not_a_finding():
    assert report(with_unit(TINY_B, UnitFacts("active", "running", restarts=2))).healthy


def test_a_missing_unit_asks_for_a_converge():
    units = {name: state for name, state in HEALTHY.units.items() if name != TINY_B}
    (finding,) = report(replace(HEALTHY, units=units)).findings
    assert finding.code == "unit-missing"
    assert "playbooks/site.yml" in finding.hint


def test_a_running_model_that_does_not_listen_names_its_port_field():
    facts = replace(HEALTHY, listening_tcp_ports=HEALTHY.listening_tcp_ports - {8002})
    (finding,) = report(facts).findings
    assert (finding.code, finding.subject) == ("port-not-listening", "tiny-b:8002")
    assert "models[1].port is 8002" in finding.hint


def test_a_down_model_is_not_reported_twice_for_its_port():
    facts = replace(with_unit(TINY_B, UnitFacts("failed", "failed")), listening_tcp_ports=frozenset({8001}))
    assert [f.code for f in report(facts).findings] == ["unit-down"]


@pytest.mark.parametrize(("free_gib", "severity"), [(0.5, Severity.CRITICAL), (10, Severity.WARNING), (15, None)])
def test_disk_headroom(free_gib, severity):
    facts = replace(HEALTHY, mounts=(MountFacts("/var/lib/hx", 100 * GIB, int(free_gib * GIB)),))
    findings = report(facts).findings
    assert [f.severity for f in findings] == ([severity] if severity else [])
    if severity:
        assert "monitoring.retention_days" in findings[0].hint
        assert PLAN.models[0].weights_dir in findings[0].hint


def test_findings_are_ranked_most_severe_first_and_json_says_why():
    facts = replace(
        with_unit(TINY_B, UnitFacts("active", "running", restarts=5)),
        mounts=(MountFacts("/", 100 * GIB, GIB),),
    )
    result = report(facts)
    assert [f.code for f in result.findings] == ["disk-low", "unit-restarts"]
    document = json.loads(result.to_json())
    assert document["healthy"] is False
    assert [f["severity"] for f in document["findings"]] == ["critical", "warning"]
    assert document["findings"][0]["hint"]
