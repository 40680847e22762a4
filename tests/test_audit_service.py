"""The hx-audit service's parts: the access-log follower (rotation, restart, no duplicates), and
`hx-audit serve` started for real, its metrics scraped over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from log_rotation import rotate

from hxgen.audit import log, signing
from hxgen.audit.follower import AccessLogFollower
from hxgen.audit.verify import verify
from hxgen.contracts import audit as contract


def entry(path: str, status: int = 200, tenant: str = "acme", request_id: str = "") -> str:
    return (
        json.dumps(
            {
                "time": "2026-01-10T12:00:00+00:00",
                "request_id": request_id or os.urandom(16).hex(),
                "client": "127.0.0.1",
                "tenant": tenant,
                "role": "admin",
                "method": "GET",
                "path": path,
                "status": status,
                "model": "",
            }
        )
        + "\n"
    )


class Recorder:
    def __init__(self) -> None:
        self.details: list[dict] = []

    def __call__(self, detail: dict) -> None:
        self.details.append(detail)


def follower(tmp_path: Path, recorder: Recorder, last: str | None = None) -> AccessLogFollower:
    return AccessLogFollower(tmp_path / "gateway-access.log", tmp_path / "position.json", recorder, "/admin", last)


def write(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(lines))


def test_admin_calls_become_records_and_401s_are_counted(tmp_path):
    access = tmp_path / "gateway-access.log"
    write(access, entry("/v1/chat/completions"), entry("/admin/health", request_id="r1"), entry("/v1/models", 401))
    write(access, entry("/administrator"), entry("/admin", 403, tenant="bob"))
    rec = Recorder()
    f = follower(tmp_path, rec)
    assert f.poll() == 5
    assert [d["path"] for d in rec.details] == ["/admin/health", "/admin"]
    first = rec.details[0]
    assert first == {
        "tenant": "acme",
        "role": "admin",
        "method": "GET",
        "path": "/admin/health",
        "status": 200,
        "request_id": "r1",
        "client": "127.0.0.1",
        "time": "2026-01-10T12:00:00+00:00",
    }
    assert f.counts.auth_failures == 1
    assert f.counts.admin_calls == {"acme": 1, "bob": 1}


def test_a_half_written_line_waits_for_its_end(tmp_path):
    access = tmp_path / "gateway-access.log"
    line = entry("/admin/metrics")
    write(access, line[:20])
    rec = Recorder()
    f = follower(tmp_path, rec)
    assert f.poll() == 0
    write(access, line[20:])
    assert f.poll() == 1 and len(rec.details) == 1


def test_rotation_by_rename_reads_the_rest_of_the_old_file_then_the_new(tmp_path):
    access = tmp_path / "gateway-access.log"
    write(access, entry("/admin/a"))
    rec = Recorder()
    f = follower(tmp_path, rec)
    f.poll()
    write(access, entry("/admin/b"))  # written after the last poll, before the rotation
    rotate(access)
    write(access, entry("/admin/c"))
    f.poll()
    assert [d["path"] for d in rec.details] == ["/admin/a", "/admin/b", "/admin/c"]


def test_a_restart_goes_on_from_the_saved_position_without_duplicates(tmp_path):
    access = tmp_path / "gateway-access.log"
    write(access, entry("/admin/a"), entry("/admin/b"))
    rec = Recorder()
    f = follower(tmp_path, rec)
    f.poll()
    f.close()
    write(access, entry("/admin/c"))
    again = follower(tmp_path, rec)
    again.poll()
    assert [d["path"] for d in rec.details] == ["/admin/a", "/admin/b", "/admin/c"]


def test_a_restart_after_a_rotation_finishes_the_renamed_file(tmp_path):
    access = tmp_path / "gateway-access.log"
    write(access, entry("/admin/a"))
    rec = Recorder()
    follower(tmp_path, rec).poll()
    write(access, entry("/admin/b"))
    rotate(access)  # rotated while the service was stopped
    write(access, entry("/admin/c"))
    follower(tmp_path, rec).poll()
    assert [d["path"] for d in rec.details] == ["/admin/a", "/admin/b", "/admin/c"]


def test_a_record_written_just_before_a_crash_is_not_written_again(tmp_path):
    access = tmp_path / "gateway-access.log"
    write(access, entry("/admin/a", request_id="req-a"))
    position = tmp_path / "position.json"
    rec = Recorder()
    follower(tmp_path, rec).poll()
    position.unlink()  # the crash lost the saved position after the record was appended
    again = Recorder()
    follower(tmp_path, again, last="req-a").poll()
    assert again.details == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = _free_port()
    access = tmp_path / "gateway-access.log"
    access.write_text("")
    cfg = {
        "version": contract.VERSION,
        "log_dir": str(tmp_path / "log"),
        "key_file": str(tmp_path / "keys" / "head.key"),
        "public_key_file": str(tmp_path / "keys" / "head.key.pub"),
        "head_copies": [str(tmp_path / "backups" / "audit" / "head.json")],
        "retention_days": 365,
        "state_dir": str(tmp_path / "state"),
        "listen": {"address": "127.0.0.1", "port": port},
        "access_log": str(access),
        "admin_path_prefix": "/admin",
        "api_keys_map": None,
        "full_verify_every_s": 2,
    }
    config = tmp_path / "audit.json"
    config.write_text(json.dumps(cfg))
    (tmp_path / "state").mkdir()
    run = [sys.executable, "-m", "hxgen.audit.cli", "--config", str(config)]
    assert subprocess.run([*run, "keygen"], check=True, capture_output=True, text=True).stdout == "created\n"
    subprocess.run([*run, "append", "--actor", "root", "--action", "converge"], check=True, capture_output=True)
    proc = subprocess.Popen([*run, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield tmp_path, port, access, run
    finally:
        proc.terminate()
        proc.wait(30)


def scrape(port: int, want: str, timeout_s: float = 60) -> str:
    """GET /metrics until `want` appears (the service starts, then polls its access log each second)."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if want in text:
                return text
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{want!r} never appeared in:\n{text}")


def test_the_service_records_admin_calls_and_exports_its_metrics(served):
    tmp_path, port, access, run = served
    scrape(port, "hx_audit_chain_valid 1.0")
    write(access, entry("/admin/health", tenant="acme"), entry("/v1/models", 401), entry("/v1/models", 401))
    text = scrape(port, 'hx_gateway_admin_calls_total{tenant="acme"} 1.0')
    assert "hx_gateway_auth_failures_total 2.0" in text
    text = scrape(port, 'hx_audit_records_total{action="admin-call"} 1.0')
    assert 'hx_audit_records_total{action="converge"} 1.0' in text
    assert "hx_audit_head_seq 2.0" in text
    head = json.loads((tmp_path / "log" / log.HEAD_FILE).read_text())
    stamp = next(line for line in text.splitlines() if line.startswith("hx_audit_head_timestamp_seconds "))
    assert float(stamp.split()[1]) == pytest.approx(
        dt.datetime.fromisoformat(head["time"].replace("Z", "+00:00")).timestamp()
    )
    result = verify(tmp_path / "log", head, signing.load_public_key(tmp_path / "keys" / "head.key.pub"))
    assert result.ok and result.records == 2


def test_the_service_reports_a_broken_chain(served):
    tmp_path, port, _access, run = served
    scrape(port, "hx_audit_chain_valid 1.0")
    (segment,) = log.segments(tmp_path / "log")
    segment.write_text(segment.read_text().replace('"converge"', '"convergE"'))
    subprocess.run([*run, "append", "--actor", "root", "--action", "ban"], check=True, capture_output=True)
    scrape(port, "hx_audit_chain_valid 0.0")
