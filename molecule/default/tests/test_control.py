"""The control plane on the converged sandbox (testinfra): a key made through the management API
works at the gateway within seconds and without a converge, a revoked one stops working as fast,
and both changes are in the audit log. Keys are made with `hxgen keys --host`, the CLI an
operator uses, which talks to hx-control through the generated client."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_sandbox import GATEWAY, SANDBOX_SPEC, call, tls  # noqa: F401  (tls is a fixture)

from hxgen.contracts import control

PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ca_file(host, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("control-ca") / "ca.crt"
    path.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    return path


@pytest.fixture(scope="module")
def admin_key_file() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "keys" / "sandbox-admin.key"


def hxgen_keys(ca_file: Path, admin_key_file: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        str(PROJECT / ".venv/bin/hxgen"), "keys", *args, "--host", GATEWAY,
        "--api-key-file", str(admin_key_file), "--ca-file", str(ca_file), str(SANDBOX_SPEC),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def answer_within(context, secret: str, wanted: int, deadline_s: float) -> float | None:
    """Seconds until the gateway answers `wanted` to the key, or None if it did not in time."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if models_status(context, secret) == wanted:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def models_status(context, secret: str) -> int:
    request = urllib.request.Request(GATEWAY + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_service_and_the_reload_path_unit_are_active_on_loopback_only(host):
    assert host.service("hx-control").is_running and host.service("hx-control").is_enabled
    assert host.service(control.RELOAD_PATH_UNIT.removesuffix(".path") + ".path").is_enabled
    assert host.socket("tcp://127.0.0.1:9747").is_listening
    assert not host.socket("tcp://0.0.0.0:9747").is_listening


def test_the_inventorys_keys_are_on_the_host_and_no_hash_is_shown(tls):  # noqa: F811
    status, body, _ = call(tls, f"{control.API_PREFIX}/v1/keys")
    assert status == 200, body
    keys = json.loads(body)
    tenants = {k["tenant"] for k in keys if k["origin"] == control.ORIGIN_INVENTORY}
    assert {"sandbox-admin", "sandbox-user", "sandbox-quota"} <= tenants
    assert "sha256" not in body.decode()


def test_a_key_made_through_the_api_works_within_seconds_and_a_revoked_one_stops(
    tls,  # noqa: F811
    ca_file,
    admin_key_file,
):
    made = hxgen_keys(ca_file, admin_key_file, "create", "--tenant", "sandbox-user", "--note", "verify")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    accepted = answer_within(tls, secret, 200, deadline_s=control.RELOAD_WITHIN_S)
    assert accepted is not None, "the new key was not accepted within 5 s"
    key_id = secret.split("-")[1]
    revoked = hxgen_keys(ca_file, admin_key_file, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = answer_within(tls, secret, 401, deadline_s=control.RELOAD_WITHIN_S)
    assert refused is not None, "the revoked key was still accepted after 5 s"
    print(f"key accepted after {accepted:.2f} s, refused after revoking in {refused:.2f} s")
    status, body, _ = call(tls, f"{control.API_PREFIX}/v1/audit?limit=20")
    assert status == 200, body
    actions = {(r["action"], r["detail"].get("key_id")) for r in json.loads(body)}
    assert {(control.AUDIT_KEY_CREATED, key_id), (control.AUDIT_KEY_REVOKED, key_id)} <= actions


def test_a_user_sees_only_its_own_tenant_and_cannot_make_keys(tls):  # noqa: F811
    status, body, _ = call(tls, f"{control.API_PREFIX}/v1/tenants", tenant="sandbox-user")
    assert status == 200, body
    assert [t["name"] for t in json.loads(body)] == ["sandbox-user"]
    status, _, _ = call(tls, f"{control.API_PREFIX}/v1/keys", {"tenant": "sandbox-user"}, tenant="sandbox-user")
    assert status == 403
