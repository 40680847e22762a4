"""`hxgen tls rotate-ca`: the state file the gateway role reads, its overlap and its refusals."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT
from ruamel.yaml import YAML

from hxgen import tls_ca

CA_FILE = Path("inventory/tls-ca.yml")
TODAY = dt.datetime.now(dt.UTC).date()  # the host's script compares UTC dates


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The sandbox spec (gateway.tls.mode internal-ca), as the current directory."""
    shutil.copy(ROOT / "sandbox" / "hx.yaml", tmp_path / "hx.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def variables(project: Path) -> dict:
    """What Ansible's include_vars sees (a YAML 1.1 reader: the date must stay a string)."""
    return YAML(typ="safe", pure=True).load((project / CA_FILE).read_text())


def test_rotate_ca_raises_the_generation_and_sets_the_overlap(hxgen, project):
    result = hxgen("tls", "rotate-ca", "--overlap-days", "14")
    assert result.code == 0, result.err
    until = (TODAY + dt.timedelta(days=14)).isoformat()
    assert json.loads(result.out) == {"generation": 2, "overlap_until": until, "in_overlap": True}
    assert variables(project) == {"gateway_tls_ca_generation": 2, "gateway_tls_ca_overlap_until": until}
    text = (project / CA_FILE).read_text()
    assert f"gateway_tls_ca_overlap_until: '{until}'" in text  # quoted: a str for argument_specs
    assert "playbooks/site.yml --tags gateway" in result.err
    assert json.loads(hxgen("tls", "status").out)["generation"] == 2


def test_a_second_rotation_during_the_overlap_needs_force(hxgen, project):
    assert hxgen("tls", "rotate-ca").code == 0
    refused = hxgen("tls", "rotate-ca")
    assert refused.code == 1 and "--force" in refused.err
    assert variables(project)["gateway_tls_ca_generation"] == 2
    forced = hxgen("tls", "rotate-ca", "--force", "--overlap-days", "0")
    assert forced.code == 0
    assert variables(project) == {"gateway_tls_ca_generation": 3, "gateway_tls_ca_overlap_until": None}


def test_an_ended_overlap_allows_the_next_rotation(hxgen, project):
    tls_ca.save(project / CA_FILE, tls_ca.CaState(4, TODAY))  # ends today: over
    assert hxgen("tls", "rotate-ca").code == 0
    assert variables(project)["gateway_tls_ca_generation"] == 5


def test_rotate_ca_refuses_a_spec_without_an_internal_ca(hxgen, project):
    spec = (project / "hx.yaml").read_text().replace("tls: {mode: internal-ca}", 'tls: {mode: "off"}')
    (project / "hx.yaml").write_text(spec)
    result = hxgen("tls", "rotate-ca")
    assert result.code == 1 and "no internal CA to rotate" in result.err
    assert not (project / CA_FILE).exists()


@pytest.mark.parametrize("days", ["-1", "x", "3651"])
def test_bad_overlap_days_are_usage_errors(hxgen, project, days):
    assert hxgen("tls", "rotate-ca", "--overlap-days", days).code == 2


@pytest.mark.parametrize(
    "text",
    ["gateway_tls_ca_generation: 0\n", "gateway_tls_ca_overlap_until: soon\n", "other: 1\n", "[1, 2]\n", "a: [\n"],
)
def test_a_damaged_state_file_is_reported_not_overwritten(hxgen, project, text):
    path = project / CA_FILE
    path.parent.mkdir()
    path.write_text(text)
    result = hxgen("tls", "rotate-ca")
    assert result.code == 2 and str(CA_FILE) in result.err and "hint:" in result.err
    assert path.read_text() == text


def test_no_state_file_is_generation_1(hxgen, project):
    assert json.loads(hxgen("tls", "status").out) == {"generation": 1, "overlap_until": None, "in_overlap": False}
