"""The gateway end to end: the real nginx with the rendered config and njs handler, in front of
real vLLM CPU servers (tiny generated models), driven with raw HTTP and the official openai
client. The spec is tests/data/gateway/hx.yaml; keys come from `hxgen keys create`.

Start-up (three engines) takes a minute or two; the module shares one set-up.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import socket
import ssl
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import engines
import gateway_harness
import httpx2
import openai
import pytest
from conftest import DATA
from ruamel.yaml import YAML

from hxgen.pipeline import render_file

SPEC = DATA / "gateway/hx.yaml"
PLAN = render_file(SPEC).plan
TENANTS = ("ops-admin", "sre", "team-a", "team-b", "dashboards", "tight-inference", "tight-listing")
CHAT = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}


def create_key(keys_file: Path, tenant: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hxgen", "keys", "create", "--tenant", tenant, "--keys-file", str(keys_file), str(SPEC)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """One key per tenant, plus an expired one and one whose tenant left the spec."""
    keys_file = tmp_path_factory.mktemp("keys") / "api-keys.yml"
    issued = {tenant: create_key(keys_file, tenant) for tenant in TENANTS}
    issued["expired"] = create_key(keys_file, "team-a")
    issued["orphan"] = create_key(keys_file, "team-a")
    yaml = YAML(typ="safe")
    entries = yaml.load(keys_file.read_text())["gateway_api_keys"]
    # Time passes for one key; another tenant is removed from hx.yaml after its key was issued.
    entries[-2]["expires"] = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    entries[-1]["tenant"] = "former-team"
    return issued, entries


@pytest.fixture(scope="module")
def engine_set(tmp_path_factory):
    cache = engines.ROOT / ".cache/tiny-models"
    work = tmp_path_factory.mktemp("engines")
    started = []
    try:
        for model in PLAN.models:
            if model.name == "tiny-down":
                continue  # declared, never started: the dead upstream
            weights = engines.tiny_model(cache, model.source["seed"])
            started.append(engines.start_engine(model, weights, work / model.name, work / f"{model.name}.log"))
        engines.wait_healthy(started)
        yield started
    finally:
        engines.stop_engines(started)


PROBE_KEY = "hx-probe-" + secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, keys, engine_set):
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), keys[1], probe_key=PROBE_KEY)
    proc = gateway_harness.start(staged)
    yield staged
    gateway_harness.stop(proc)


@pytest.fixture(scope="module")
def http(gateway):
    with httpx2.Client(base_url=gateway.url, verify=trust(gateway), timeout=60) as client:
        yield client


def trust(gateway) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(gateway.ca_cert))


def auth(keys, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[0][who]}"}


def error_of(response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    return error


def client(gateway, keys, who: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=keys[0][who],
        max_retries=0,
        http_client=httpx2.Client(verify=trust(gateway), timeout=60),
    )


def port_of(model: str) -> int:
    return next(m.port for m in PLAN.models if m.name == model)


def engine(model: str) -> str:
    """The engine's own address, to compare what the gateway forwards with the original."""
    return f"http://127.0.0.1:{port_of(model)}"


def log_lines(gateway) -> list[dict]:
    return gateway_harness.access_log(gateway)


def log_of(gateway, request_id: str) -> dict:
    return gateway_harness.access_log_line(gateway, request_id)


# --- The OpenAI-compatible surface ----------------------------------------------------------


def test_openai_client_chat_through_the_gateway(gateway, keys):
    request = {"model": "tiny-a", "messages": CHAT["messages"], "max_tokens": 6, "seed": 7, "temperature": 0.8}
    raw = client(gateway, keys, "team-a").chat.completions.with_raw_response.create(**request)
    completion = raw.parse()
    direct = httpx2.post(f"{engine('tiny-a')}/v1/chat/completions", json=request, timeout=60).json()
    assert completion.model == "tiny-a"
    # The same seeded request straight to the engine: the gateway passed the answer on intact.
    assert completion.choices[0].message.content == direct["choices"][0]["message"]["content"]
    assert completion.usage.completion_tokens == direct["usage"]["completion_tokens"]
    assert 0 < completion.usage.completion_tokens <= 6
    # The engine names its software and version; the tenant is not told.
    assert direct["system_fingerprint"].startswith("vllm-")
    assert completion.system_fingerprint is None
    assert raw.headers["x-hx-variant"] == "tiny-a"
    line = log_of(gateway, raw.headers["x-request-id"])
    assert (line["tenant"], line["role"], line["model"], line["variant"], line["status"]) == (
        "team-a",
        "user",
        "tiny-a",
        "tiny-a",
        200,
    )
    assert line["prompt_tokens"] == completion.usage.prompt_tokens
    assert line["completion_tokens"] == completion.usage.completion_tokens
    # nginx rounds both to the millisecond from different clock readings: 0.069 beside 0.070 is
    # the same request.
    assert line["upstream_s"] is not None and line["request_s"] >= line["upstream_s"] - 0.001


