"""Roles and playbooks: the variable contract with hxgen, ansible-lint, and syntax checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT
from ruamel.yaml import YAML

from hxgen.pipeline import render_file

SPECS = [ROOT / "hx.yaml", ROOT / "sandbox/hx.yaml", *sorted((DATA / "cases").glob("*/hx.yaml"))]
SPEC_IDS = [str(p.relative_to(ROOT)) for p in SPECS]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
# Helper roles are not components: no playbook applies them, service roles call their entry points
# with include_role (tasks_from:), and they have no main entry point, configure, service or handlers.
HELPER_ROLES = {"hx_wheel": ["preflight", "install"]}
COMPONENT_ROLES = [role for role in ROLES if role not in HELPER_ROLES]
BIN = Path(sys.executable).parent


def _yaml(path: Path):
    return YAML(typ="safe", pure=True).load(path.read_text())


def role_options(role: str) -> dict[str, dict]:
    """The options of every entry point of a role (a component role has only main)."""
    specs = _yaml(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]
    return {name: option for entry in specs.values() for name, option in entry.get("options", {}).items()}


def emitted_vars(spec: Path) -> dict[str, object]:
    """Every variable hxgen puts in group_vars for this spec."""
    variables: dict[str, object] = {}
    for artifact in render_file(spec).artifacts:
        if "/group_vars/" in artifact.path:
            variables |= YAML(typ="safe", pure=True).load(artifact.text)
    return variables


def test_every_role_has_the_house_anatomy():
    expected = {
        "README.md",
        "defaults/main.yml",
        "meta/main.yml",
        "meta/argument_specs.yml",
        "tasks/main.yml",
        "tasks/preflight.yml",
        "tasks/install.yml",
        "tasks/configure.yml",
        "tasks/service.yml",
        "handlers/main.yml",
    }
    assert len(COMPONENT_ROLES) >= 12
    for role in COMPONENT_ROLES:
        present = {p.relative_to(ROOT / "roles" / role).as_posix() for p in (ROOT / "roles" / role).rglob("*")}
        assert expected <= present, f"{role} lacks {sorted(expected - present)}"


def test_every_helper_role_has_the_anatomy_of_its_entry_points():
    for role, entry_points in HELPER_ROLES.items():
        present = {p.relative_to(ROOT / "roles" / role).as_posix() for p in (ROOT / "roles" / role).rglob("*")}
        expected = {"README.md", "defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml"}
        expected |= {f"tasks/{entry}.yml" for entry in entry_points}
        assert expected <= present, f"{role} lacks {sorted(expected - present)}"
        specs = _yaml(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]
        assert sorted(specs) == sorted(entry_points), role
        names = {name for entry in specs.values() for name in entry.get("options", {})}
        assert all(name.startswith(f"{role}_") for name in names), role


def test_helper_roles_are_called_and_never_components():
    tasks = "".join(p.read_text() for p in (ROOT / "roles").glob("*/tasks/*.yml"))
    playbooks = "".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    for role in HELPER_ROLES:
        assert f"name: {role}" in tasks, f"no role includes {role}"
        assert f"role: {role}" not in playbooks, f"{role} is a helper, not a component"
        for spec in SPECS:
            assert role not in emitted_vars(spec)["hx_components"], (role, spec)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_emitted_variable_is_declared_by_a_role(spec):
    declared = {name for role in ROLES for name in role_options(role)}
    undeclared = sorted(set(emitted_vars(spec)) - declared)
    assert undeclared == [], "declare these in a role's meta/argument_specs.yml"


def roles_applied_everywhere() -> set[str]:
    """Roles a playbook applies without a `when`: Ansible validates their arguments on every host."""
    return {
        entry["role"]
        for playbook in (ROOT / "playbooks").glob("*.yml")
        for play in _yaml(playbook)
        for entry in play.get("roles", [])
        if isinstance(entry, dict) and "when" not in entry
    }


def test_the_nvidia_role_is_applied_on_every_host():
    assert "nvidia" in roles_applied_everywhere()


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_required_variable_of_a_used_role_is_emitted(spec):
    variables = emitted_vars(spec)
    missing = {
        role: sorted(
            name for name, option in role_options(role).items() if option.get("required") and name not in variables
        )
        for role in {*variables["hx_components"], *roles_applied_everywhere()}
    }
    assert {role: names for role, names in missing.items() if names} == {}


def test_playbooks_name_every_component_role():
    playbooks = "".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    for role in COMPONENT_ROLES:
        assert f"role: {role}" in playbooks, role


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }


def test_ansible_lint_production_profile_passes():
    result = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "roles", "playbooks", "molecule"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]


def test_site_playbook_passes_syntax_check_against_the_sandbox_inventory():
    # --syntax-check parses and resolves roles without connecting to any host.
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "sandbox/inventory", "playbooks/site.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
