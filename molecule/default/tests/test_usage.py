"""Usage accounting on the converged sandbox, as a tenant and an operator see it (testinfra):
rows in PostgreSQL, counters in Prometheus, a daily quota that refuses, feedback, the report."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from test_sandbox import call, prometheus_query, tls  # noqa: F401  (tls is a fixture)

REPORTS_DIR = "/srv/hx/data/reports"
# sandbox/hx.yaml: sandbox-quota may use 60 tokens a day.
QUOTA_TOKENS = 60


def chat(stream: bool = False) -> dict:
    # A different prompt each time: the response cache must not answer instead of the engine.
    body = {
        "model": "tiny-a",
        "messages": [{"role": "user", "content": f"hello {uuid.uuid4().hex}"}],
        "max_tokens": 8,
        "stream": stream,
    }
    return body


def rows(host, request_ids: list[str]) -> list[dict]:
    ids = ",".join(f"'{r}'" for r in request_ids)
    sql = (
        "SELECT coalesce(json_agg(json_build_object('request_id', request_id, 'tenant', tenant, "
        "'model_name', model_name, 'status', status, 'prompt_tokens', prompt_tokens, "
        "'completion_tokens', completion_tokens, 'rating', rating)), '[]') "
        f"FROM hx_usage.requests WHERE request_id IN ({ids})"
    )
    out = host.run("runuser -u postgres -- psql -X -At -d hx -c %s", sql)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def wait_for_rows(host, request_ids: list[str], deadline_s: float = 60) -> list[dict]:
    """hx-usage writes a row about a second after nginx logs the request."""
    deadline = time.monotonic() + deadline_s
    while len(found := rows(host, request_ids)) < len(request_ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def test_the_service_is_active_and_serves_metrics_on_loopback_only(host):
    unit = host.service("hx-usage")
    assert unit.is_running and unit.is_enabled
    assert host.socket("tcp://127.0.0.1:9746").is_listening
    assert not host.socket("tcp://0.0.0.0:9746").is_listening


def test_requests_of_two_tenants_become_rows_with_their_tokens(host, tls):  # noqa: F811
    sent = {}
    for tenant in ("sandbox-admin", "sandbox-user"):
        for stream in (False, True):
            status, _, headers = call(tls, "/v1/chat/completions", chat(stream), tenant=tenant)
            assert status == 200
            sent[headers["x-request-id"]] = tenant
    found = wait_for_rows(host, list(sent))
    assert {r["request_id"]: r["tenant"] for r in found} == sent
    for row in found:
        assert row["model_name"] == "tiny-a" and row["status"] == 200
        # Streams count too: the gateway asks every stream for its usage chunk.
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0, row


def test_the_tenants_counters_reach_prometheus(tls):  # noqa: F811
    for tenant in ("sandbox-admin", "sandbox-user"):
        assert call(tls, "/v1/chat/completions", chat(), tenant=tenant)[0] == 200
    query = 'sum by (tenant) (hx_usage_completion_tokens_total{tenant=~"sandbox-admin|sandbox-user"})'
    deadline, tenants = time.monotonic() + 90, set()
    while time.monotonic() < deadline:
        result = prometheus_query(query)["data"]["result"]
        tenants = {r["metric"]["tenant"] for r in result if float(r["value"][1]) > 0}
        if tenants == {"sandbox-admin", "sandbox-user"}:
            break
        time.sleep(2)
    assert tenants == {"sandbox-admin", "sandbox-user"}


def test_a_tenant_over_its_daily_quota_is_refused_and_another_is_not(tls):  # noqa: F811
    deadline, answer = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        status, body, headers = call(tls, "/v1/chat/completions", chat(), tenant="sandbox-quota")
        if status == 429:
            answer = (json.loads(body), headers)
            break
        assert status == 200, body
        assert headers["x-hx-quota-limit-tokens"] == str(QUOTA_TOKENS)
        time.sleep(0.5)
    assert answer is not None, "sandbox-quota was never refused"
    error, headers = answer
    assert error["error"]["code"] == "quota_exceeded" and error["error"]["type"] == "rate_limit_error"
    assert headers["x-hx-quota-remaining-tokens"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 25 * 3600  # until midnight in Europe/Berlin
    assert call(tls, "/v1/chat/completions", chat(), tenant="sandbox-user")[0] == 200
    status, body, _ = call(tls, "/v1/usage", tenant="sandbox-quota")
    usage = json.loads(body)
    assert status == 200 and usage["time_zone"] == "Europe/Berlin"
    assert usage["quota"]["limit_tokens"] == QUOTA_TOKENS and usage["quota"]["remaining_tokens"] == 0


def test_feedback_is_stored_on_the_tenants_own_request_only(host, tls):  # noqa: F811
    status, _, headers = call(tls, "/v1/chat/completions", chat(), tenant="sandbox-user")
    assert status == 200
    request_id = headers["x-request-id"]
    feedback = {"request_id": request_id, "rating": 4, "comment": "useful"}
    assert call(tls, "/v1/feedback", feedback, tenant="sandbox-admin")[0] == 404  # not the admin's request
    status, body, _ = call(tls, "/v1/feedback", feedback, tenant="sandbox-user")
    assert status == 201, body
    assert wait_for_rows(host, [request_id])[0]["rating"] == 4


@pytest.fixture(scope="module")
def report(host):
    """The weekly report, run now as its timer would run it."""
    out = host.run("systemctl start hx-usage-report.service")
    journal = host.run("journalctl -u hx-usage-report --no-pager -n 30 -o cat").stdout
    assert out.rc == 0, journal
    return journal


def test_the_weekly_report_is_written_on_the_host(host, report):
    listing = host.run(f"ls {REPORTS_DIR}").stdout.split()
    html = [name for name in listing if name.startswith("hx-report-") and name.endswith(".html")]
    pdf = [name for name in listing if name.startswith("hx-report-") and name.endswith(".pdf")]
    assert html and pdf, (listing, report)
    text = host.file(f"{REPORTS_DIR}/{html[0]}").content_string
    assert "<svg" in text or "data:image" in text
    assert host.file(f"{REPORTS_DIR}/{pdf[0]}").content.startswith(b"%PDF")
    assert host.service("hx-usage-report.timer").is_enabled
