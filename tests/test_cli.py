"""The command line as a user drives it: exit codes, streams, files written and pruned."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import DATA, ROOT, dump_yaml

MINIMAL = DATA / "cases" / "minimal" / "hx.yaml"


@pytest.fixture
def project(tmp_path):
    shutil.copy(MINIMAL, tmp_path / "hx.yaml")
    return tmp_path


def test_help_on_every_command(hxgen):
    for args in ([], ["validate"], ["render"], ["schema"]):
        result = hxgen(*args, "--help")
        assert result.code == 0
        assert "usage: hxgen" in result.out
    assert "Exit codes" in hxgen("--help").out


def test_no_command_prints_usage_and_fails(hxgen):
    result = hxgen()
    assert result.code == 2 and "usage: hxgen" in result.err


def test_validate_defaults_to_hx_yaml_in_the_current_directory(hxgen, project):
    result = hxgen("validate", cwd=project)
    assert result.code == 0
    assert result.out == ""
    assert result.err == "hx.yaml: ok: 0 errors, 0 warnings\n"


def test_missing_file_is_a_usage_error(hxgen, tmp_path):
    result = hxgen("validate", cwd=tmp_path)
    assert result.code == 2
    assert "hx.yaml: error[unreadable]" in result.err and "hint:" in result.err


def test_errors_exit_1_with_positions_on_stderr(hxgen, project, spec_data):
    spec_data["models"][0]["port"] = 0
    (project / "hx.yaml").write_text(dump_yaml(spec_data))
    result = hxgen("validate", "hx.yaml", cwd=project)
    assert result.code == 1 and result.out == ""
    line = next(ln for ln in result.err.splitlines() if "error[" in ln)
    file, lineno, col, rest = line.split(":", 3)
    assert file == "hx.yaml" and int(lineno) > 1 and int(col) >= 1
    assert "error[out-of-range]: models[0].port" in rest


def test_strict_turns_warnings_into_failure(hxgen, project, spec_data):
    spec_data["models"][0]["source"]["revision"] = "main"
    (project / "hx.yaml").write_text(dump_yaml(spec_data))
    assert hxgen("validate", cwd=project).code == 0
    strict = hxgen("validate", "--strict", cwd=project)
    assert strict.code == 1 and "warning[unpinned-revision]" in strict.err
    assert hxgen("render", "--strict", cwd=project).code == 1
    assert not (project / "inventory").exists()


def test_json_format_is_data_on_stdout(hxgen, project, spec_data):
    spec_data["models"][0]["engine"] = "vlm"
    (project / "hx.yaml").write_text(dump_yaml(spec_data))
    result = hxgen("validate", "--format", "json", cwd=project)
    assert result.code == 1
    document = json.loads(result.out)
    assert document["ok"] is False and document["errors"] == 1
    diag, skipped = document["diagnostics"]
    assert diag["code"] == "invalid-choice" and diag["path"] == "models[0].engine"
    assert diag["hint"] == "did you mean 'vllm'?" and diag["line"] > 1
    # The checks that read models wait for the fix, and the document says so, about the whole file.
    assert (skipped["severity"], skipped["code"], skipped["line"]) == ("note", "checks-skipped", None)
    assert "read models" in skipped["message"]


def test_render_writes_then_is_idempotent(hxgen, project):
    first = hxgen("render", cwd=project)
    assert first.code == 0
    written = {line.split(" ", 1)[1] for line in first.out.splitlines()}
    assert "inventory/hosts.yml" in written
    assert "rendered/systemd/hx-model-phi-3-mini.service" in written
    second = hxgen("render", cwd=project)
    assert second.code == 0 and second.out == ""
    assert "0 written, 0 removed" in second.err
    assert hxgen("render", "--check", cwd=project).code == 0


def test_check_reports_a_diff_and_exit_3_when_stale(hxgen, project):
    hxgen("render", cwd=project)
    unit = project / "rendered/systemd/hx-model-phi-3-mini.service"
    unit.write_text(unit.read_text().replace("RestartSec=5", "RestartSec=50"))
    result = hxgen("render", "--check", cwd=project)
    assert result.code == 3
    assert "-RestartSec=50" in result.out and "+RestartSec=5" in result.out
    assert "stale" in result.err and "hxgen render" in result.err
    assert "RestartSec=50" in unit.read_text()  # --check writes nothing


def test_stale_generated_files_are_pruned_but_hand_written_ones_kept(hxgen, project):
    hxgen("render", cwd=project)
    (project / "rendered/systemd/hx-model-old.service").write_text("old\n")
    hand_written = project / "inventory/host_vars/gpu-host.yml"
    hand_written.parent.mkdir(parents=True)
    hand_written.write_text("ansible_port: 2222\n")
    check = hxgen("render", "--check", cwd=project)
    assert check.code == 3 and "a/rendered/systemd/hx-model-old.service" in check.out
    result = hxgen("render", cwd=project)
    assert "removed rendered/systemd/hx-model-old.service" in result.out
    assert not (project / "rendered/systemd/hx-model-old.service").exists()
    assert hand_written.read_text() == "ansible_port: 2222\n"


def test_render_to_another_directory(hxgen, project, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    assert hxgen("render", project / "hx.yaml", "--out", out).code == 0
    assert (out / "inventory/hosts.yml").is_file()
    assert not (project / "inventory").exists()


def test_render_refuses_an_invalid_spec_and_writes_nothing(hxgen, project, spec_data):
    spec_data["models"][0]["gpus"] = [5]
    (project / "hx.yaml").write_text(dump_yaml(spec_data))
    result = hxgen("render", cwd=project)
    assert result.code == 1 and "error[unknown-reference]" in result.err
    assert not (project / "inventory").exists()


def test_output_is_reproducible_across_processes(tmp_path):
    """Two processes with different hash seeds write the same bytes: one process rendering twice
    would hide output that follows the iteration order of a set or of a dict of strings."""
    trees = []
    for seed in ("1", "2"):
        out = tmp_path / f"run{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "hxgen", "render", str(ROOT / "hx.yaml"), "--out", str(out)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        trees.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert trees[0] == trees[1] and len(trees[0]) > 10


def test_schema_command(hxgen, tmp_path):
    target = tmp_path / "hx.schema.json"
    assert hxgen("schema", "--out", target).code == 0
    schema = json.loads(target.read_text())
    assert schema["title"].startswith("hx spec") and "models" in schema["properties"]
    assert hxgen("schema", "--out", target, "--check").code == 0
    target.write_text("{}\n")
    assert hxgen("schema", "--out", target, "--check").code == 3
    assert json.loads(hxgen("schema", "--out", "-").out) == schema
