"""The control plane on the converged sandbox (testinfra): keys made and revoked through hx-control
reach the gateway without a converge, within the contract's promise, and are audited; a user sees
its own tenant only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from test_audit import records
from test_sandbox import GATEWAY, key, prometheus_query, tls  # noqa: F401  (tls is a fixture)

from hxgen.contracts import control as contract

API = f"{GATEWAY}{contract.API_PREFIX}/v1"


def request(tls, secret: str, method: str, path: str, body: dict | None = None) -> tuple[int, object]:  # noqa: F811
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    req = urllib.request.Request(path if path.startswith("https:") else API + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(req, context=tls, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def status_within(tls, secret: str, wanted: int, seconds: float) -> tuple[int, float]:  # noqa: F811
    """Poll the model list with secret until it answers wanted or the time is up: (last status, elapsed)."""
    start = time.monotonic()
    while True:
        status, _ = request(tls, secret, "GET", f"{GATEWAY}/v1/models")
        elapsed = time.monotonic() - start
        if status == wanted or elapsed > seconds:
            return status, elapsed
        time.sleep(0.1)


def test_the_service_and_the_reload_watch_run(host):
    unit = host.service("hx-control")
    assert unit.is_running and unit.is_enabled
    assert host.run(f"systemctl is-active {contract.RELOAD_PATH_UNIT}").stdout.strip() == "active"
    assert host.socket("tcp://127.0.0.1:9747").is_listening
    assert not host.socket("tcp://0.0.0.0:9747").is_listening


def test_a_key_made_through_the_api_works_at_once_and_a_revoked_one_stops(host, tls):  # noqa: F811
    admin = key("sandbox-admin")
    status, made = request(tls, admin, "POST", "/keys", {"tenant": "sandbox-user", "note": "molecule"})
    assert status == 201, made
    secret, key_id = made["secret"], made["key"]["id"]
    status, elapsed = status_within(tls, secret, 200, contract.RELOAD_WITHIN_S)
    assert status == 200, f"the new key was not accepted within {contract.RELOAD_WITHIN_S} s"
    print(f"new key accepted after {elapsed:.2f} s")

    status, revoked = request(tls, admin, "POST", f"/keys/{key_id}/revoke")
    assert status == 200 and revoked["revoked"], revoked
    status, elapsed = status_within(tls, secret, 401, contract.RELOAD_WITHIN_S)
    assert status == 401, f"the revoked key still worked after {contract.RELOAD_WITHIN_S} s"
    print(f"revoked key refused after {elapsed:.2f} s")

    actions = {(r["action"], r["detail"].get("key_id")) for r in records(host)}
    assert {(contract.AUDIT_KEY_CREATED, key_id), (contract.AUDIT_KEY_REVOKED, key_id)} <= actions


def test_a_burst_of_changes_leaves_the_reload_working(tls):  # noqa: F811
    """Each change waits for its reload, so the reloads come faster than systemd's default start
    limit (5 in 10 s) allows: the reload service must have none."""
    admin = key("sandbox-admin")
    for n in range(8):
        status, made = request(tls, admin, "POST", "/keys", {"tenant": "sandbox-user", "note": f"burst {n}"})
        assert status == 201, made
        status, _ = status_within(tls, made["secret"], 200, contract.RELOAD_WITHIN_S)
        assert status == 200, f"change {n} of the burst was not loaded within {contract.RELOAD_WITHIN_S} s"
        assert request(tls, admin, "POST", f"/keys/{made['key']['id']}/revoke")[0] == 200


def test_hxgen_keys_host_makes_and_revokes_a_key_on_the_live_host(host, tls, tmp_path):  # noqa: F811
    """The operator's command on the controller, through the generated client and the gateway."""
    ca = tmp_path / "ca.crt"
    ca.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    admin_key = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "keys" / "sandbox-admin.key"
    where = ["--host", GATEWAY, "--api-key-file", str(admin_key), "--ca-file", str(ca)]

    def hxgen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hxgen", "keys", *args], capture_output=True, text=True)

    made = hxgen("create", *where, "--tenant", "sandbox-user", "--note", "molecule cli", "--json")
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert status_within(tls, answer["secret"], 200, contract.RELOAD_WITHIN_S)[0] == 200
    revoked = hxgen("revoke", *where, answer["key"]["id"], "--keys-file", str(tmp_path / "none.yml"))
    assert revoked.returncode == 0, revoked.stderr
    assert status_within(tls, answer["secret"], 401, contract.RELOAD_WITHIN_S)[0] == 401


def test_a_user_sees_its_own_tenant_only_and_cannot_make_keys(tls):  # noqa: F811
    user = key("sandbox-user")
    status, tenants = request(tls, user, "GET", "/tenants")
    assert status == 200 and [t["name"] for t in tenants] == ["sandbox-user"], tenants
    status, keys = request(tls, user, "GET", "/keys")
    assert status == 200 and keys and {k["tenant"] for k in keys} == {"sandbox-user"}
    status, refused = request(tls, user, "POST", "/keys", {"tenant": "sandbox-user"})
    assert status == 403, refused


def test_the_inventory_keys_were_merged_and_a_second_sync_changes_nothing(host):
    sync = host.run(
        "runuser -u hx-control -- /opt/hx/control/bin/hx-control sync --check --inventory-keys %s",
        contract.INVENTORY_KEYS,
    )
    assert sync.rc == 0, sync.stderr
    assert json.loads(sync.stdout)["changed"] is False, sync.stdout


def test_prometheus_scrapes_hx_control():
    deadline, result = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        result = prometheus_query('up{job="control"}')["data"]["result"]
        if result and result[0]["value"][1] == "1":
            return
        time.sleep(1)
    raise AssertionError(f'up{{job="control"}} is not 1: {result}')
