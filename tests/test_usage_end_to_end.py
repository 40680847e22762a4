"""Usage accounting end to end: the real gateway writes its access log, the real hx-usage (as
systemd runs it: `hx-usage serve`) follows it into PostgreSQL behind PgBouncer and writes the
quota files, and the gateway refuses a tenant once its quota is used up. Only the engine is a
stand-in (tests/test_gateway_quotas.py's, answering 12 tokens a request), so that the token
counts are known; it writes JSON as Python does, with a space after each colon, which the
gateway's token count reads too (it read only compact JSON until this test).

The configuration hx-usage runs with is the one hxgen renders for the spec
(rendered/usage/usage.json), with its paths moved to the test's directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gateway_harness
import httpx2
import pytest
import usage_harness
from pg_harness import PgCluster, pg_cluster
from test_gateway_quotas import CHAT, ENGINE_PORT, QUOTA, SPEC, TENANTS, USAGE, Engine, serving

from hxgen.contracts import usage as contract
from hxgen.keys import hash_key, new_key
from hxgen.pipeline import render_file

pytestmark = pytest.mark.tools

TOKENS_PER_REQUEST = USAGE["prompt_tokens"] + USAGE["completion_tokens"]


@dataclass
class Host:
    staged: gateway_harness.StagedGateway
    keys: dict[str, str]
    cluster: PgCluster
    usage: subprocess.Popen

    def call(self, tenant: str, method: str, path: str, **kwargs) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        return httpx2.request(method, self.staged.http_url + path, headers=headers, timeout=30, **kwargs)

    def chat(self, tenant: str, **extra) -> httpx2.Response:
        return self.call(tenant, "POST", "/v1/chat/completions", json=CHAT | extra)

    def rows_when(self, tenant: str, count: int) -> list[str] | None:
        """The tenant's rows once there are `count` of them."""
        rows = self.rows(tenant)
        return rows if len(rows) == count else None

    def used_tokens(self, tenant: str) -> int:
        return self.call(tenant, "GET", "/v1/usage").json()["quota"]["used_tokens"]

    def rows(self, tenant: str) -> list[str]:
        out = self.cluster.sql(
            f"SELECT string_agg(request_id || ':' || status || ':' || coalesce(prompt_tokens + completion_tokens, 0)"
            f" || ':' || coalesce(rating, 0), ',' ORDER BY time, request_id) FROM {contract.TABLE} "
            f"WHERE tenant = '{tenant}'"
        )
        return out.split(",") if out else []


def usage_config(tmp: Path, staged: gateway_harness.StagedGateway, cluster: PgCluster) -> Path:
    rendered = {a.path: a.text for a in render_file(SPEC).artifacts}
    return usage_harness.behind_gateway(tmp, rendered["rendered/usage/usage.json"], staged, cluster)


def wait_until(condition, what: str, deadline_s: float = 30):
    deadline = time.monotonic() + deadline_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {deadline_s} s"
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[Host]:
    tmp = tmp_path_factory.mktemp("usage-e2e")
    keys, entries = {}, []
    for tenant in TENANTS:
        key_id, key = new_key()
        keys[tenant] = key
        entries.append({"id": key_id, "tenant": tenant, "sha256": hash_key(key), "expires": None})
    staged = gateway_harness.stage(SPEC, tmp / "gateway", entries)
    with pg_cluster(bouncer=True, retention=True) as cluster, serving(ENGINE_PORT, Engine):
        config = usage_config(tmp, staged, cluster)
        command = [sys.executable, "-m", "hxgen.usage.cli", "--config", str(config)]
        subprocess.run([*command, "migrate"], check=True, capture_output=True, timeout=60)
        nginx = gateway_harness.start(staged)
        # Its log goes to a file: a pipe nobody reads would stop it once full.
        journal = (tmp / "hx-usage.log").open("w")
        usage = subprocess.Popen([*command, "serve"], stdout=journal, stderr=subprocess.STDOUT, env=os.environ)
        try:
            gateway_harness.wait_listening(staged.usage_port, usage, 30, "hx-usage")
            yield Host(staged, keys, cluster, usage)
        finally:
            gateway_harness.stop(usage, 30)
            gateway_harness.stop(nginx)
            journal.close()


def test_a_tenant_is_refused_soon_after_its_quota_is_used_up_and_another_is_not(host, record_property):
    served, refused, crossed_at = [], None, None
    deadline = time.monotonic() + 60
    while refused is None and time.monotonic() < deadline:
        response = host.chat("small")
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 200, response.text
        served.append(response.headers["x-request-id"])
        if crossed_at is None and len(served) * TOKENS_PER_REQUEST >= QUOTA:
            crossed_at = time.monotonic()
        time.sleep(0.05)
    files = {p.name: p.read_text() for p in host.staged.quota_dir.iterdir()}
    assert refused is not None, f"never refused after {len(served)} requests; quota files: {files}"
    delay = time.monotonic() - crossed_at
    record_property("quota_enforced_after_s", round(delay, 2))
    print(f"quota crossed by request {len(served)}; refused {delay:.2f} s after the crossing answer")
    error = refused.json()["error"]
    assert error["code"] == contract.QUOTA_EXCEEDED_CODE
    assert refused.headers[contract.HEADER_QUOTA_REMAINING] == "0" and int(refused.headers["retry-after"]) >= 1
    assert host.chat("large").status_code == 200

    # Every request is a row once, the refusal too, with the tokens the engine reported.
    rows = wait_until(lambda: host.rows_when("small", len(served) + 1), "every row in PostgreSQL")
    by_id = {r.split(":")[0]: r for r in rows}
    assert set(served) <= set(by_id)
    assert all(by_id[i].endswith(f":200:{TOKENS_PER_REQUEST}:0") for i in served)
    assert by_id[refused.headers["x-request-id"]].split(":")[1] == "429"

    usage = host.call("small", "GET", "/v1/usage").json()
    assert usage["quota"]["used_tokens"] == len(served) * TOKENS_PER_REQUEST
    assert usage["quota"]["remaining_tokens"] == 0


def test_a_streamed_answer_counts_its_tokens(host):
    before = host.used_tokens("large")
    response = host.chat("large", stream=True)  # without stream_options: the gateway asks for usage
    assert response.status_code == 200
    wait_until(lambda: host.used_tokens("large") > before, "the stream's tokens counted")
    assert host.used_tokens("large") == before + TOKENS_PER_REQUEST


def test_feedback_lands_on_the_tenants_own_row(host):
    request_id = host.chat("large").headers["x-request-id"]
    answer = host.call("unmetered", "POST", "/v1/feedback", json={"request_id": request_id, "rating": 2})
    assert answer.status_code == 404
    answer = host.call("large", "POST", "/v1/feedback", json={"request_id": request_id, "rating": 5})
    assert answer.status_code == 201, answer.text
    assert any(r.startswith(f"{request_id}:") and r.endswith(":5") for r in host.rows("large"))
