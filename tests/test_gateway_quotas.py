"""Daily token quotas and the tenant usage endpoints, through the real gateway.

The rendered gateway (tests/data/gateway-quota/hx.yaml) runs in front of a stand-in engine whose
answers the tests choose and which records what it was sent, and of a stand-in hx-usage on the
port the gateway expects it. The quota state files are the contract between hx-usage and the
gateway (hxgen.contracts.usage): the tests write them as hx-usage would, with resets_at from the
test's own clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gateway_harness
import httpx2
import pytest
from conftest import DATA

from hxgen.contracts import usage as contract
from hxgen.keys import hash_key, new_key
from hxgen.pipeline import render_file

pytestmark = pytest.mark.tools

SPEC = DATA / "gateway-quota/hx.yaml"
ENGINE_PORT = render_file(SPEC).plan.models[0].port
MODEL = "metered-model"
TENANTS = ("small", "large", "unmetered", "boss", "watcher", "viewer")
QUOTA = 100  # the tier "metered" of small
USAGE = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@dataclass
class Recorder:
    """What a stand-in was sent: (method, path, headers, body) per request."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


class Engine(BaseHTTPRequestHandler):
    """An OpenAI-compatible engine: a completion, a stream that ends with a usage chunk only when
    asked (stream_options.include_usage, as vLLM does), or a 400 when max_tokens is negative."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.recorder.requests.append(("POST", self.path, dict(self.headers), raw))
        body = json.loads(raw)
        if body.get("max_tokens", 0) < 0:
            return self.send_json(400, {"error": {"message": "max_tokens < 0", "type": "BadRequestError", "code": 400}})
        if body.get("stream"):
            return self.send_stream((body.get("stream_options") or {}).get("include_usage") is True)
        choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        self.send_json(
            200, {"id": "c", "object": "chat.completion", "model": MODEL, "choices": [choice], "usage": USAGE}
        )

    def send_json(self, status: int, document: dict) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_stream(self, include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunks = [
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": "ok"}}],
            }
        ]
        if include_usage:
            chunks.append({"id": "c", "object": "chat.completion.chunk", "model": MODEL, "choices": [], "usage": USAGE})
        for event in [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in chunks] + ["data: [DONE]\n\n"]:
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, *args) -> None:
        pass


class UsageService(BaseHTTPRequestHandler):
    """hx-usage's tenant endpoints: echoes who asked; feedback on request id "unknown" is a 404.
    One request per connection: a connection nginx kept alive would outlive a test's stand-in."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.answer(200, {"tenant": self.headers.get(contract.TENANT_HEADER), "path": self.path})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw)
        if body.get("request_id") == "unknown":
            return self.answer(
                404,
                {"error": {"message": "no such request", "type": "invalid_request_error", "code": "request_not_found"}},
            )
        self.answer(201, {"request_id": body["request_id"], "rating": body["rating"]}, raw)

    def answer(self, status: int, document: dict, raw: bytes = b"") -> None:
        self.server.recorder.requests.append((self.command, self.path, dict(self.headers), raw))
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(port: int, handler: type[BaseHTTPRequestHandler]) -> Iterator[Recorder]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.recorder = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Gateway:
    staged: gateway_harness.StagedGateway
    keys: dict[str, str]
    engine: Recorder

    def call(self, tenant: str, method: str, path: str, **kwargs) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}", **kwargs.pop("headers", {})}
        return httpx2.request(method, self.staged.http_url + path, headers=headers, timeout=30, **kwargs)

    def chat(self, tenant: str, **extra) -> httpx2.Response:
        return self.call(tenant, "POST", "/v1/chat/completions", json=CHAT | extra)

    def write_quota(self, tenant: str, used: int, resets_in_s: float = 3600) -> None:
        """The tenant's state file, as hx-usage writes it: a temp file renamed into place."""
        resets_at = int(time.time() + resets_in_s)
        state = {"day": time.strftime("%Y-%m-%d"), "used_tokens": used, "resets_at": resets_at}
        self.write_raw(tenant, json.dumps(state))

    def write_raw(self, tenant: str, text: str) -> None:
        temp = self.staged.quota_dir / f".{tenant}.tmp"
        temp.write_text(text)
        temp.rename(self.staged.quota_dir / f"{tenant}.json")


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Gateway]:
    keys, entries = {}, []
    for tenant in TENANTS:
        key_id, key = new_key()
        keys[tenant] = key
        entries.append({"id": key_id, "tenant": tenant, "sha256": hash_key(key), "expires": None})
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), entries)
    with serving(ENGINE_PORT, Engine) as engine:
        proc = gateway_harness.start(staged)
        try:
            yield Gateway(staged, keys, engine)
        finally:
            gateway_harness.stop(proc)


