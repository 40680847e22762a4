"""hx-usage's schema migrations, its tenant endpoints over HTTP (usage, feedback) and the
indexes its queries use, against a real PostgreSQL behind PgBouncer."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from pg_harness import free_port, pg_cluster
from usage_harness import Clock, append, config, line

from hxgen.contracts import usage as contract
from hxgen.usage import http
from hxgen.usage.cli import main
from hxgen.usage.database import connect
from hxgen.usage.migrations import Migration, MigrationError, bundled, migrate
from hxgen.usage.service import Service

pytestmark = pytest.mark.tools
MIDNIGHT = int(dt.datetime(2026, 12, 3, tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def cluster():
    with pg_cluster(bouncer=True, retention=True) as c:
        yield c


@pytest.fixture
def fresh(cluster):
    cluster.sql("DROP SCHEMA IF EXISTS hx_usage CASCADE; DELETE FROM hx_retention.policy")
    return cluster


def test_migrations_apply_once_and_a_changed_applied_one_is_refused(tmp_path, fresh, capsys):
    cfg_file = tmp_path / "usage.json"
    cfg_file.write_text(config(tmp_path, fresh).model_dump_json())
    assert main(["--config", str(cfg_file), "migrate"]) == 0
    assert "applied: 0001_requests.sql" in capsys.readouterr().out
    assert main(["--config", str(cfg_file), "migrate"]) == 0
    assert "nothing to apply" in capsys.readouterr().out
    assert fresh.sql(f"SELECT version, name FROM {contract.MIGRATIONS_TABLE}") == "0001|0001_requests.sql"
    changed = [Migration(m.version, m.name, m.sql + "\n-- edited\n") for m in bundled()]
    with connect(config(tmp_path, fresh)) as conn, pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(conn, changed)


def test_an_unreachable_database_is_a_clear_error(tmp_path, capsys):
    cfg_file = tmp_path / "usage.json"
    cfg_file.write_text(config(tmp_path, port=free_port()).model_dump_json())
    assert main(["--config", str(cfg_file), "migrate"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach PostgreSQL at 127.0.0.1:" in err and "check that pgbouncer" in err
    assert "Traceback" not in err


def request(port: int, path: str, tenant: str | None = None, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET")
    if tenant:
        req.add_header(contract.TENANT_HEADER, tenant)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def served(tmp_path, fresh):
    service = Service(config(tmp_path, fresh), now=Clock("2026-12-02T10:00:30+00:00"))
    port = free_port()
    server, _ = http.start(service, "127.0.0.1", port)
    yield service, port, tmp_path / "gateway-access.log"
    server.shutdown()
    server.server_close()
    service.close()


def test_usage_matches_the_lines_written(served):
    service, port, log = served
    append(
        log,
        line("a", prompt=100, completion=50),
        line("b", prompt=10, completion=None, variant="chat-large", model="fast"),
        line("c", tenant="bob", prompt=7, completion=3),
        line("d", time="2026-12-01T23:00:00+00:00"),  # yesterday: not today's quota
    )
    service.meter_step()
    status, body = request(port, contract.USAGE_PATH, "acme")
    assert status == 200
    assert body == {
        "tenant": "acme",
        "day": "2026-12-02",
        "time_zone": "UTC",
        "quota": {
            "limit_tokens": 1000,
            "used_tokens": 160,
            "remaining_tokens": 840,
            "resets_at": MIDNIGHT,
            "reset_in_s": MIDNIGHT - int(service.now().timestamp()),
        },
        "models": {
            "chat-large": {"requests": 1, "prompt_tokens": 10, "completion_tokens": 0},
            "chat-small": {"requests": 1, "prompt_tokens": 100, "completion_tokens": 50},
        },
    }
    status, admin = request(port, contract.ADMIN_USAGE_PATH, "acme")
    assert status == 200 and admin["tenants"]["bob"]["quota"] is None
    bob = {"chat-small": {"requests": 1, "prompt_tokens": 7, "completion_tokens": 3}}
    assert admin["tenants"]["bob"]["models"] == bob
    assert request(port, contract.USAGE_PATH)[0] == 403  # not through the gateway


def test_feedback_is_stored_on_the_tenants_own_request_only(served, fresh):
    service, port, log = served
    append(log, line("mine"), line("theirs", tenant="bob"))
    # No step here: the endpoint catches the database up itself.
    status, body = request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "mine", "rating": 4, "comment": "ok"})
    assert (status, body) == (201, {"request_id": "mine", "rating": 4})
    assert fresh.sql("SELECT rating, feedback_comment, feedback_at IS NOT NULL FROM hx_usage.requests "
                     "WHERE request_id = 'mine'") == "4|ok|t"  # fmt: skip
    status, body = request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "theirs", "rating": 1})
    assert status == 404 and body["error"]["code"] == "request_not_found"
    assert fresh.sql("SELECT rating IS NULL FROM hx_usage.requests WHERE request_id = 'theirs'") == "t"
    assert request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "nope", "rating": 3})[0] == 404
    status, body = request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "mine", "rating": 6})
    assert status == 400 and body["error"]["param"] == "rating" and body["error"]["type"] == "invalid_request_error"
    assert request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "mine", "rating": "5"})[0] == 400
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert f'{contract.FEEDBACK_TOTAL}{{model="small",rating="4",tenant="acme"}} 1.0' in metrics


def test_feedback_answers_503_while_the_database_is_down(served, fresh):
    service, port, log = served
    append(log, line("mine"))
    fresh.stop_bouncer()
    try:
        status, body = request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "mine", "rating": 5})
    finally:
        fresh.start_bouncer()
    assert status == 503 and body["error"]["code"] == "database_unavailable"


def test_feedback_answers_503_soon_while_pgbouncer_queues_for_a_stopped_postgresql(served, fresh, monkeypatch):
    """PgBouncer holds the query for its query_wait_timeout (120 s), longer than the client's 30 s."""
    service, port, log = served
    append(log, line("mine"))
    service.meter_step()
    service.database_step()
    monkeypatch.setattr(http, "FEEDBACK_TIMEOUT_S", 1)
    fresh.stop_postgres()
    try:
        status, body = request(port, contract.FEEDBACK_PATH, "acme", {"request_id": "mine", "rating": 5})
    finally:
        fresh.start_postgres()
    assert status == 503 and body["error"]["code"] == "database_unavailable"


