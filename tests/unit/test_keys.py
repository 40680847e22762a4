"""hxgen.keys: key format, hashing, and a keys file that every YAML reader reads back the same."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import stat

import pytest

from hxgen import keys
from hxgen.keys import KeyEntry, KeysFileError

DAY = dt.date(2026, 11, 26)
HASH = "a" * 64


def entry(key_id: str = "3f9a2c1b", tenant: str = "product-chat", **fields) -> KeyEntry:
    return KeyEntry(**{"id": key_id, "tenant": tenant, "sha256": HASH, "created": DAY, **fields})


def test_new_key_has_the_documented_form_and_is_random():
    key_id, key = keys.new_key()
    assert re.fullmatch(r"[0-9a-f]{8}", key_id)
    assert key.startswith(f"hx-{key_id}-") and len(key) >= len("hx-12345678-") + 43
    assert keys.new_key()[1] != key


def test_new_key_avoids_ids_already_in_the_file(monkeypatch):
    ids = iter(["11111111", "11111111", "2222aaaa"])
    monkeypatch.setattr(keys.secrets, "token_hex", lambda _n: next(ids))
    key_id, key = keys.new_key({"11111111"})
    assert key_id == "2222aaaa" and key.startswith("hx-2222aaaa-")


def test_hash_is_the_sha256_of_the_whole_key():
    assert keys.hash_key("hx-3f9a2c1b-secret") == hashlib.sha256(b"hx-3f9a2c1b-secret").hexdigest()


def test_rendered_file_has_the_documented_layout():
    text = keys.render([entry(expires=dt.date(2027, 2, 24), note="for the chat team"), entry("0a0b0c0d")])
    assert text == (
        keys.HEADER + "gateway_api_keys:\n"
        "  - id: 3f9a2c1b\n"
        "    tenant: product-chat\n"
        f"    sha256: {HASH}\n"
        '    created: "2026-11-26"\n'
        '    expires: "2027-02-24"\n'
        '    note: "for the chat team"\n'
        "  - id: 0a0b0c0d\n"
        "    tenant: product-chat\n"
        f"    sha256: {HASH}\n"
        '    created: "2026-11-26"\n'
        "    expires: null\n"
    )
    assert text.startswith("# API keys of the hx gateway: SHA-256 hashes only")


def test_an_empty_file_is_an_empty_list(tmp_path):
    assert keys.render([]).endswith("gateway_api_keys: []\n")
    assert keys.parse(keys.render([]), tmp_path / "k.yml") == []
    assert keys.parse("# only a comment\n", tmp_path / "k.yml") == []


TRICKY = [
    # ids and tenants that YAML would read as numbers or booleans if written plainly
    entry("12345678"),
    entry("0b101010"),
    entry("1e100000"),
    entry("00012345"),
    entry("deadbeef", tenant="no"),
    entry("cafe0001", tenant="on"),
    entry("cafe0002", note='quotes " and \\ backslash, line\nbreak, tab\t, é, \u2028, \x7f, 😀'),
]


def test_tricky_values_survive_a_round_trip(tmp_path):
    assert keys.parse(keys.render(TRICKY), tmp_path / "k.yml") == TRICKY


def test_ansible_reads_ids_and_tenants_as_strings():
    yaml = pytest.importorskip("yaml")  # PyYAML, YAML 1.1: what Ansible uses
    data = yaml.safe_load(keys.render(TRICKY))["gateway_api_keys"]
    assert [(d["id"], d["tenant"]) for d in data] == [(e.id, e.tenant) for e in TRICKY]
    assert data[-1]["note"] == TRICKY[-1].note
    assert data[0]["expires"] is None and data[0]["created"] == "2026-11-26"


def test_save_then_load(tmp_path):
    path = tmp_path / "inventory" / "api-keys.yml"
    entries = [entry(), entry("0a0b0c0d", expires=dt.date(2027, 1, 1), note="n")]
    keys.save_entries(path, entries)
    assert keys.load_entries(path) == entries
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["api-keys.yml"]  # no temp file left


def test_save_replaces_a_readable_file_with_a_private_one(tmp_path):
    path = tmp_path / "api-keys.yml"
    path.write_text("gateway_api_keys: []\n")
    path.chmod(0o644)
    keys.save_entries(path, [entry()])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.load_entries(path) == [entry()]


def test_a_missing_file_has_no_entries(tmp_path):
    assert keys.load_entries(tmp_path / "nope.yml") == []


def test_unquoted_dates_written_by_hand_are_accepted(tmp_path):
    text = f"gateway_api_keys:\n- {{id: 3f9a2c1b, tenant: a, sha256: {HASH}, created: 2026-11-26, expires: 2027-01-01}}"
    (parsed,) = keys.parse(text, tmp_path / "k.yml")
    assert parsed.created == DAY and parsed.expires == dt.date(2027, 1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gateway_api_keys: {}\n", "expected a mapping with a 'gateway_api_keys' list"),
        ("- 1\n", "expected a mapping"),
        ("gateway_api_keys: [1]\n", "gateway_api_keys[0]: expected a mapping"),
        (f"gateway_api_keys: [{{id: 3F9A2C1B, tenant: a, sha256: {HASH}, created: '2026-11-26'}}]", "'id' must be"),
        ("gateway_api_keys: [{id: 3f9a2c1b, tenant: a, sha256: abc, created: '2026-11-26'}]", "'sha256' must be"),
        (f"gateway_api_keys: [{{id: 3f9a2c1b, tenant: a, sha256: {HASH}, created: soon}}]", "'created' must be a date"),
        (f"gateway_api_keys: [{{id: 3f9a2c1b, tenant: a, sha256: {HASH}, created: x, key: k}}]", "unknown field 'key'"),
        (
            f"gateway_api_keys:\n- {{id: 3f9a2c1b, tenant: a, sha256: {HASH}, created: '2026-11-26'}}\n"
            f"- {{id: 3f9a2c1b, tenant: b, sha256: {HASH}, created: '2026-11-26'}}\n",
            "key id '3f9a2c1b' appears twice",
        ),
        ("gateway_api_keys: [\n", "not valid YAML"),
    ],
)
def test_malformed_files_are_reported_not_guessed(tmp_path, text, message):
    with pytest.raises(KeysFileError, match=re.escape(message)) as raised:
        keys.parse(text, tmp_path / "k.yml")
    assert str(tmp_path / "k.yml") in str(raised.value) and raised.value.hint


def test_status():
    tenants = {"product-chat"}
    assert entry().status(tenants, DAY) == keys.OK
    assert entry(expires=DAY + dt.timedelta(days=1)).status(tenants, DAY) == keys.OK
    assert entry(expires=DAY).status(tenants, DAY) == keys.EXPIRED  # the expiry day is the first day it fails
    assert entry(tenant="gone").status(tenants, DAY) == keys.UNKNOWN_TENANT


def test_vaulted_file_without_ansible_vault_is_an_error_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = tmp_path / "api-keys.yml"
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    with pytest.raises(KeysFileError, match="ansible-vault is not on PATH") as raised:
        keys.load_entries(path)
    assert "install" in raised.value.hint


def test_a_failed_encryption_leaves_the_old_file_and_no_plaintext(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = tmp_path / "api-keys.yml"
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    with pytest.raises(KeysFileError, match="cannot encrypt"):
        keys.save_entries(path, [entry()])
    assert [p.name for p in tmp_path.iterdir()] == ["api-keys.yml"]
    assert path.read_text() == "$ANSIBLE_VAULT;1.1;AES256\n3132\n"