@pytest.fixture
def gateway(running: Gateway) -> Gateway:
    """The shared gateway with no quota state and an empty record: each test writes its own."""
    for path in running.staged.quota_dir.iterdir():
        path.unlink()
    running.engine.requests.clear()
    return running


def quota_headers(response: httpx2.Response) -> tuple[str | None, str | None, str | None]:
    h = response.headers
    return (
        h.get(contract.HEADER_QUOTA_LIMIT),
        h.get(contract.HEADER_QUOTA_REMAINING),
        h.get(contract.HEADER_QUOTA_RESET),
    )


def log_of(gateway: Gateway, response: httpx2.Response) -> dict:
    return gateway_harness.access_log_line(gateway.staged, response.headers["x-request-id"])


# --- enforcement -------------------------------------------------------------------------------


def test_a_tenant_under_its_quota_is_served_with_its_quota_headers(gateway):
    gateway.write_quota("small", used=40, resets_in_s=3600)
    response = gateway.chat("small")
    assert response.status_code == 200, response.text
    limit, remaining, reset = quota_headers(response)
    assert (limit, remaining) == ("100", "60")
    assert 3500 < int(reset) <= 3600
    assert "retry-after" not in response.headers
    assert log_of(gateway, response)["quota"] == ""


def test_an_engine_error_carries_the_quota_headers_too(gateway):
    gateway.write_quota("small", used=40)
    response = gateway.chat("small", max_tokens=-1)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "max_tokens < 0"  # the engine's own error
    assert quota_headers(response)[:2] == ("100", "60")


@pytest.mark.parametrize("stream", [False, True])
def test_a_tenant_at_its_quota_is_refused_until_the_reset(gateway, stream):
    gateway.write_quota("small", used=QUOTA + 5, resets_in_s=1800)
    response = gateway.chat("small", stream=stream)
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", contract.QUOTA_EXCEEDED_CODE)
    assert "daily quota of 100 tokens" in error["message"] and "resets at" in error["message"]
    retry_after = response.headers.get_list("retry-after")
    assert len(retry_after) == 1, retry_after  # not also the rate limit's "1"
    assert 1700 < int(retry_after[0]) <= 1800
    limit, remaining, reset = quota_headers(response)
    assert (limit, remaining, reset) == ("100", "0", retry_after[0])
    assert gateway.engine.requests == []  # the engine never saw it
    line = log_of(gateway, response)  # parsed as JSON: the line stays valid
    assert (line["status"], line["tenant"], line["model"], line[contract.LOG_QUOTA_FIELD]) == (
        429,
        "small",
        MODEL,
        "exceeded",
    )


def test_other_tenants_are_not_held_by_a_tenant_over_its_quota(gateway):
    gateway.write_quota("small", used=QUOTA)
    gateway.write_quota("large", used=500)  # its own quota, not its tier's 100
    gateway.write_quota("unmetered", used=10**9)  # no quota: the file is never read
    assert gateway.chat("small").status_code == 429
    large = gateway.chat("large")
    assert large.status_code == 200 and quota_headers(large)[:2] == ("1000000", "999500")
    unmetered = gateway.chat("unmetered")
    assert unmetered.status_code == 200 and quota_headers(unmetered) == (None, None, None)


def test_a_passed_reset_serves_the_tenant_again(gateway):
    gateway.write_quota("small", used=QUOTA, resets_in_s=2)
    assert gateway.chat("small").status_code == 429
    deadline = time.monotonic() + 10
    while (response := gateway.chat("small")).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert response.status_code == 200
    # A new day that hx-usage has not counted yet: nothing used, the reset not known yet.
    assert quota_headers(response) == ("100", "100", None)


@pytest.mark.parametrize(
    "text",
    ["{not json", "", "null", "[]", '{"used_tokens": "lots", "resets_at": 4102444800}', '{"used_tokens": 500}'],
)
def test_an_unreadable_quota_file_fails_open(gateway, text):
    gateway.write_raw("small", text)
    response = gateway.chat("small")
    assert response.status_code == 200
    assert quota_headers(response) == ("100", "100", None)


def test_a_missing_quota_file_is_nothing_used(gateway):
    response = gateway.chat("small")
    assert response.status_code == 200 and quota_headers(response) == ("100", "100", None)


# --- streams are counted --------------------------------------------------------------------


