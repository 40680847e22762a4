"""Memory budgets of sandbox/hx.yaml applied as systemd limits on the sandbox (testinfra).

gateway.memory_gb is nginx's MemoryMax; monitoring.memory_gb is the MemoryMax of
hx-monitoring.slice, which the monitoring services run in; host.cpu_cores sizes PostgreSQL's
parallel workers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hxgen.pipeline import render_file

SANDBOX_SPEC = Path(__file__).resolve().parents[3] / "sandbox" / "hx.yaml"
MONITORING_SERVICES = [
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-blackbox-exporter",
]


@pytest.fixture(scope="module")
def spec():
    outcome = render_file(SANDBOX_SPEC).outcome
    assert outcome.spec is not None
    return outcome.spec


def _bytes(gb: float) -> int:
    # systemd reads "1.5G" as 1.5 * 1024^3 bytes (its suffixes are binary).
    return math.floor(gb * 1024**3)


def _property(host, unit: str, name: str) -> str:
    return host.check_output(f"systemctl show {unit} -p {name} --value")


def test_nginx_memory_is_limited_to_the_gateway_budget(host, spec):
    assert int(_property(host, "nginx", "MemoryMax")) == _bytes(spec.gateway.memory_gb)


def test_the_monitoring_slice_is_limited_to_the_monitoring_budget(host, spec):
    assert int(_property(host, "hx-monitoring.slice", "MemoryMax")) == _bytes(spec.monitoring.memory_gb)
    assert _property(host, "hx-monitoring.slice", "ActiveState") == "active"


@pytest.mark.parametrize("service", MONITORING_SERVICES)
def test_monitoring_services_run_in_the_monitoring_slice(host, service):
    assert _property(host, service, "Slice") == "hx-monitoring.slice"
    # The running process really is in the slice's cgroup, not only configured to be.
    cgroup = _property(host, service, "ControlGroup")
    assert cgroup.startswith("/hx.slice/hx-monitoring.slice/") or "/hx-monitoring.slice/" in cgroup


def test_postgres_parallel_workers_follow_the_host_cores(host, spec):
    cores, port = spec.host.cpu_cores, spec.databases.postgres.port
    with host.sudo("postgres"):
        workers = host.check_output(f"psql -XAt -p {port} -c 'SHOW max_parallel_workers'")
        per_gather = host.check_output(f"psql -XAt -p {port} -c 'SHOW max_parallel_workers_per_gather'")
    assert int(workers) == cores
    assert int(per_gather) == min(4, math.ceil(cores / 2))
