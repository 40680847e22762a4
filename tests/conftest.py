"""Shared helpers: run the CLI in-process, and build small valid specs to break."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from ruamel.yaml import YAML

from hxgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
# Set HX_UPDATE_GOLDEN=1 to rewrite expected outputs from what hxgen produces now.
UPDATE_GOLDEN = os.environ.get("HX_UPDATE_GOLDEN") == "1"

# Property tests explore new inputs on a developer's machine; in CI (CI=true) they replay the
# same derandomized examples every run, so a red run is reproducible and never a coin toss. A
# case found locally becomes an explicit example in its test.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def hxgen(capsys, monkeypatch):
    """Run `hxgen ARGS...` in-process from a given directory."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits for --help and usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


MINIMAL_GPU = {
    "version": "hx/v1",
    "host": {
        "name": "gpu-host",
        "address": "10.0.0.5",
        "cpu_cores": 32,
        "memory_gb": 128,
        "gpus": [{"index": 0, "model": "NVIDIA L40S", "memory_gb": 48}],
    },
    "models": [
        {
            "name": "phi-3-mini",
            "source": {
                "hub": "microsoft/Phi-3-mini-4k-instruct",
                "revision": "f39ac1d28e925b323eae81227eaba4464caced4e",
            },
            "parameters_b": 3.82,
            "gpus": [0],
            "max_model_len": 4096,
            "port": 8001,
            "slo": {"time_to_first_token": {"target_ms": 300}, "throughput_rps": 50},
        }
    ],
    "gateway": {
        "rate_limit_tiers": [{"name": "standard", "requests_per_second": 10}],
        "tenants": [{"name": "app", "tier": "standard"}],
    },
    "monitoring": {"receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"}]},
    "security": {"firewall": {"allow": [{"source": "10.0.0.0/8", "ports": [80, 443], "comment": "API clients"}]}},
}


@pytest.fixture
def spec_data() -> dict:
    """A fresh copy of a small valid gpu spec with no warnings, to modify in a test."""
    return copy.deepcopy(MINIMAL_GPU)


def dump_yaml(data: dict) -> str:
    import io

    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def quick_benchmark():
    """`python benchmarks/SCRIPT ARGS...`, run once per session whoever asks (a benchmark's
    quick run can take tens of seconds); returns the finished process."""
    runs: dict[tuple[str, ...], subprocess.CompletedProcess] = {}

    def run(script: str, *args: str) -> subprocess.CompletedProcess:
        if (script, *args) not in runs:
            runs[(script, *args)] = subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / script), *args],
                capture_output=True,
                text=True,
                timeout=600,  # a hang guard, not a performance assertion
                check=False,
            )
        return runs[(script, *args)]

    return run


# --- what each test needs, as markers (registered in pyproject.toml) ------------------------
# unit: the package and its test extras, nothing else; seconds. tools: real binaries (nginx,
# promtool, amtool, prometheus, systemd-analyze, ansible...). engine: real vLLM CPU servers.
# bench: a benchmark's quick run. A module names its kind with `pytestmark`, or here; a test
# whose module says nothing is a collection error, so that `pytest -m unit` never quietly
# leaves out, or takes in, a new module.
KINDS = ("unit", "tools", "engine", "bench")
MODULE_KINDS = {
    "test_golden.py": "unit",
    "test_invalid_specs.py": "unit",
    "test_properties.py": "unit",
    "test_cli.py": "unit",
    "test_keys_cli.py": "unit",
    "test_analyze_cli.py": "unit",
    "test_warnings.py": "unit",
    "test_repo.py": "unit",
    "test_docs.py": "unit",
    "test_roles.py": "unit",
    "test_real_tools.py": "tools",
    "test_alertmanager.py": "tools",
    "test_dashboard_queries.py": "tools",
    "test_analytics_service.py": "tools",
    "test_gateway.py": "engine",
    "test_gateway_streaming.py": "tools",
    "test_pgbouncer_restart.py": "tools",
    "test_pg_backup.py": "tools",
    "test_log_retention.py": "tools",
    "test_secrets_source.py": "tools",
    "test_fail2ban_netns.py": "tools",
    "test_benchmarks.py": "bench",
    "test_analytics_benchmark.py": "unit",
    "test_tls_scan.py": "tools",
    "test_gateway_cert_renew.py": "tools",
    "test_tls_cli.py": "unit",
    "test_firewall_netns.py": "tools",
    "test_firewall_ruleset.py": "tools",
    "test_audit_log.py": "unit",
    "test_audit_cli.py": "unit",
    "test_audit_service.py": "unit",
    "test_audit_gateway.py": "tools",
    "test_audit_writers.py": "tools",
}
# Tests of a unit module that run a real tool, and the tools they run.
TOOL_TESTS = {
    "test_ansible_lint_production_profile_passes": "ansible-lint",
    "test_site_playbook_passes_syntax_check_against_the_sandbox_inventory": "ansible-playbook",
}
TOOL_FIXTURES = {"vault": "ansible-vault", "quick": "benchmarks/analytics.py --quick"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        path = Path(item.fspath)
        kind = "unit" if path.parent.name == "unit" else MODULE_KINDS.get(path.name)
        if kind is None:
            raise pytest.UsageError(f"{path.name}: no kind; give it `pytestmark = pytest.mark.<{'|'.join(KINDS)}>`")
        if kind == "unit" and (item.originalname in TOOL_TESTS or TOOL_FIXTURES.keys() & set(item.fixturenames)):
            kind = "bench" if "quick" in item.fixturenames else "tools"
        item.add_marker(kind)