@pytest.mark.parametrize("options", [None, {}, {"include_usage": False}, {"continuous_usage_stats": False}])
def test_a_stream_is_asked_for_its_usage_and_the_log_counts_it(gateway, options):
    extra = {"stream": True} | ({"stream_options": options} if options is not None else {})
    response = gateway.chat("unmetered", **extra)
    assert response.status_code == 200
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: {")]
    assert json.loads(events[-1])["choices"] == [] and json.loads(events[-1])["usage"] == USAGE
    ((_, _, _, sent),) = gateway.engine.requests
    assert json.loads(sent)["stream_options"] == (options or {}) | {"include_usage": True}
    line = log_of(gateway, response)
    assert (line["prompt_tokens"], line["completion_tokens"]) == (7, 5)


def test_requests_that_need_no_usage_chunk_are_forwarded_as_sent(gateway):
    asked = json.dumps(CHAT | {"stream": True, "stream_options": {"include_usage": True}})
    plain = json.dumps(CHAT)
    for text in (asked, plain):
        response = gateway.call("unmetered", "POST", "/v1/chat/completions", content=text,
                                headers={"Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 200
    assert [r[3].decode() for r in gateway.engine.requests] == [asked, plain]


# --- the usage endpoints -----------------------------------------------------------------------


def test_usage_reaches_hx_usage_as_the_authenticated_tenant(gateway):
    with serving(gateway.staged.usage_port, UsageService) as usage:
        response = gateway.call("small", "GET", "/v1/usage", headers={contract.TENANT_HEADER: "boss"})
    assert response.status_code == 200, response.text
    assert response.json() == {"tenant": "small", "path": contract.USAGE_PATH}
    ((method, path, headers, _),) = usage.requests
    assert (method, path) == ("GET", contract.USAGE_PATH)
    assert headers["X-Request-ID"] == response.headers["x-request-id"]
    assert "Authorization" not in headers or headers["Authorization"] == ""


def test_feedback_reaches_hx_usage_with_its_body_and_its_answers_pass(gateway):
    feedback = {"request_id": "abc", "rating": 4, "comment": "good"}
    with serving(gateway.staged.usage_port, UsageService) as usage:
        stored = gateway.call("small", "POST", "/v1/feedback", json=feedback, headers={contract.TENANT_HEADER: "x"})
        unknown = gateway.call("small", "POST", "/v1/feedback", json={"request_id": "unknown", "rating": 1})
    assert (stored.status_code, stored.json()) == (201, {"request_id": "abc", "rating": 4})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "request_not_found")
    (_, path, headers, body), _ = usage.requests
    assert (path, headers[contract.TENANT_HEADER], json.loads(body)) == (contract.FEEDBACK_PATH, "small", feedback)


def test_admin_usage_is_for_admins_and_operators(gateway):
    with serving(gateway.staged.usage_port, UsageService) as usage:
        answers = {who: gateway.call(who, "GET", "/admin/usage") for who in ("boss", "watcher", "small", "viewer")}
    assert {who: r.status_code for who, r in answers.items()} == {
        "boss": 200,
        "watcher": 200,
        "small": 403,
        "viewer": 403,
    }
    assert [(r[1], r[2][contract.TENANT_HEADER]) for r in usage.requests] == [
        (contract.ADMIN_USAGE_PATH, "boss"),
        (contract.ADMIN_USAGE_PATH, "watcher"),
    ]


def test_roles_without_the_usage_permission_are_refused(gateway):
    with serving(gateway.staged.usage_port, UsageService) as usage:
        read = gateway.call("viewer", "GET", "/v1/usage")
        rate = gateway.call("watcher", "POST", "/v1/feedback", json={"request_id": "abc", "rating": 5})
    for response in (read, rate):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "endpoint_not_allowed"
    assert usage.requests == []


def test_hx_usage_down_is_a_503_in_the_openai_format(gateway):
    response = gateway.call("small", "GET", "/v1/usage")  # nothing listens on the usage port
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["retry-after"] == "5"


def test_without_usage_accounting_the_usage_endpoints_do_not_exist(tmp_path):
    key_id, key = new_key()
    entry = {"id": key_id, "tenant": "streamer", "sha256": hash_key(key), "expires": None}
    staged = gateway_harness.stage(DATA / "gateway-stream/hx.yaml", tmp_path / "gateway", [entry])
    proc = gateway_harness.start(staged)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        answers = [
            httpx2.request(method, staged.http_url + path, headers=headers, json={}, timeout=30)
            for method, path in (("GET", "/v1/usage"), ("POST", "/v1/feedback"), ("GET", "/admin/usage"))
        ]
    finally:
        gateway_harness.stop(proc)
    assert [(r.status_code, r.json()["error"]["code"]) for r in answers] == [(404, "unknown_path")] * 3
