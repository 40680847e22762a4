"""The fields issue 13 makes real, as `hxgen validate` and the plan see them."""

from __future__ import annotations

from conftest import dump_yaml

from hxgen.pipeline import check_text, render_text
from hxgen.plan.postgres_tuning import size_parallelism


def findings(data: dict) -> list[tuple[str, str, str, int]]:
    outcome = check_text(dump_yaml(data))
    return [(d.diagnostic.severity, d.diagnostic.code, d.diagnostic.message, d.line) for d in outcome.diagnostics]


def codes(data: dict) -> list[str]:
    return [code for _, code, _, _ in findings(data)]


def test_defaults_nobody_wrote_do_not_warn(spec_data):
    assert codes(spec_data) == []


def test_gateway_overhead_targets_are_enforced_with_usage_accounting(spec_data):
    spec_data["targets"] = {"sql_latency_ms": 40, "gateway_overhead_ms": 30, "gateway_overhead_at_rps": 100}
    assert codes(spec_data) == []


def test_gateway_overhead_targets_without_usage_accounting_warn_at_their_line(spec_data):
    spec_data["targets"] = {"sql_latency_ms": 40, "gateway_overhead_ms": 30, "gateway_overhead_at_rps": 100}
    spec_data["usage"] = {"enabled": False}
    text = dump_yaml(spec_data)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "gateway_overhead_ms" in t)
    found = [f for f in findings(spec_data) if f[1] == "not-measured"]
    assert [(s, c) for s, c, _, _ in found] == [("warning", "not-measured")] * 2
    assert line in [f[3] for f in found]
    assert all("usage.enabled is false" in m for _, _, m, _ in found)


def test_a_model_version_is_rendered_without_hx_control_too(spec_data):
    """The scrape labels and the X-HX-Variant-Version header carry it; hx-control is not needed."""
    spec_data["models"][0]["version"] = "2024-06"
    spec_data["control"] = {"enabled": False}
    assert codes(spec_data) == []
    rendered = {a.path: a.text for a in render_text(dump_yaml(spec_data)).artifacts}
    assert "version: 2024-06" in rendered["rendered/prometheus/prometheus.yml"]


def test_the_default_spec_passes_strict():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "hx.yaml").read_text()
    assert check_text(text).passed(strict=True)


def test_model_cpu_quotas_must_fit_the_host(spec_data):
    spec_data["host"]["cpu_cores"] = 4
    spec_data["models"][0]["resources"] = {"memory_gb": 16, "cpu_cores": 6}
    (found,) = [f for f in findings(spec_data) if f[1] == "cpu-capacity"]
    assert found[0] == "error" and "6 CPU cores but the host has 4" in found[2]
    spec_data["models"][0]["resources"]["cpu_cores"] = 4
    assert "cpu-capacity" not in codes(spec_data)


def test_plain_secret_files_warn_outside_the_cpu_profile(spec_data):
    spec_data.setdefault("security", {})["secrets"] = {"source": "files"}
    assert codes(spec_data) == ["plain-secrets"]


def test_postgres_parallelism_follows_pgtune():
    assert size_parallelism(64).as_dict() == {
        "max_worker_processes": 64,
        "max_parallel_workers": 64,
        "max_parallel_workers_per_gather": 4,
        "max_parallel_maintenance_workers": 4,
    }
    small = size_parallelism(2)
    assert (small.max_worker_processes, small.max_parallel_workers, small.max_parallel_workers_per_gather) == (8, 2, 1)


def _rendered(data: dict) -> dict[str, str]:
    result = render_text(dump_yaml(data))
    assert result.plan is not None, result.outcome.diagnostics
    return {a.path: a.text for a in result.artifacts}


def test_memory_budgets_become_limits(spec_data):
    spec_data["gateway"]["memory_gb"] = 3
    spec_data["monitoring"]["memory_gb"] = 5
    files = _rendered(spec_data)
    assert "MemoryMax=3G" in files["rendered/systemd/nginx.service.d/hx-limits.conf"]
    assert "MemoryMax=5G" in files["rendered/systemd/hx-monitoring.slice"]
    for unit in ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "grafana-server"):
        assert "Slice=hx-monitoring.slice" in files[f"rendered/systemd/{unit}.service.d/hx-limits.conf"]


def test_qdrant_gets_its_memory_budget():
    from pathlib import Path

    from hxgen.pipeline import render_file

    files = {a.path: a.text for a in render_file(Path(__file__).resolve().parents[2] / "hx.yaml").artifacts}
    assert "qdrant_memory_gb: 16" in files["inventory/group_vars/hx/qdrant.yml"]


def test_embeddings_and_recovery_targets_become_alerts(spec_data):
    files = _rendered(spec_data)
    rules = files["rendered/prometheus/rules/hx-service-targets.yml"]
    assert "HxModelRecoveryOverdue" in rules and "for: 180s" in rules
    assert "HxEmbeddingsSlow" not in rules  # no embedding model in this spec