def test_openai_client_streams_and_the_log_counts_the_streamed_usage(gateway, keys):
    request = {"model": "tiny-a", "messages": CHAT["messages"], "max_tokens": 24, "seed": 3, "temperature": 0}
    stream = client(gateway, keys, "team-a").chat.completions.with_raw_response.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream.parse())
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["x-hx-cache"] == "BYPASS"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0
    # The streamed text, rejoined, is the engine's own answer to the same request: the gateway's
    # rewriting of the stream cut no character (the byte-level tokenizer yields partial UTF-8).
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    direct = httpx2.post(f"{engine('tiny-a')}/v1/chat/completions", json=request, timeout=60).json()
    assert text == direct["choices"][0]["message"]["content"]
    assert usage.completion_tokens == direct["usage"]["completion_tokens"]
    assert [c.system_fingerprint for c in chunks] == [None] * len(chunks)
    line = log_of(gateway, stream.headers["x-request-id"])
    assert (line["prompt_tokens"], line["completion_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)


def test_completions_and_embeddings(gateway, keys):
    c = client(gateway, keys, "team-a")
    completion = c.completions.create(model="tiny-a", prompt="say", max_tokens=3)
    assert completion.choices[0].text is not None and completion.usage.completion_tokens <= 3
    raw = c.embeddings.with_raw_response.create(model="tiny-embed", input=["one", "two"])
    embedding = raw.parse()
    assert [len(item.embedding) for item in embedding.data] == [128, 128]
    line = log_of(gateway, raw.headers["x-request-id"])
    assert (line["prompt_tokens"], line["completion_tokens"]) == (embedding.usage.prompt_tokens, 0)


def test_a_model_on_the_wrong_endpoint_is_told_where_to_go(http, keys):
    response = http.post("/v1/chat/completions", json={**CHAT, "model": "tiny-embed"}, headers=auth(keys, "team-a"))
    assert response.status_code == 400
    assert "/v1/embeddings" in error_of(response)["message"]


def test_model_list_shows_only_what_the_caller_may_use(http, keys):
    def ids(who: str) -> list[str]:
        response = http.get("/v1/models", headers=auth(keys, who))
        assert response.status_code == 200
        return [m["id"] for m in response.json()["data"]]

    assert ids("team-b") == ["tiny-b"]
    assert ids("team-a") == ["canary", "failover", "tiny", "tiny-a", "tiny-down", "tiny-embed"]
    assert ids("ops-admin") == ["canary", "failover", "tiny", "tiny-a", "tiny-b", "tiny-down", "tiny-embed"]
    assert http.get("/v1/models/tiny-b", headers=auth(keys, "team-b")).json()["id"] == "tiny-b"
    # team-a may not use tiny-b, one of tiny's variants: it is not told the variants' names.
    assert "variants" not in http.get("/v1/models/tiny", headers=auth(keys, "team-a")).json()
    assert http.get("/v1/models/tiny", headers=auth(keys, "ops-admin")).json()["variants"] == ["tiny-a", "tiny-b"]
    assert error_of(http.get("/v1/models/tiny-a", headers=auth(keys, "team-b")))["code"] == "model_not_allowed"


def test_openai_client_lists_models(gateway, keys):
    assert [m.id for m in client(gateway, keys, "team-b").models.list()] == ["tiny-b"]


# --- Authentication and authorization -------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "Bearer  "])
def test_the_bearer_scheme_is_case_insensitive(http, keys, scheme):
    """RFC 7235: the scheme's case does not matter; one or more spaces precede the key."""
    response = http.get("/v1/models", headers={"Authorization": f"{scheme} {keys[0]['team-b']}"})
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["data"]] == ["tiny-b"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer hx-00000000-not-a-key"}, "invalid_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_api_key"),
        ({"Authorization": "Bearer"}, "invalid_api_key"),
    ],
    ids=["missing", "wrong", "basic", "empty"],
)
def test_requests_without_a_valid_key_get_401(http, headers, code):
    response = http.post("/v1/chat/completions", json={**CHAT, "model": "tiny-a"}, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == code


def test_an_expired_key_and_a_key_of_a_removed_tenant_get_401(http, keys):
    expired = http.get("/v1/models", headers=auth(keys, "expired"))
    assert expired.status_code == 401 and error_of(expired)["code"] == "expired_api_key"
    orphan = http.get("/v1/models", headers=auth(keys, "orphan"))
    assert orphan.status_code == 401 and "no configured tenant" in error_of(orphan)["message"]


def test_openai_client_raises_authentication_error_for_a_bad_key(gateway, keys):
    bad = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key="hx-0-wrong",
        max_retries=0,
        http_client=httpx2.Client(verify=trust(gateway)),
    )
    with pytest.raises(openai.AuthenticationError) as raised:
        bad.chat.completions.create(model="tiny-a", messages=CHAT["messages"])
    assert raised.value.code == "invalid_api_key"


