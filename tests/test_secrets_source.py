"""security.secrets.source with the real ansible-playbook: playbooks/secrets.yml on localhost.

ansible-vault: a vault file in plain text is refused with a message that says what to do, and an
encrypted one is loaded; files: the vault file is not read at all. In every case the marker
value in the vault never appears in the output, even at -v.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MARKER = "hx-marker-5f1c0ffee"
PASSWORD = "correct horse battery staple\n"


def _project(tmp_path: Path, source: str) -> Path:
    inventory = tmp_path / "inventory"
    (inventory / "group_vars/hx").mkdir(parents=True)
    hosts = {
        "all": {
            "children": {
                "hx": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                    }
                }
            }
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    group = {"hx_vault_file": "secrets.vault.yml", "hx_api_keys_file": "api-keys.yml", "hx_secrets_source": source}
    (inventory / "group_vars/hx/hx.yml").write_text(yaml.safe_dump(group))
    (inventory / "secrets.vault.yml").write_text(yaml.safe_dump({"alertmanager_secrets": {"pagerduty_key": MARKER}}))
    (tmp_path / "vault-pass").write_text(PASSWORD)
    # The real playbook, then a play that says (without printing the value) what was loaded.
    check = {
        "name": "What was loaded",
        "hosts": "hx",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Report",
                "ansible.builtin.debug": {
                    "msg": "loaded={{ (alertmanager_secrets | default({})).get('pagerduty_key') == '" + MARKER + "' }}"
                },
            }
        ],
    }
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump([{"ansible.builtin.import_playbook": str(ROOT / "playbooks/secrets.yml")}, check])
    )
    return tmp_path


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_VAULT_PASSWORD_FILE": str(project / "vault-pass"),
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-v", "-i", str(project / "inventory"), str(project / "test.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
    )


def _encrypt(project: Path) -> None:
    subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(project / "vault-pass"),
            "secrets.vault.yml",
        ],
        cwd=project / "inventory",
        check=True,
        capture_output=True,
    )


@pytest.fixture
def tools():
    for name in ("ansible-playbook", "ansible-vault"):
        assert (BIN / name).exists(), f"{name} is not installed; run the README's test set-up"


def test_a_plain_text_vault_is_refused_with_what_to_do(tmp_path, tools):
    project = _project(tmp_path, "ansible-vault")
    result = _run(project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "secrets.vault.yml is not encrypted" in output
    assert "ansible-vault encrypt secrets.vault.yml" in output
    assert "loaded=" not in output  # nothing after the refusal ran
    assert MARKER not in output


def test_an_encrypted_vault_is_loaded_and_its_values_never_printed(tmp_path, tools):
    project = _project(tmp_path, "ansible-vault")
    _encrypt(project)
    assert (project / "inventory/secrets.vault.yml").read_text().startswith("$ANSIBLE_VAULT;")
    result = _run(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "loaded=True" in output
    assert MARKER not in output


def test_with_source_files_the_vault_is_not_read(tmp_path, tools):
    project = _project(tmp_path, "files")  # plain text, and it does not matter: nothing reads it
    result = _run(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "loaded=False" in output
    assert MARKER not in output
