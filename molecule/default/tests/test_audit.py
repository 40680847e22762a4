"""The audit log on the converged sandbox, as its operator sees it (testinfra)."""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

GATEWAY = "https://127.0.0.1:8443"
METRICS = "http://127.0.0.1:9745/metrics"
LOG_DIR = "/var/log/hx/audit"


def records(host) -> list[dict]:
    out = host.run(f"cat {LOG_DIR}/audit-*.jsonl")
    assert out.rc == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def metrics() -> str:
    with urllib.request.urlopen(METRICS, timeout=10) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def tls(host, tmp_path_factory):
    ca = tmp_path_factory.mktemp("ca") / "ca.crt"
    ca.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    return ssl.create_default_context(cafile=str(ca))


def admin_call(tls, path: str) -> str:
    """An admin call with the admin tenant's key (made by `hxgen keys create` in prepare); its request id."""
    key = (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "keys" / "sandbox-admin.key").read_text().strip()
    request = urllib.request.Request(GATEWAY + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, context=tls, timeout=30) as response:
            return response.headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.headers["X-Request-ID"]


def test_the_service_is_active_and_enabled(host):
    unit = host.service("hx-audit")
    assert unit.is_running and unit.is_enabled


def test_the_metrics_answer_on_loopback_and_the_chain_is_valid(host):
    text = metrics()
    assert "hx_audit_chain_valid 1.0" in text
    assert host.socket("tcp://127.0.0.1:9745").is_listening
    assert not host.socket("tcp://0.0.0.0:9745").is_listening


def test_hx_audit_verify_passes_after_the_converge(host):
    out = host.run("hx-audit verify")
    assert out.rc == 0, out.stderr
    assert "signature ok" in out.stdout
    copy = host.run("hx-audit verify --head /srv/hx/backups/audit/head.json")
    assert copy.rc == 0, copy.stderr


def test_a_converge_record_names_the_revision_the_user_and_the_keys(host):
    converges = [r for r in records(host) if r["action"] == "converge"]
    assert converges, "no converge record"
    first = converges[0]["detail"]
    assert first["first"] is True and first["rendered_files"] > 0
    assert set(first) >= {"revision", "dirty", "rendered_changed", "keys_added", "keys_revoked"}
    assert converges[0]["actor"]
    # The converge's own key records (hx-control writes key-created records of its own, as its caller).
    created = {
        r["detail"]["key_id"]
        for r in records(host)
        if r["action"] == "key-created" and r["actor"] == converges[0]["actor"]
    }
    assert set(first["keys_added"]) == created and created
    # the idempotence run changed nothing: its record says so
    if len(converges) > 1:
        last = converges[-1]["detail"]
        assert (last["rendered_changed"], last["keys_added"], last["keys_revoked"]) == ([], [], [])


def test_an_admin_call_through_the_gateway_becomes_a_record(host, tls):
    request_id = admin_call(tls, "/admin/status")
    for _ in range(100):
        found = [r for r in records(host) if r["action"] == "admin-call" and r["detail"]["request_id"] == request_id]
        if found:
            break
        time.sleep(0.2)
    assert found, f"no admin-call record for {request_id}"
    assert found[0]["detail"]["tenant"] == "sandbox-admin" and found[0]["detail"]["path"] == "/admin/status"
    log = host.run(f"cat {LOG_DIR}/audit-*.jsonl").stdout
    assert "Bearer" not in log


def test_the_log_and_the_key_are_readable_by_its_group_only(host):
    assert host.file(LOG_DIR).mode == 0o2770 and host.file(LOG_DIR).group == "hx-audit"
    key = host.file("/etc/hx/secrets/audit/head.key")
    assert key.mode == 0o640 and key.user == "hx-audit" and key.group == "hx-audit"


def test_prometheus_scrapes_the_audit_service():
    url = "http://127.0.0.1:9090/api/v1/query?query=" + urllib.request.quote('up{job="audit"}')
    for _ in range(60):
        with urllib.request.urlopen(url, timeout=10) as response:
            result = json.load(response)["data"]["result"]
        if result and result[0]["value"][1] == "1":
            return
        time.sleep(1)
    raise AssertionError(f"up{{job='audit'}} is not 1: {result}")