def test_a_tenant_cannot_use_another_tenants_model(http, keys):
    response = http.post("/v1/chat/completions", json={**CHAT, "model": "tiny-a"}, headers=auth(keys, "team-b"))
    assert response.status_code == 403
    assert error_of(response)["code"] == "model_not_allowed"


def test_unknown_model_gets_404(http, keys):
    response = http.post("/v1/chat/completions", json={**CHAT, "model": "gpt-9"}, headers=auth(keys, "team-a"))
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("dashboards", "POST", "/v1/chat/completions", 403),
        ("dashboards", "GET", "/v1/models", 200),
        ("sre", "POST", "/v1/chat/completions", 403),
        ("sre", "GET", "/admin/status", 200),
        ("team-a", "GET", "/admin/status", 403),
        ("team-a", "GET", "/admin/models/tiny-a/metrics", 403),
        ("ops-admin", "GET", "/admin/status", 200),
    ],
)
def test_roles_map_to_endpoints(http, keys, who, method, path, status):
    response = http.request(method, path, json={**CHAT, "model": "tiny-a"}, headers=auth(keys, who))
    assert response.status_code == status, response.text
    if status == 403:
        assert error_of(response)["code"] == "endpoint_not_allowed"


def test_admin_status_reports_each_engine(http, keys):
    status = http.get("/admin/status", headers=auth(keys, "sre")).json()
    healthy = {name: m["healthy"] for name, m in status["models"].items()}
    assert healthy == {"tiny-a": True, "tiny-b": True, "tiny-embed": True, "tiny-down": False}
    assert status["status"] == "degraded"
    assert status["connections"]["active"] >= 1


def test_admin_reads_an_engines_metrics(http, keys):
    response = http.get("/admin/models/tiny-a/metrics", headers=auth(keys, "ops-admin"))
    assert response.status_code == 200
    assert "vllm:num_requests_running" in response.text


def test_a_client_certificate_authenticates_a_service(gateway, keys):
    def presenting(common_name: str) -> httpx2.Client:
        context = trust(gateway)
        context.load_cert_chain(*gateway_harness.client_certificate(gateway, common_name))
        return httpx2.Client(base_url=gateway.url, verify=context)

    with presenting("batch.hx.internal") as service:
        models = service.get("/v1/models")
        assert models.status_code == 200 and "tiny-b" in [m["id"] for m in models.json()["data"]]
    with presenting("someone.else") as stranger:
        response = stranger.get("/v1/models")
        assert response.status_code == 401 and error_of(response)["code"] == "unknown_client_certificate"


# --- Routing, limits, cache -----------------------------------------------------------------


