"""What is committed matches what hxgen produces: the default and sandbox renders, the schema."""

from __future__ import annotations

import pytest
from conftest import ROOT

SPECS = ["hx.yaml", "sandbox/hx.yaml"]


@pytest.mark.parametrize("spec", SPECS)
def test_committed_render_is_current(hxgen, spec):
    result = hxgen("render", ROOT / spec, "--check", "--strict")
    assert result.code == 0, result.out + result.err


@pytest.mark.parametrize("spec", SPECS)
def test_spec_declares_its_schema_and_version(spec):
    lines = (ROOT / spec).read_text().splitlines()
    assert lines[0].startswith("# yaml-language-server: $schema=") and "schemas/hx.schema.json" in lines[0]
    assert "version: hx/v1" in lines


def test_committed_schema_is_current(hxgen):
    result = hxgen("schema", "--out", ROOT / "schemas/hx.schema.json", "--check")
    assert result.code == 0, result.err


def test_default_spec_serves_the_four_required_models_with_their_targets():
    from hxgen.pipeline import check_file

    spec = check_file(ROOT / "hx.yaml").spec
    ttft = {
        m.name: (m.slo.time_to_first_token.target_ms, m.slo.throughput_rps) for m in spec.models if m.task == "generate"
    }
    assert ttft == {
        "mixtral-8x7b": (1500, 10),
        "hermes-2": (1000, 20),
        "openchat-3-5": (800, 25),
        "phi-3-mini": (300, 50),
    }
    assert spec.host.name == "hx-enterprise-llm-server-01" and spec.host.address == "192.168.10.29"
    assert spec.host.memory_gb == 192
    assert spec.databases.postgres.pgbouncer.pool_size == 200
    assert spec.monitoring.scrape_interval_s == 10
    t = spec.targets
    assert (t.memory_max_percent, t.cpu_max_percent, t.gpu_max_percent) == (85, 80, 90)
    assert (t.availability_percent, t.error_rate_percent, t.mttr_minutes) == (99.5, 0.1, 3)
