"""The audit service's follower on the real gateway's access log: nginx with the rendered
configuration answers /admin calls, and each one becomes a signed admin-call record that names
the tenant and never the key."""

from __future__ import annotations

import json

import gateway_harness
import pytest
import requests
from conftest import DATA

from hxgen.audit import log, signing
from hxgen.audit.follower import AccessLogFollower
from hxgen.audit.verify import verify
from hxgen.keys import hash_key, new_key

pytestmark = pytest.mark.tools

SPEC = DATA / "gateway-stream/hx.yaml"  # tenant streamer (role user), plain HTTP on loopback


def test_admin_calls_through_nginx_become_records_without_the_key(tmp_path):
    key_id, key = new_key()
    entry = {"id": key_id, "tenant": "streamer", "sha256": hash_key(key), "expires": None}
    staged = gateway_harness.stage(SPEC, tmp_path / "gateway", [entry])
    proc = gateway_harness.start(staged)
    try:
        user = requests.get(f"{staged.url}/admin/status", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        anonymous = requests.get(f"{staged.url}/admin/status", timeout=30)
        bad_key = requests.get(f"{staged.url}/v1/models", headers={"Authorization": "Bearer sk-nope"}, timeout=30)
        models = requests.get(f"{staged.url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        for response in (user, anonymous, bad_key, models):
            gateway_harness.access_log_line(staged, response.headers["X-Request-ID"])
    finally:
        gateway_harness.stop(proc)
    assert (user.status_code, anonymous.status_code, bad_key.status_code, models.status_code) == (403, 401, 401, 200)

    key_file = tmp_path / "head.key"
    signing.generate_key(key_file)
    audit = log.AuditLog(tmp_path / "audit", key_file)
    follower = AccessLogFollower(
        staged.access_log,
        tmp_path / "position.json",
        lambda detail: audit.append("hx-audit", "admin-call", detail),
    )
    assert follower.poll() == 4
    assert follower.counts.auth_failures == 2
    assert follower.counts.admin_calls == {"streamer": 1, "-": 1}

    (segment,) = log.segments(audit.directory)
    text = segment.read_text()
    got = [json.loads(line) for line in text.splitlines()]
    assert [(r["detail"]["tenant"], r["detail"]["status"], r["detail"]["request_id"]) for r in got] == [
        ("streamer", 403, user.headers["X-Request-ID"]),
        ("", 401, anonymous.headers["X-Request-ID"]),
    ]
    assert got[0]["detail"]["role"] == "user" and got[0]["detail"]["method"] == "GET"
    assert key not in text and hash_key(key) not in text and "Bearer" not in text
    public = signing.load_public_key(signing.public_key_path(key_file))
    assert verify(audit.directory, json.loads(audit.head_file.read_text()), public).ok
    assert follower.poll() == 0  # nothing new, nothing recorded twice