def routed(http, gateway, keys, who: str, alias: str, n: int) -> list[dict]:
    """n requests to a route alias; the access log lines, which name the variant that answered."""
    lines = []
    for i in range(n):
        response = http.post(
            "/v1/completions",
            json={"model": alias, "prompt": f"x{i}", "max_tokens": 1},
            headers=auth(keys, who),
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-hx-route"] == alias
        assert response.json()["model"] == alias  # the name asked for, never the variant's
        lines.append(log_of(gateway, response.headers["x-request-id"]))
    return lines


def variants(http, gateway, keys, who: str, alias: str, n: int) -> list[str]:
    return [line["variant"] for line in routed(http, gateway, keys, who, alias, n)]


def test_per_request_split_serves_both_variants(http, gateway, keys):
    seen = variants(http, gateway, keys, "team-a", "tiny", 30)
    assert set(seen) == {"tiny-a", "tiny-b"}  # 50/50: all 30 on one side has odds 2**-29


def test_per_tenant_split_keeps_a_tenant_on_one_variant(http, gateway, keys):
    for who in ("team-a", "ops-admin"):
        assert len(set(variants(http, gateway, keys, who, "canary", 8))) == 1


def test_a_route_names_its_variant_only_to_tenants_that_may_use_every_variant(http, keys):
    """team-a may call tiny but not tiny-b, one of its variants: neither the body nor a header
    tells it which variant answered. ops-admin may use them all and is told."""
    body = {"model": "tiny", "prompt": "which", "max_tokens": 2, "stream": True}
    for who, told in (("team-a", False), ("ops-admin", True)):
        with http.stream("POST", "/v1/completions", json=body, headers=auth(keys, who)) as response:
            events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
        assert response.status_code == 200
        assert events and {e["model"] for e in events} == {"tiny"}
        assert {e.get("system_fingerprint") for e in events} == {None}
        assert ("x-hx-variant" in response.headers) is told
        if told:
            assert response.headers["x-hx-variant"] in ("tiny-a", "tiny-b")


def test_a_dead_variant_is_retried_on_another_and_then_left_out(http, gateway, keys):
    """failover splits 50/50 between tiny-a and tiny-down, which never started. Every request
    is answered by tiny-a; after tiny-down failed once it is skipped (passive health) instead of
    costing each request that draws it a refused connection."""
    dead = f"127.0.0.1:{port_of('tiny-down')}"
    lines = routed(http, gateway, keys, "team-a", "failover", 20)
    assert {line["variant"] for line in lines} == {"tiny-a"}
    tried_dead = [line for line in lines if dead in line["upstream"]]
    # Without passive health about 10 of 20 would try it (2 or fewer: odds of 2e-4).
    assert len(tried_dead) <= 2, [line["upstream"] for line in lines]


def test_tier_rate_limit_answers_429_with_retry_after(http, keys):
    # tight-inference's tier: 1 request/s with a burst of 2; no other test uses this tenant.
    statuses, limited = [], None
    for i in range(6):
        response = http.post(
            "/v1/completions",
            json={"model": "tiny-b", "prompt": f"r{i}", "max_tokens": 1},
            headers=auth(keys, "tight-inference"),
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            limited = response
    assert statuses[:3] == [200, 200, 200] and 429 in statuses
    assert limited.headers["retry-after"] == "1"
    error = error_of(limited)
    assert error["code"] == "rate_limit_exceeded" and "tight-inference" in error["message"]


def test_the_tier_counts_every_authenticated_request_not_only_inference(http, keys):
    """A burst of 200 model listings on a tier of 1 request/s with a burst of 2."""
    statuses = [http.get("/v1/models", headers=auth(keys, "tight-listing")).status_code for _ in range(200)]
    assert statuses[:3] == [200, 200, 200]
    assert set(statuses) == {200, 429} and statuses.count(429) > 150
    limited = http.get("/admin/status", headers=auth(keys, "tight-listing"))  # refused by role or by rate
    assert limited.status_code == 429 and "tight-listing" in error_of(limited)["message"]


def from_address(gateway, address: str) -> httpx2.Client:
    """A client connecting from another loopback address: the address limit counts it alone."""
    transport = httpx2.HTTPTransport(local_address=address, verify=trust(gateway))
    return httpx2.Client(base_url=gateway.url, transport=transport, timeout=60)


def test_a_flood_without_credentials_gets_429_while_tenants_are_served(gateway, keys):
    with from_address(gateway, "127.0.0.77") as flooder, ThreadPoolExecutor(16) as pool:
        # 300 at once: far above 10/s with a burst of 20, however slow the machine.
        answers = list(pool.map(lambda _: flooder.get("/v1/models", headers={"Authorization": "Bearer x"}), range(300)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) == {401, 429}
        limited = answers[statuses.index(429)]
        assert error_of(limited)["code"] == "rate_limit_exceeded" and limited.headers["retry-after"] == "1"
        # The same address with a key is a tenant, counted in its tier only.
        served = [flooder.get("/v1/models", headers=auth(keys, "team-a")).status_code for _ in range(5)]
        assert served == [200] * 5


def test_a_large_body_without_credentials_is_refused_unread(gateway, keys):
    body = json.dumps({"model": "tiny-a", "prompt": "x" * 200_000})
    with from_address(gateway, "127.0.0.78") as anonymous:
        refused = anonymous.post("/v1/completions", content=body, headers={"Content-Type": "application/json"})
        small = anonymous.post("/v1/completions", json={"model": "tiny-a", "prompt": "x"})
    assert refused.status_code == 413 and "credentials" in error_of(refused)["message"]
    assert small.status_code == 401 and error_of(small)["code"] == "missing_api_key"
    line = log_of(gateway, refused.headers["x-request-id"])
    assert line["path"] == "/v1/completions" and line["bytes_in"] < 10_000  # the body was never read
    # With a key, the body limit is the spec's (1 MB): this one reaches the engine.
    with from_address(gateway, "127.0.0.78") as tenant:
        accepted = tenant.post(
            "/v1/completions",
            content=json.dumps({"model": "tiny-a", "prompt": "x " * 100, "max_tokens": 1, "pad": "y" * 200_000}),
            headers={**auth(keys, "team-a"), "Content-Type": "application/json"},
        )
    assert accepted.status_code == 200, accepted.text


def test_model_concurrency_cap_protects_the_engine(http, keys):
    # tiny-b accepts one request at a time through the gateway.
    body = {"model": "tiny-b", "prompt": "long", "max_tokens": 400, "ignore_eos": True, "stream": True}
    opened = threading.Event()

    def hold():
        with http.stream("POST", "/v1/completions", json=body, headers=auth(keys, "ops-admin")) as held:
            for _ in held.iter_lines():
                opened.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert opened.wait(30)
    response = http.post("/v1/completions", json={**body, "stream": False}, headers=auth(keys, "ops-admin"))
    holder.join()
    assert response.status_code == 429
    assert error_of(response)["code"] == "model_busy"


def test_deterministic_requests_are_cached_per_tenant(http, keys):
    body = {"model": "tiny-a", "prompt": "cache me", "max_tokens": 5, "temperature": 0}
    first = http.post("/v1/completions", json=body, headers=auth(keys, "team-a"))
    second = http.post("/v1/completions", json=body, headers=auth(keys, "team-a"))
    other_tenant = http.post("/v1/completions", json=body, headers=auth(keys, "ops-admin"))
    assert [r.headers["x-hx-cache"] for r in (first, second, other_tenant)] == ["MISS", "HIT", "MISS"]
    assert first.json() == second.json()
    no_cache = http.post("/v1/completions", json=body, headers={**auth(keys, "team-a"), "Cache-Control": "no-cache"})
    sampled = http.post("/v1/completions", json={**body, "temperature": 0.7}, headers=auth(keys, "team-a"))
    assert no_cache.headers["x-hx-cache"] == sampled.headers["x-hx-cache"] == "BYPASS"


def test_embeddings_are_cached(http, keys):
    body = {"model": "tiny-embed", "input": "the same text"}
    statuses = [
        http.post("/v1/embeddings", json=body, headers=auth(keys, "team-a")).headers["x-hx-cache"] for _ in "ab"
    ]
    assert statuses == ["MISS", "HIT"]


def test_responses_above_the_entry_limit_are_not_stored(http, keys):
    # 20 embeddings of 128 floats: about 50 KB, above the spec's max_entry_kb of 16.
    body = {"model": "tiny-embed", "input": [f"text {i}" for i in range(20)]}
    responses = [http.post("/v1/embeddings", json=body, headers=auth(keys, "team-a")) for _ in "ab"]
    assert len(responses[0].content) > 16 * 1024
    assert [r.headers["x-hx-cache"] for r in responses] == ["MISS", "MISS"]


# --- Abuse and failure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"prompt": "x"}', "missing_model"),
    ],
    ids=["malformed", "array", "empty", "no-model"],
)
def test_bad_bodies_get_400(http, keys, content, code):
    response = http.post(
        "/v1/completions", content=content, headers={**auth(keys, "team-a"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_a_huge_body_gets_413(http, keys):
    huge = json.dumps({"model": "tiny-a", "prompt": "x" * (2 * 1024 * 1024)})
    response = http.post("/v1/completions", content=huge, headers=auth(keys, "team-a"))
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_unknown_paths_methods_and_versions(http, keys):
    cases = {
        ("GET", "/v1/nope"): (404, "unknown_path"),
        ("GET", "/nope"): (404, "unknown_path"),
        ("GET", "/v9/models"): (404, "unknown_path"),
        ("GET", "/v1/chat/completions"): (405, "method_not_allowed"),
    }
    for (method, path), (status, code) in cases.items():
        response = http.request(method, path, headers=auth(keys, "team-a"))
        assert (response.status_code, error_of(response)["code"]) == (status, code), path


def test_dead_upstream_gets_502_with_retry_after(http, keys):
    response = http.post("/v1/completions", json={"model": "tiny-down", "prompt": "x"}, headers=auth(keys, "team-a"))
    assert response.status_code == 502
    assert response.headers["retry-after"] == "5"
    assert error_of(response)["code"] == "upstream_unavailable"


def test_spoofed_identity_headers_are_ignored(http, gateway, keys):
    spoofed = {**auth(keys, "team-b"), "X-HX-Tenant": "ops-admin", "X-Forwarded-User": "ops-admin"}
    response = http.post("/v1/completions", json={"model": "tiny-a", "prompt": "x"}, headers=spoofed)
    assert response.status_code == 403
    assert log_of(gateway, response.headers["x-request-id"])["tenant"] == "team-b"


@pytest.mark.parametrize("name", ['x"\r\nSet-Cookie: a=b', "constructor", "__proto__", "toString"])
def test_hostile_model_names_stay_data(http, gateway, keys, name):
    """Quotes and line breaks stay inside the JSON; JavaScript's own property names are not models."""
    response = http.post("/v1/completions", json={"model": name, "prompt": "x"}, headers=auth(keys, "team-a"))
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"
    assert json.dumps(name) in error_of(response)["message"]
    assert "set-cookie" not in response.headers
    assert log_of(gateway, response.headers["x-request-id"])["status"] == 404  # the log line is still JSON


HOSTILE_PATH_NAMES = {
    "%2525E0": "%25E0",  # decoded once by nginx; decoding it again threw (500)
    "%25": "%",
    "constructor": "constructor",
    "__proto__": "__proto__",
    "hasOwnProperty": "hasOwnProperty",
    "a%0Ab": "a\nb",
    "x%22%0D%0ASet-Cookie:%20a=b": 'x"\r\nSet-Cookie: a=b',
}


@pytest.mark.parametrize("path", ["/v1/models/{}", "/admin/models/{}/metrics"], ids=["models", "admin-metrics"])
@pytest.mark.parametrize("sent", list(HOSTILE_PATH_NAMES), ids=list(HOSTILE_PATH_NAMES))
def test_hostile_model_names_in_the_path_stay_data(http, gateway, keys, path, sent):
    response = http.get(path.format(sent), headers=auth(keys, "ops-admin"))
    assert response.status_code == 404, response.text
    error = error_of(response)
    assert error["code"] == "model_not_found"
    assert json.dumps(HOSTILE_PATH_NAMES[sent]) in error["message"]
    assert "set-cookie" not in response.headers
    assert log_of(gateway, response.headers["x-request-id"])["status"] == 404


@pytest.mark.parametrize("path", ["/v1/models/%E0%A4", "/admin/models/%FF/metrics", "/v1/%C0%AF"])
def test_a_path_that_is_not_utf8_gets_400(http, gateway, keys, path):
    response = http.get(path, headers=auth(keys, "ops-admin"))
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "bad_request"
    assert log_of(gateway, response.headers["x-request-id"])["path"] == "(not UTF-8)"  # the log stays UTF-8 JSON


def raw_request(gateway, request: bytes) -> bytes:
    host, port = gateway.url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as sock,
        trust(gateway).wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        tls.sendall(request)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return data


def test_header_injection_is_refused_with_json(gateway, keys):
    reply = raw_request(
        gateway, b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Evil: a\rb\r\nConnection: close\r\n\r\n"
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_every_access_log_line_is_json_without_keys(gateway, keys, http):
    http.get("/v1/models", headers=auth(keys, "team-a"))
    text = gateway.access_log.read_text()
    lines = log_lines(gateway)
    assert lines and all("tenant" in line and "status" in line for line in lines)
    for key in keys[0].values():
        assert key not in text


# --- Versions, documentation and TLS ---------------------------------------------------------


def test_deprecated_versions_say_so_and_retired_ones_are_gone(http, keys):
    beta = http.get("/v1beta/models", headers=auth(keys, "team-a"))
    assert beta.status_code == 200
    assert beta.headers["deprecation"] == "@1767225600"
    assert beta.headers["sunset"] == "Thu, 01 Jan 2099 00:00:00 GMT"
    assert "deprecation" not in http.get("/v1/models", headers=auth(keys, "team-a")).headers
    gone = http.get("/v0/models", headers=auth(keys, "team-a"))
    assert gone.status_code == 410 and error_of(gone)["code"] == "api_version_sunset"


def test_a_deprecated_version_still_reaches_the_engines(http, keys):
    response = http.post(
        "/v1beta/completions", json={"model": "tiny-a", "prompt": "x", "max_tokens": 1}, headers=auth(keys, "team-a")
    )
    assert response.status_code == 200 and response.json()["object"] == "text_completion"


def test_openapi_document_describes_the_surface(http):
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/admin/status"} <= set(document["paths"])
    assert document["paths"]["/v1beta/models"]["get"]["deprecated"] is True


def test_plain_http_redirects_to_https_with_hsts(gateway, http):
    """To the configured server name (the host's, here): never to a Host header a client made up."""
    server = PLAN.gateway.server_name
    port = gateway.url.rsplit(":", 1)[1]
    with httpx2.Client() as plain:
        redirect = plain.get(f"{gateway.http_url}/v1/models?x=1", headers={"Host": "evil.example"})
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"https://{server}:{port}/v1/models?x=1"
    assert "max-age=31536000" in http.get("/healthz").headers["strict-transport-security"]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize(
    ("version", "accepted"),
    [(ssl.TLSVersion.TLSv1_1, False), (ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_3, True)],
    ids=["1.1", "1.2", "1.3"],
)
def test_only_tls_1_2_and_1_3_are_accepted(gateway, version, accepted):
    context = trust(gateway)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client would speak old TLS; the server must not
    context.minimum_version = context.maximum_version = version
    host, port = gateway.url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        if accepted:
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        else:
            with pytest.raises(ssl.SSLError, match="(?i)protocol version|alert"):
                context.wrap_socket(sock, server_hostname="localhost")


def test_no_nginx_worker_crashed(gateway):
    """Runs last: a crash in njs kills a worker, which the clients above may not notice."""
    crashes = [line for line in gateway.error_log.read_text().splitlines() if "exited on signal" in line]
    assert crashes == []


def test_the_probe_tenant_makes_the_blackbox_probe_call_and_nothing_else(http):
    """What the blackbox exporter sends (rendered blackbox.yml), with the key the role generates."""
    probe = PLAN.probe
    headers = {"Authorization": f"Bearer {PROBE_KEY}", "Content-Type": "application/json", "Cache-Control": "no-cache"}
    answer = http.post(probe.call_path, content=probe.call_body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert '"usage"' in answer.text  # what the probe module requires of the body
    assert answer.headers["X-HX-Cache"] == "BYPASS"  # a cached answer would hide a dead engine
    other = json.loads(probe.call_body) | {"model": "tiny-b"}
    refused = http.post(probe.call_path, json=other, headers={"Authorization": f"Bearer {PROBE_KEY}"})
    assert refused.status_code == 403
    assert http.get("/healthz").status_code == 200  # the other probe: no key needed
