"""Rendered files checked by the programs that will consume them on the host.

These tools come from the test set-up (systemd from Debian, ansible-core from the test extra);
a missing tool fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import gateway_harness
import pytest
from conftest import DATA, ROOT

from hxgen.pipeline import render_file
from hxgen.writer import Changes, write

SPECS = [ROOT / "hx.yaml", ROOT / "sandbox/hx.yaml", *sorted((DATA / "cases").glob("*/hx.yaml"))]
SPEC_IDS = [str(p.relative_to(ROOT)) for p in SPECS]


def tool(name: str) -> str:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", str(Path(sys.executable).parent)])
    found = shutil.which(name, path=search)
    assert found, f"{name} is not installed; run the README's test set-up"
    return found


def rendered_tree(spec: Path, out: Path) -> Path:
    artifacts = render_file(spec).artifacts
    write(out, artifacts, Changes(written=[a.path for a in artifacts]))
    return out


def unit_programs(unit_text: str) -> set[str]:
    """Absolute program paths that Exec*= lines run (systemd checks they are executable)."""
    programs = set()
    joined = unit_text.replace("\\\n", " ")
    for line in joined.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("Exec") and value:
            programs.add(shlex.split(value.lstrip("-@+!"))[0])
    return programs


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_systemd_analyze_verifies_every_unit(spec, tmp_path):
    out = rendered_tree(spec, tmp_path / "out")
    root = tmp_path / "root"
    # An image root with the host's stock units (for the targets units depend on) and the
    # programs the role installs, so that verify checks our units and nothing else.
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = sorted(p for kind in ("service", "timer", "path") for p in (out / "rendered/systemd").glob(f"*.{kind}"))
    assert units
    for unit in units:
        for program in unit_programs(unit.read_text()):
            stand_in = root / program.lstrip("/")
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text("#!/bin/sh\n")
            stand_in.chmod(0o755)
        (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", f"--root={root}", *(u.name for u in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # unknown keys and bad values are only warnings


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_systemd_analyze_verifies_the_memory_limits(spec, tmp_path):
    """The monitoring slice and the limits drop-ins, over stand-ins of the packaged units."""
    out = rendered_tree(spec, tmp_path / "out") / "rendered/systemd"
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    etc = root / "etc/systemd/system"
    etc.mkdir(parents=True)
    shutil.copy(out / "hx-monitoring.slice", etc)
    dropins = sorted(out.glob("*.service.d/hx-limits.conf"))
    assert dropins
    program = root / "usr/bin/hx-stand-in"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    units = []
    for dropin in dropins:
        unit = dropin.parent.name.removesuffix(".d")
        (etc / unit).write_text(f"[Unit]\nDescription=stand-in for {unit}\n[Service]\nExecStart=/usr/bin/hx-stand-in\n")
        (etc / dropin.parent.name).mkdir()
        shutil.copy(dropin, etc / dropin.parent.name)
        units.append(unit)
        assert "MemoryMax=" in dropin.read_text() or "Slice=hx-monitoring.slice" in dropin.read_text()
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", f"--root={root}", "hx-monitoring.slice", *units],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_ansible_reads_the_inventory(spec, tmp_path):
    out = rendered_tree(spec, tmp_path)
    result = subprocess.run(
        [tool("ansible-inventory"), "-i", str(out / "inventory"), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "true",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "HOME": str(tmp_path),
        },
    )
    assert "WARNING" not in result.stderr, result.stderr
    inventory = json.loads(result.stdout)
    planned = render_file(spec).plan.single_host
    host = planned.name
    assert inventory["hx"]["hosts"] == [host]
    hostvars = inventory["_meta"]["hostvars"][host]
    assert hostvars["hx_profile"] == planned.profile
    assert hostvars["vllm_models"] or hostvars["tgi_models"]
    assert "base" in hostvars["hx_components"]


def _rendered(spec: Path, tmp_path: Path, relative: str) -> Path:
    out = rendered_tree(spec, tmp_path / "out")
    return out / relative


GATEWAY_SPECS = [s for s in SPECS if render_file(s).plan.gateway is not None]


@pytest.mark.parametrize("spec", GATEWAY_SPECS, ids=[str(p.relative_to(ROOT)) for p in GATEWAY_SPECS])
def test_nginx_accepts_the_gateway_config(spec, tmp_path):
    """nginx.conf with the njs handler, its config module and a key map from the role's template."""
    key = {"id": "0123abcd", "tenant": "t", "sha256": "0" * 64, "expires": "2030-01-01"}
    staged = gateway_harness.stage(spec, tmp_path, [key])
    result = subprocess.run([tool("nginx"), "-t", "-c", str(staged.conf)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_promtool_accepts_the_prometheus_config(spec, tmp_path):
    conf = _rendered(spec, tmp_path, "rendered/prometheus/prometheus.yml")
    result = subprocess.run([tool("promtool"), "check", "config", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_amtool_accepts_the_alertmanager_config(spec, tmp_path):
    conf = _rendered(spec, tmp_path, "rendered/alertmanager/alertmanager.yml")
    result = subprocess.run([tool("amtool"), "check-config", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


PROBE_SPECS = [s for s in SPECS if render_file(s).plan.probe is not None]


@pytest.mark.parametrize("spec", PROBE_SPECS, ids=[str(p.relative_to(ROOT)) for p in PROBE_SPECS])
def test_blackbox_exporter_accepts_the_probe_modules(spec, tmp_path):
    conf = _rendered(spec, tmp_path, "rendered/prometheus/blackbox.yml")
    result = subprocess.run(
        [tool("prometheus-blackbox-exporter"), "--config.check", f"--config.file={conf}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Config file is ok" in result.stderr


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_promtool_accepts_every_rule_file(spec, tmp_path):
    rules = sorted((rendered_tree(spec, tmp_path / "out") / "rendered/prometheus/rules").glob("*.yml"))
    assert {r.name for r in rules} >= {"hx-models.yml", "hx-slo.yml", "hx-alerts.yml"}
    result = subprocess.run([tool("promtool"), "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rules)


# Each unit test of tests/data/promtool/ and the spec whose rendered rules it exercises.
RULE_TESTS = {
    "hx-models.test.yml": ROOT / "sandbox/hx.yaml",
    "hx-slo.test.yml": ROOT / "sandbox/hx.yaml",
    "hx-alerts.test.yml": ROOT / "sandbox/hx.yaml",
    "hx-cost.test.yml": ROOT / "hx.yaml",
    "hx-backup.test.yml": ROOT / "hx.yaml",
    "hx-predictive.test.yml": ROOT / "sandbox/hx.yaml",
    "hx-intrusion.test.yml": ROOT / "hx.yaml",
    "tgi-gpu.test.yml": DATA / "promtool/tgi-gpu.hx.yaml",  # families only a GPU host or TGI renders
    "hx-audit.test.yml": ROOT / "sandbox/hx.yaml",
    "hx-service-targets.test.yml": ROOT / "hx.yaml",  # targets.embeddings_ms needs an embedding model
    "hx-usage.test.yml": ROOT / "hx.yaml",
    "hx-canary.test.yml": DATA / "cases/canary/hx.yaml",
}


def test_every_promtool_unit_test_is_run():
    assert {p.name for p in (DATA / "promtool").glob("*.test.yml")} == set(RULE_TESTS)


def test_every_generated_alert_has_a_promtool_unit_test():
    from hxgen import alerts

    tested = "".join(p.read_text() for p in (DATA / "promtool").glob("*.test.yml"))
    assert sorted(a for a in alerts.GENERATED if f"alertname: {a}\n" not in tested) == []


@pytest.mark.parametrize("test_file", sorted(RULE_TESTS))
def test_rules_pass_their_promtool_unit_tests(test_file, tmp_path):
    """Input series in, expected hx: series and alerts out, including the ones that must not fire."""
    rules_dir = rendered_tree(RULE_TESTS[test_file], tmp_path / "out") / "rendered/prometheus/rules"
    for rules in rules_dir.glob("*.yml"):
        shutil.copy(rules, tmp_path)
    shutil.copy(DATA / "promtool" / test_file, tmp_path)
    result = subprocess.run(
        [tool("promtool"), "test", "rules", test_file], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
