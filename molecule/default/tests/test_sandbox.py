"""What a user of the sandbox sees, checked from outside the container (testinfra)."""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

GATEWAY = "https://127.0.0.1:8443"
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


def test_the_route_alias_serves_both_variants(tls):
    served = set()
    for i in range(20):
        body = {"model": "tiny", "prompt": f"p{i}", "max_tokens": 1}
        status, raw, headers = call(tls, "/v1/completions", body, tenant="sandbox-user")
        assert status == 200
        assert json.loads(raw)["model"] == headers["x-hx-variant"]
        served.add(headers["x-hx-variant"])
    assert served == {"tiny-a", "tiny-b"}  # 50/50 per request: all 20 on one side has odds 2**-19


def test_admin_status_sees_both_engines_healthy(tls):
    status, raw, _ = call(tls, "/admin/status")
    assert status == 200
    assert json.loads(raw)["status"] == "ok"


def test_a_repeated_deterministic_request_is_served_from_the_cache(tls):
    body = chat("tiny-b") | {"messages": [{"role": "user", "content": "cache"}]}
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
    assert out.stdout.split() == ["301", "https://127.0.0.1:8443/x"]


def test_sql_through_pgbouncer(host):
    password = host.file("/etc/hx/secrets/postgresql/hx.password").content_string.strip()
    out = host.run(f"PGPASSWORD='{password}' psql -h 127.0.0.1 -p 6432 -U hx -d hx -Atc 'select 40 + 2'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_prometheus_scrapes_every_target_up():
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets", timeout=10) as response:
            targets = json.load(response)["data"]["activeTargets"]
        down = sorted(t["labels"]["job"] for t in targets if t["health"] != "up")
        if not down or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert {t["labels"]["job"] for t in targets} >= {"model-tiny-a", "model-tiny-b", "node", "nginx", "postgres"}
    assert down == []


@pytest.mark.parametrize(
    "series",
    ["hx:model_requests:rate5m", "hx:model_kv_cache_usage:ratio", "hx:model_queue_depth", "hx:model_running_requests"],
)
def test_recording_rules_give_hx_series_for_both_models(series):
    deadline = time.monotonic() + 90
    while True:
        query = urllib.parse.urlencode({"query": series})
        with urllib.request.urlopen(f"http://127.0.0.1:9090/api/v1/query?{query}", timeout=10) as response:
            models = {r["metric"].get("model") for r in json.load(response)["data"]["result"]}
        if models >= set(MODELS) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert models == set(MODELS)


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
