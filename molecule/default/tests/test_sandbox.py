"""What a user of the sandbox sees, checked from outside the container (testinfra)."""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from hxgen.pipeline import render_file
from hxgen.render import dashboards, grafana

GATEWAY = "https://127.0.0.1:8443"
PROMETHEUS = "http://127.0.0.1:9090"
SANDBOX_SPEC = Path(__file__).resolve().parents[3] / "sandbox" / "hx.yaml"
MODELS = {"tiny-a": 8001, "tiny-b": 8002}
SERVICES = [
    "hx-model-tiny-a",
    "hx-model-tiny-b",
    "nginx",
    "prometheus-nginx-exporter",
    "postgresql",
    "pgbouncer",
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-blackbox-exporter",
    "hx-analytics",
]


@pytest.fixture(scope="module")
def tls(host, tmp_path_factory):
    """Trust the sandbox's internal CA, as a client of the gateway would."""
    ca = tmp_path_factory.mktemp("ca") / "ca.crt"
    ca.write_text(host.file("/etc/hx/tls/ca.crt").content_string)
    return ssl.create_default_context(cafile=str(ca))


def key(tenant: str) -> str:
    """Made by `hxgen keys create` in the prepare step."""
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "keys" / f"{tenant}.key").read_text().strip()


def call(
    tls, path: str, body: dict | None = None, timeout: float = 60, tenant: str | None = "sandbox-admin"
) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and (lower-cased) headers; error statuses are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if tenant:
        headers["Authorization"] = f"Bearer {key(tenant)}"
    request = urllib.request.Request(GATEWAY + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, context=tls, timeout=timeout) as response:
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def chat(model: str, stream: bool = False) -> dict:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 8,
        "temperature": 0,
        "seed": 1,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def logged(host, request_id: str) -> str:
    """The access log line of a request; nginx writes it just after the response."""
    for _ in range(50):
        log = host.file("/var/log/hx/gateway-access.log").content_string
        found = [line for line in log.splitlines() if request_id in line]
        if found:
            return found[0]
        time.sleep(0.1)
    return ""


def prometheus_query(query: str) -> dict:
    """The sandbox Prometheus's answer to an instant query; a query it rejects is an answer too."""
    url = f"{PROMETHEUS}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 400 with {"status": "error", "error": ...}
        return json.load(error)


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_active_and_enabled(host, service):
    unit = host.service(service)
    assert unit.is_running, service
    assert unit.is_enabled, service