def test_the_report_and_feedback_queries_use_indexes_on_a_million_rows(tmp_path, fresh):
    service = Service(config(tmp_path, fresh), now=Clock("2026-12-30T10:00:00+00:00"))
    append(tmp_path / "gateway-access.log", line("seed", time="2026-12-30T10:00:00+00:00"))
    service.meter_step()
    service.database_step()  # migrates, creates today's partitions
    service.writer.ensure_partitions(dt.date(2026, 12, d) for d in range(1, 32))
    fresh.sql(
        "INSERT INTO hx_usage.requests (time, request_id, tenant, role, model, variant, model_name, endpoint, "
        "status, cache, prompt_tokens, completion_tokens, request_s, upstream_s) "
        "SELECT timestamptz '2026-12-01' + i * interval '2.6 seconds', md5(i::text), 'tenant-' || (i % 50), "
        "'user', 'chat-small', 'chat-small', 'small', '/v1/chat/completions', 200, 'MISS', 10, 5, 0.1, 0.09 "
        "FROM generate_series(1, 1000000) AS i; ANALYZE hx_usage.requests"
    )
    report = (
        "EXPLAIN SELECT model_name, count(*), sum(prompt_tokens), sum(completion_tokens) FROM hx_usage.requests "
        "WHERE tenant = 'tenant-7' AND time >= '2026-12-20' AND time < '2026-12-27' GROUP BY model_name"
    )
    plan = fresh.sql(report)
    assert "Seq Scan" not in plan and "requests_p20261220" in plan and "requests_p20261210" not in plan, plan
    lookup = fresh.sql(
        "EXPLAIN UPDATE hx_usage.requests SET rating = 5 WHERE request_id = md5('123456') AND tenant = 'tenant-6'"
    )
    assert "Seq Scan" not in lookup and "requests_pkey" in lookup.replace("p20261201_pkey", "pkey"), lookup
    service.close()


def test_serve_meters_writes_and_stops_on_sigterm(tmp_path, fresh):
    """The command as systemd runs it: both loops and the HTTP side, in a process of its own."""
    port = free_port()
    cfg = config(tmp_path, fresh, listen={"address": "127.0.0.1", "port": port}, poll_s=0.1)
    (tmp_path / "usage.json").write_text(cfg.model_dump_json())
    append(tmp_path / "gateway-access.log", line("a", time=dt.datetime.now(dt.UTC).isoformat()))
    argv = [sys.executable, "-m", "hxgen.usage.cli", "--config", str(tmp_path / "usage.json"), "serve"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        written = "SELECT CASE WHEN to_regclass('hx_usage.requests') IS NULL THEN 0 ELSE 1 END"
        while fresh.sql(written) != "1" or fresh.sql("SELECT count(*) FROM hx_usage.requests") != "1":
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=10)
            time.sleep(0.1)
        status, body = request(port, contract.USAGE_PATH, "acme")
        assert status == 200 and body["quota"]["used_tokens"] == 15
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
