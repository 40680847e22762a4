"""`hxgen keys`: a key is printed once, only its hash is kept, and the file stays private (and vaulted)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from hxgen import keys

KEYS_FILE = Path("inventory/api-keys.yml")
TODAY = dt.datetime.now(dt.UTC).date()  # expiry dates are UTC days
PLAYBOOK = "ansible-playbook -i inventory playbooks/site.yml --tags gateway"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The sandbox spec (tenants sandbox-admin and sandbox-user), as the current directory."""
    shutil.copy(ROOT / "sandbox" / "hx.yaml", tmp_path / "hx.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stored(project: Path) -> list[dict]:
    return [e.as_dict() for e in keys.load_entries(project / KEYS_FILE)]


def create(hxgen, *args: str):
    return hxgen("keys", "create", "--tenant", "sandbox-user", *args)


def test_create_prints_only_the_key_and_stores_only_its_hash(hxgen, project):
    result = create(hxgen, "--note", "for alice")
    assert result.code == 0
    key = result.out.removesuffix("\n")
    assert result.out == key + "\n" and key.startswith("hx-")
    (entry,) = stored(project)
    assert entry["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(f"hx-{entry['id']}-")
    assert entry | {"sha256": None} == {
        "id": entry["id"],
        "tenant": "sandbox-user",
        "sha256": None,
        "created": TODAY.isoformat(),
        "expires": None,
        "note": "for alice",
    }
    text = (project / KEYS_FILE).read_text()
    assert key not in text and key.split("-", 2)[2] not in text
    assert text.startswith("# API keys of the hx gateway: SHA-256 hashes only")
    assert f"key {entry['id']} for tenant sandbox-user stored as a hash in {KEYS_FILE}" in result.err
    assert "never expires" in result.err and "not shown again" in result.err and PLAYBOOK in result.err


def test_keys_file_and_new_directory_are_private(hxgen, project):
    assert create(hxgen).code == 0
    assert stat.S_IMODE((project / KEYS_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((project / "inventory").stat().st_mode) == 0o700


def test_each_key_is_new_and_entries_keep_creation_order(hxgen, project):
    first = create(hxgen).out
    second = hxgen("keys", "create", "--tenant", "sandbox-admin").out
    assert first != second
    assert [e["tenant"] for e in stored(project)] == ["sandbox-user", "sandbox-admin"]
    assert [e["sha256"] for e in stored(project)] == [keys.hash_key(k.strip()) for k in (first, second)]


def test_keys_file_sits_in_the_inventory_beside_the_spec(hxgen, project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert hxgen("keys", "create", "--tenant", "sandbox-user", project / "hx.yaml", cwd=elsewhere).code == 0
    assert (project / KEYS_FILE).is_file() and not (elsewhere / "inventory").exists()
    custom = elsewhere / "secrets" / "keys.yml"
    result = hxgen("keys", "create", "--tenant", "sandbox-user", "--keys-file", custom, project / "hx.yaml")
    assert result.code == 0 and custom.is_file() and len(stored(project)) == 1
    listed = hxgen("keys", "list", "--format", "json", "--keys-file", custom, project / "hx.yaml")
    assert [e["sha256"] for e in json.loads(listed.out)] == [keys.hash_key(result.out.strip())]


def test_unknown_tenant_fails_with_the_known_ones_and_a_suggestion(hxgen, project):
    result = hxgen("keys", "create", "--tenant", "sandbox-usr")
    assert result.code == 1 and result.out == ""
    assert "no tenant 'sandbox-usr'" in result.err and "sandbox-admin, sandbox-user" in result.err
    assert "did you mean 'sandbox-user'?" in result.err
    assert not (project / KEYS_FILE).exists()


def test_an_invalid_spec_is_reported_and_nothing_is_written(hxgen, project):
    spec = project / "hx.yaml"
    spec.write_text(spec.read_text().replace("tier: standard}", "tier: gold}", 1))
    result = create(hxgen)
    assert result.code == 1 and result.out == ""
    assert "hx.yaml:" in result.err and "error[" in result.err and "failed" in result.err
    assert not (project / KEYS_FILE).exists()
    assert hxgen("keys", "list").code == 1


def test_a_missing_spec_is_a_usage_error(hxgen, tmp_path):
    result = hxgen("keys", "create", "--tenant", "x", cwd=tmp_path)
    assert result.code == 2 and "hx.yaml: error[unreadable]" in result.err


def test_days_and_expires_set_the_expiry(hxgen, project):
    in_90_days = (TODAY + dt.timedelta(days=90)).isoformat()
    result = create(hxgen, "--days", "90")
    assert result.code == 0 and f"(expires {in_90_days})" in result.err
    assert create(hxgen, "--expires", "2999-12-31").code == 0
    assert [e["expires"] for e in stored(project)] == [in_90_days, "2999-12-31"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expires", TODAY.isoformat()], "is not in the future"),
        (["--expires", "2001-01-01"], "is not in the future"),
        (["--expires", "2027-02-30"], "is not a date YYYY-MM-DD"),
        (["--expires", "20270224"], "is not a date YYYY-MM-DD"),
        (["--days", "0"], "at least 1"),
        (["--days", "-3"], "at least 1"),
        (["--days", "²"], "at least 1"),
        (["--expires", "2027-W08-1"], "is not a date YYYY-MM-DD"),
        (["--days", "999999999"], "past the end of the calendar"),
        (["--days", "3", "--expires", "2999-01-01"], "not allowed with"),
        (["--note", "two\nlines"], "one line"),
    ],
)
def test_bad_expiry_and_notes_are_usage_errors(hxgen, project, args, message):
    result = create(hxgen, *args)
    assert result.code == 2 and result.out == ""
    assert message in result.err and "Traceback" not in result.err
    assert not (project / KEYS_FILE).exists()


def write_entries(project: Path) -> None:
    keys.save_entries(
        project / KEYS_FILE,
        [
            keys.KeyEntry("0000aaaa", "sandbox-user", "1" * 64, dt.date(2020, 1, 1), dt.date(2020, 3, 1)),
            keys.KeyEntry("0000bbbb", "sandbox-admin", "2" * 64, dt.date(2020, 1, 2), None, "ops laptop"),
            keys.KeyEntry("0000cccc", "retired-team", "3" * 64, dt.date(2020, 1, 3), dt.date(2999, 1, 1)),
        ],
    )


def test_list_text_shows_status_and_never_hashes(hxgen, project):
    write_entries(project)
    result = hxgen("keys", "list")
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split() == ["ID", "TENANT", "CREATED", "EXPIRES", "STATUS", "NOTE"]
    assert [row.split() for row in rows] == [
        ["0000aaaa", "sandbox-user", "2020-01-01", "2020-03-01", "expired"],
        ["0000bbbb", "sandbox-admin", "2020-01-02", "never", "ok", "ops", "laptop"],
        ["0000cccc", "retired-team", "2020-01-03", "2999-01-01", "unknown-tenant"],
    ]
    for digit in "123":
        assert digit * 16 not in result.out


def test_list_json_has_entries_with_status(hxgen, project):
    write_entries(project)
    result = hxgen("keys", "list", "--format", "json")
    assert result.code == 0
    document = json.loads(result.out)
    assert [(e["id"], e["status"]) for e in document] == [
        ("0000aaaa", "expired"),
        ("0000bbbb", "ok"),
        ("0000cccc", "unknown-tenant"),
    ]
    assert document[1] == {
        "id": "0000bbbb",
        "tenant": "sandbox-admin",
        "sha256": "2" * 64,
        "created": "2020-01-02",
        "expires": None,
        "note": "ops laptop",
        "status": "ok",
    }


def test_list_without_a_keys_file_lists_nothing(hxgen, project):
    text = hxgen("keys", "list")
    assert text.code == 0 and text.out == "" and "no API keys" in text.err
    assert json.loads(hxgen("keys", "list", "--format", "json").out) == []
    assert not (project / KEYS_FILE).exists()


def test_revoke_removes_the_key_and_says_how_to_apply_it(hxgen, project):
    write_entries(project)
    result = hxgen("keys", "revoke", "0000bbbb")
    assert result.code == 0 and result.out == ""
    assert "0000bbbb" in result.err and "revoked" in result.err and PLAYBOOK in result.err
    assert [e["id"] for e in stored(project)] == ["0000aaaa", "0000cccc"]
    assert "2" * 64 not in (project / KEYS_FILE).read_text()
    assert stat.S_IMODE((project / KEYS_FILE).stat().st_mode) == 0o600


def test_revoke_an_unknown_id_fails_with_the_known_ids(hxgen, project):
    write_entries(project)
    before = (project / KEYS_FILE).read_text()
    result = hxgen("keys", "revoke", "0000bbbc")
    assert result.code == 1
    assert "no key '0000bbbc'" in result.err and "0000aaaa, 0000bbbb, 0000cccc" in result.err
    assert "did you mean '0000bbbb'?" in result.err
    assert (project / KEYS_FILE).read_text() == before


def test_revoke_works_while_the_spec_is_broken(hxgen, project):
    write_entries(project)
    (project / "hx.yaml").write_text("version: hx/v1\nhost: [\n")
    assert hxgen("keys", "revoke", "0000aaaa").code == 0
    assert [e["id"] for e in stored(project)] == ["0000bbbb", "0000cccc"]


def test_playbook_hint_names_the_spec_inventory(hxgen, project, tmp_path_factory):
    write_entries(project)
    result = hxgen("keys", "revoke", "0000aaaa", project / "hx.yaml", cwd=tmp_path_factory.mktemp("x"))
    assert f"ansible-playbook -i {project / 'inventory'} playbooks/site.yml --tags gateway" in result.err


def test_a_corrupt_keys_file_is_a_usage_error_not_a_traceback(hxgen, project):
    (project / "inventory").mkdir()
    (project / KEYS_FILE).write_text("gateway_api_keys:\n  - id: [\n")
    for args in (["list"], ["revoke", "0000aaaa"], ["create", "--tenant", "sandbox-user"]):
        result = hxgen("keys", *args)
        assert result.code == 2 and result.out == ""
        assert f"{KEYS_FILE}: not valid YAML" in result.err and "hint:" in result.err
    assert (project / KEYS_FILE).read_text() == "gateway_api_keys:\n  - id: [\n"


def test_help_says_where_the_keys_are_and_how_they_reach_the_gateway(hxgen):
    group = hxgen("keys", "--help")
    assert group.code == 0
    assert "inventory/api-keys.yml" in group.out and "SHA-256" in group.out and PLAYBOOK in group.out
    for command in ("create", "list", "revoke"):
        result = hxgen("keys", command, "--help")
        assert result.code == 0 and f"usage: hxgen keys {command}" in result.out and "--keys-file" in result.out
    assert "keys" in hxgen("--help").out
    bare = hxgen("keys")
    assert bare.code == 2 and "usage: hxgen keys" in bare.err


# --- ansible-vault ---------------------------------------------------------------------------

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def vault(project, monkeypatch):
    """ansible-vault on PATH and a password file, as an operator would have them."""
    program = shutil.which("ansible-vault", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if program is None:
        pytest.skip("ansible-vault is not installed")
    monkeypatch.setenv("PATH", f"{Path(program).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    password = project / "vault-pass"
    password.write_text("correct horse battery staple\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))

    def run(*args: str) -> str:
        return subprocess.run(["ansible-vault", *args], check=True, capture_output=True, text=True).stdout

    return run


def test_a_vaulted_keys_file_stays_vaulted(hxgen, project, vault):
    first = create(hxgen).out.strip()
    vault("encrypt", str(KEYS_FILE))
    second = hxgen("keys", "create", "--tenant", "sandbox-admin")
    assert second.code == 0, second.err
    raw = (project / KEYS_FILE).read_text()
    assert raw.startswith("$ANSIBLE_VAULT;") and "sandbox-admin" not in raw
    assert stat.S_IMODE((project / KEYS_FILE).stat().st_mode) == 0o600
    plain = vault("view", str(KEYS_FILE))
    assert keys.hash_key(first) in plain and keys.hash_key(second.out.strip()) in plain
    assert "tenant: sandbox-admin" in plain and second.out.strip() not in plain

    listed = json.loads(hxgen("keys", "list", "--format", "json").out)
    assert [e["tenant"] for e in listed] == ["sandbox-user", "sandbox-admin"]
    assert hxgen("keys", "revoke", listed[0]["id"]).code == 0
    assert (project / KEYS_FILE).read_text().startswith("$ANSIBLE_VAULT;")
    assert listed[0]["id"] not in vault("view", str(KEYS_FILE))
    assert sorted(p.name for p in (project / "inventory").iterdir()) == ["api-keys.yml"]


def test_a_wrong_vault_password_changes_nothing(hxgen, project, vault, monkeypatch):
    create(hxgen)
    vault("encrypt", str(KEYS_FILE))
    before = (project / KEYS_FILE).read_bytes()
    wrong = project / "wrong-pass"
    wrong.write_text("nope\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(wrong))
    result = create(hxgen)
    assert result.code == 2 and result.out == ""
    assert "cannot decrypt" in result.err and "ANSIBLE_VAULT_PASSWORD_FILE" in result.err
    assert (project / KEYS_FILE).read_bytes() == before


def test_a_vaulted_file_needs_ansible_vault_on_path(hxgen, project, monkeypatch):
    (project / "inventory").mkdir()
    (project / KEYS_FILE).write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    monkeypatch.setenv("PATH", str(project / "no-bin"))
    result = hxgen("keys", "list")
    assert result.code == 2
    assert "ansible-vault is not on PATH" in result.err and "hint: install Ansible" in result.err