@pytest.mark.parametrize(
    ("address", "port"),
    [
        ("127.0.0.1", 5432),
        ("127.0.0.1", 6432),
        ("127.0.0.1", 8001),
        ("127.0.0.1", 8002),
        ("127.0.0.1", 8443),
        ("127.0.0.1", 9090),
        ("127.0.0.1", 9105),
        ("127.0.0.1", 9115),
    ],
)
def test_ports_listen_on_loopback_only(host, address, port):
    assert host.socket(f"tcp://{address}:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize("model", MODELS)
def test_chat_completion_through_the_gateway(tls, model):
    status, raw, headers = call(tls, "/v1/chat/completions", chat(model))
    answer = json.loads(raw)
    assert status == 200
    assert answer["model"] == model == headers["x-hx-variant"]
    assert answer["usage"]["completion_tokens"] == 8
    assert answer["choices"][0]["message"]["content"]


@pytest.mark.parametrize("model", MODELS)
def test_streamed_chat_completion_through_the_gateway(tls, model):
    status, raw, _ = call(tls, "/v1/chat/completions", chat(model, stream=True))
    events = [line[len("data: ") :] for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert status == 200
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) >= 1
    assert chunks[-1]["usage"]["completion_tokens"] == 8


def test_requests_without_a_key_get_an_openai_style_401(tls):
    status, raw, _ = call(tls, "/v1/chat/completions", chat("tiny-a"), tenant=None)
    assert status == 401
    assert json.loads(raw)["error"]["code"] == "missing_api_key"


def test_a_user_sees_only_its_models_and_no_admin_paths(tls):
    status, raw, _ = call(tls, "/v1/models", tenant="sandbox-user")
    assert status == 200
    assert [m["id"] for m in json.loads(raw)["data"]] == ["tiny", "tiny-a"]
    assert call(tls, "/v1/chat/completions", chat("tiny-b"), tenant="sandbox-user")[0] == 403
    assert call(tls, "/admin/status", tenant="sandbox-user")[0] == 403


def test_the_route_alias_serves_both_variants(host, tls):
    """sandbox-user may not use tiny-b: the answer names the alias and no header names the
    variant; the access log does."""
    served = set()
    for i in range(20):
        body = {"model": "tiny", "prompt": f"p{i}", "max_tokens": 1}
        status, raw, headers = call(tls, "/v1/completions", body, tenant="sandbox-user")
        assert status == 200
        assert json.loads(raw)["model"] == "tiny" and "x-hx-variant" not in headers
        served.add(json.loads(logged(host, headers["x-request-id"]))["variant"])
    assert served == {"tiny-a", "tiny-b"}  # 50/50 per request: all 20 on one side has odds 2**-19


def test_admin_status_sees_both_engines_healthy(tls):
    status, raw, _ = call(tls, "/admin/status")
    assert status == 200
    assert json.loads(raw)["status"] == "ok"


def test_a_repeated_deterministic_request_is_served_from_the_cache(tls):
    # A question of its own, so that a second verify of the same sandbox starts with a miss too.
    body = chat("tiny-b") | {"messages": [{"role": "user", "content": f"cache {uuid.uuid4()}"}]}
    assert [call(tls, "/v1/chat/completions", body)[2]["x-hx-cache"] for _ in "ab"] == ["MISS", "HIT"]


def test_the_access_log_is_json_with_tenant_and_tokens(host, tls):
    _, _, headers = call(tls, "/v1/chat/completions", chat("tiny-a"), tenant="sandbox-user")
    line = json.loads(logged(host, headers["x-request-id"]))
    log = host.file("/var/log/hx/gateway-access.log").content_string
    assert (line["tenant"], line["variant"], line["completion_tokens"]) == ("sandbox-user", "tiny-a", 8)
    assert key("sandbox-user") not in log


def test_access_log_rotation_keeps_the_gateway_logging(host, tls):
    rotated = host.run("logrotate --force --state /tmp/hx-logrotate.state /etc/logrotate.d/hx-gateway")
    assert rotated.rc == 0, rotated.stderr
    assert host.run("ls /var/log/hx/gateway-access.log-*").rc == 0
    _, _, headers = call(tls, "/v1/models", tenant="sandbox-user")
    assert logged(host, headers["x-request-id"])


def test_http_redirects_to_https(host):
    out = host.run(
        "python3 -c \"import http.client as h; c=h.HTTPConnection('127.0.0.1', 8080); "
        "c.request('GET', '/x'); r=c.getresponse(); print(r.status, r.getheader('Location'))\""
    )
    assert out.stdout.split() == ["301", "https://hx-sandbox:8443/x"]  # the server name, not the Host header


def test_sql_through_pgbouncer(host):
    password = host.file("/etc/hx/secrets/postgresql/hx.password").content_string.strip()
    out = host.run(f"PGPASSWORD='{password}' psql -h 127.0.0.1 -p 6432 -U hx -d hx -Atc 'select 40 + 2'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_the_postgres_exporter_publishes_pg_stat_statements(host):
    """The role preloads the library, creates the extension, and runs its queries file. The SHOW
    statements below are themselves counted in database hx (utility statements are tracked)."""
    out = host.run(
        "runuser -u postgres -- psql -XAt -d hx -c 'SHOW shared_preload_libraries' -c 'SHOW pg_stat_statements.track'"
    )
    assert out.rc == 0, out.stderr
    assert out.stdout.split() == ["pg_stat_statements", "top"]
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9187/metrics", timeout=10) as response:
            metrics = response.read().decode()
        if "pg_stat_statements_top_mean_seconds{" in metrics or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert 'pg_stat_statements_database_calls_total{datname="hx"' in metrics
    assert "pg_stat_statements_top_mean_seconds{" in metrics


def test_prometheus_scrapes_every_target_up():
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets", timeout=10) as response:
            targets = json.load(response)["data"]["activeTargets"]
        down = sorted(t["labels"]["job"] for t in targets if t["health"] != "up")
        if not down or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert {t["labels"]["job"] for t in targets} >= {
        "model-tiny-a",
        "model-tiny-b",
        "node",
        "nginx",
        "postgres",
        "pgbouncer",
        "alertmanager",
        "blackbox",
        "probe-gateway",
        "probe-model-call",
        "analytics",
    }
    assert down == []


def wait_for_result(query: str, done, timeout_s: float = 90) -> list[dict]:
    """The query's result once done(result) holds, or the last one after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = prometheus_query(query)["data"]["result"]
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(5)


def test_the_synthetic_probes_succeed_through_the_gateway():
    """The blackbox exporter's health check and model call, with the key the roles made on the host."""
    result = wait_for_result("probe_success", lambda r: len(r) == 2 and all(x["value"][1] == "1" for x in r))
    assert {(r["metric"]["job"], r["value"][1]) for r in result} == {("probe-gateway", "1"), ("probe-model-call", "1")}
    days_left = prometheus_query("(probe_ssl_earliest_cert_expiry - time()) / 86400")["data"]["result"]
    assert days_left and float(days_left[0]["value"][1]) > 300  # the role's certificate: 397 days


def test_slo_series_for_both_models(tls):
    for model in MODELS:  # traffic inside the 5-minute window, whatever ran before
        assert call(tls, "/v1/chat/completions", chat(model) | {"temperature": 0.7})[0] == 200  # not cached
    ttft = wait_for_result('hx:slo_errors:ratio_rate5m{slo="ttft"}', lambda r: len(r) == len(MODELS))
    assert {r["metric"]["model"] for r in ttft} == set(MODELS)
    assert all(0 <= float(r["value"][1]) <= 1 for r in ttft)
    budgets = prometheus_query("hx:slo_error_budget:ratio")["data"]["result"]
    budget = {"availability": "0.005", "ttft": "0.05", "e2e": "0.05"}  # 99.5 %, p95, p95
    assert {(r["metric"]["model"], r["metric"]["slo"], r["value"][1]) for r in budgets} == {
        (m, slo, b) for m in MODELS for slo, b in budget.items()
    }


def test_slo_targets_between_default_buckets_are_bucket_bounds_of_the_engine():
    """tiny-b's 300 ms TTFT and 1200 ms end-to-end targets, passed as custom buckets through systemd."""
    with urllib.request.urlopen(f"http://127.0.0.1:{MODELS['tiny-b']}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.3"' in metrics
    assert 'vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.2"' in metrics


def test_every_rule_loads_and_the_watchdog_reaches_alertmanager():
    with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/rules", timeout=10) as response:
        groups = json.load(response)["data"]["groups"]
    unhealthy = [r["name"] for g in groups for r in g["rules"] if r["health"] != "ok"]
    rendered = {p.name for p in (SANDBOX_SPEC.parent / "rendered/prometheus/rules").glob("*.yml")}
    assert rendered >= {"hx-models.yml", "hx-slo.yml", "hx-alerts.yml", "hx-predictive.yml"}
    assert {g["file"].rsplit("/", 1)[-1] for g in groups} == rendered
    assert unhealthy == []
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9093/api/v2/alerts", timeout=10) as response:
            held = {a["labels"]["alertname"] for a in json.load(response)}
        if "Watchdog" in held or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert "Watchdog" in held


@pytest.mark.parametrize(
    "series",
    ["hx:model_requests:rate5m", "hx:model_kv_cache_usage:ratio", "hx:model_queue_depth", "hx:model_running_requests"],
)
def test_recording_rules_give_hx_series_for_both_models(series):
    deadline = time.monotonic() + 90
    while True:
        models = {r["metric"].get("model") for r in prometheus_query(series)["data"]["result"]}
        if models >= set(MODELS) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert models == set(MODELS)


# Panels that must show data on the sandbox: per model, requests, latency and queue; the host's
# CPU and memory. The others may be empty (no errors, no preemptions, no SLO history yet).
PANELS_WITH_DATA = {
    dashboards.UID_MODELS: {
        dashboards.TITLE_REQUESTS,
        dashboards.TITLE_TTFT,
        dashboards.TITLE_E2E,
        dashboards.TITLE_QUEUE,
    },
    dashboards.UID_RESOURCES: {dashboards.TITLE_CPU, dashboards.TITLE_MEMORY},
}


def test_every_dashboard_query_runs_on_the_sandbox_prometheus():
    """The dashboards hxgen renders for the sandbox (Grafana itself is not installable here): the
    live Prometheus accepts every query, and the main model and host panels show data."""
    artifacts = dashboards.render(render_file(SANDBOX_SPEC).plan)
    boards = [json.loads(a.text) for a in artifacts if a.path.endswith(".json")]
    assert len(boards) == 4
    rejected = {}
    for board in boards:
        for expr in grafana.queries(board):
            answer = prometheus_query(grafana.concrete(expr))
            if answer["status"] != "success":
                rejected[expr] = answer.get("error")
    assert rejected == {}
    main = [
        grafana.concrete(target["expr"])
        for board in boards
        for panel in grafana.panels(board)
        if panel["title"] in PANELS_WITH_DATA.get(board["uid"], ())
        for target in panel["targets"]
    ]
    # Per model: requests, TTFT p50/p95/p99, end-to-end p50/p95/p99, waiting and running; CPU busy
    # and iowait; memory.
    assert len(main) == len(MODELS) * (1 + 3 + 3 + 2) + 3
    deadline = time.monotonic() + 90
    while True:
        empty = [q for q in main if not prometheus_query(q)["data"]["result"]]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert empty == []


def test_analytics_runs_as_its_own_user_with_the_rendered_configuration(host):
    pid = int(host.service("hx-analytics").systemd_properties["MainPID"])
    assert pid > 0
    assert host.process.get(pid=pid).user == "hx-analytics"
    config = host.file("/etc/hx/analytics.yml")
    assert config.is_file
    assert (config.user, config.group, config.mode) == ("root", "root", 0o644)
    assert "version: hx-analytics/v1" in config.content_string


def test_prometheus_scrapes_the_analytics_service():
    result = wait_for_result('up{job="analytics"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1", timeout_s=60)
    assert [(r["metric"]["instance"], r["value"][1]) for r in result] == [("127.0.0.1:9105", "1")]


# What the sandbox's hx-analytics exports once it has a few cycles (15 s each) of history: tiny-a's
# request rate exists even without traffic.
ANALYTICS_SERIES = {
    "score": 'hx_anomaly_score{series="request-rate",model="tiny-a"}',
    "forecast": 'hx_forecast{series="request-rate",model="tiny-a",bound="forecast"}',
    "cycle": "hx_analytics_cycle_duration_seconds",
}


def test_analytics_forecasts_and_scores_reach_prometheus():
    deadline = time.monotonic() + 240
    while True:
        results = {name: prometheus_query(query)["data"]["result"] for name, query in ANALYTICS_SERIES.items()}
        empty = sorted(name for name, result in results.items() if not result)
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert empty == []
    assert len(results["score"]) == 1 and 0 <= float(results["score"][0]["value"][1]) <= 1
    # One central forecast per horizon of the series (request-rate: 60 and 1440 minutes).
    assert sorted(r["metric"]["horizon"] for r in results["forecast"]) == ["1d", "1h"]
    assert float(results["cycle"][0]["value"][1]) > 0


def test_a_killed_model_is_restarted_and_served_again(host, tls, record_property):
    before = host.service("hx-model-tiny-a").systemd_properties["MainPID"]
    started = time.monotonic()
    host.run(f"kill -9 {before}")
    deadline = started + 300
    while time.monotonic() < deadline:
        try:
            # Sampled, so never a cached answer: the engine itself must be back.
            status, _, _ = call(tls, "/v1/chat/completions", chat("tiny-a") | {"temperature": 0.7}, timeout=10)
            if status == 200 and host.service("hx-model-tiny-a").systemd_properties["MainPID"] != before:
                break
        except OSError:
            pass
        time.sleep(2)
    recovery_s = time.monotonic() - started
    record_property("recovery_s", round(recovery_s, 1))
    print(f"tiny-a recovered in {recovery_s:.1f} s")
    assert host.service("hx-model-tiny-a").is_running
    assert recovery_s < 300
