"""The gateway passes server-sent events on as they come: proxy buffering is off for streams.

Pacing cannot be tested reliably on a real engine on two busy cores (vLLM's API server now and
then falls behind its engine and delivers a whole stream at once), so the upstream here is a
stand-in that sends its events in lockstep with the client: it sends event i, then waits until
the client has received event i before it generates event i + 1. Through a buffering proxy the
client would see nothing until the stream ended, so the stand-in's wait for the first event
times out and the test fails; through the gateway every wait ends with the client's receipt.
No assertion depends on how fast anything runs. The real engine's streams are tested for
correctness (chunks, usage, access log) in tests/test_gateway.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gateway_harness
import httpx2
import pytest
from conftest import DATA

from hxgen.keys import hash_key, new_key
from hxgen.pipeline import check_file

SPEC = DATA / "gateway-stream/hx.yaml"
EVENTS = 20
# Long enough that a delivered event is never mistaken for a held one on a loaded machine; only
# a failing run ever waits this long (once: after the first miss the stand-in stops waiting).
RECEIPT_TIMEOUT_S = 10.0


class Lockstep:
    """The stand-in's and the client's shared view of one stream."""

    def __init__(self, receipt_timeout_s: float) -> None:
        self.receipt_timeout_s = receipt_timeout_s
        self.received = [threading.Event() for _ in range(EVENTS)]
        self.in_step: list[bool] = []  # per event: did the client have it before the next was made?


def chunk(index: int, usage: bool = False) -> bytes:
    body = {
        "id": "cmpl-paced",
        "object": "text_completion",
        "created": 0,
        "model": "paced",
        "choices": [{"index": 0, "text": f"t{index}", "finish_reason": None}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 1, "completion_tokens": EVENTS, "total_tokens": EVENTS + 1}
    return f"data: {json.dumps(body)}\n\n".encode()


def handler(step: Lockstep) -> type[BaseHTTPRequestHandler]:
    class PacedUpstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the gateway keeps upstream connections alive

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            waiting = True
            for i in range(EVENTS):
                self._send(chunk(i, usage=i == EVENTS - 1))
                if waiting:
                    got_it = step.received[i].wait(step.receipt_timeout_s)
                    step.in_step.append(got_it)
                    waiting = got_it  # held once is enough to fail; don't wait out every event
            self._send(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _send(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, *args) -> None:  # quiet: pytest shows failures, not access lines
            pass

    return PacedUpstream


@contextmanager
def paced_upstream(port: int, step: Lockstep) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(step))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def key() -> tuple[str, dict]:
    key_id, key = new_key()
    return key, {"id": key_id, "tenant": "streamer", "sha256": hash_key(key), "expires": None}


def stream_through_gateway(
    tmp_path, key, conf_edit=lambda text: text, receipt_timeout_s: float = RECEIPT_TIMEOUT_S
) -> tuple[Lockstep, list[str]]:
    secret, entry = key
    staged = gateway_harness.stage(SPEC, tmp_path / "gateway", [entry])
    staged.conf.write_text(conf_edit(staged.conf.read_text()))
    step = Lockstep(receipt_timeout_s)
    port = check_file(SPEC).spec.models[0].port
    with paced_upstream(port, step):
        proc = gateway_harness.start(staged)
        try:
            texts = []
            body = {"model": "paced", "prompt": "once", "max_tokens": EVENTS, "stream": True}
            headers = {"Authorization": f"Bearer {secret}"}
            with (
                httpx2.Client(base_url=staged.http_url, timeout=60) as http,
                http.stream("POST", "/v1/completions", json=body, headers=headers) as response,
            ):
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        texts.append(json.loads(line.removeprefix("data: "))["choices"][0]["text"])
                        step.received[len(texts) - 1].set()
        finally:
            gateway_harness.stop(proc)
    return step, texts


def test_each_event_reaches_the_client_before_the_next_is_generated(tmp_path, key):
    step, texts = stream_through_gateway(tmp_path, key)
    assert texts == [f"t{i}" for i in range(EVENTS)]
    assert step.in_step == [True] * EVENTS, "the gateway held events back until later ones were generated"


def test_the_lockstep_catches_a_buffering_gateway(tmp_path, key):
    """The same stream with the gateway's proxy buffering turned back on: the test above fails."""

    def buffered(text: str) -> str:
        assert "proxy_buffering off;" in text
        return text.replace("proxy_buffering off;", "proxy_buffering on;")

    # A buffering proxy holds the first event until the stream ends, however long one waits.
    step, texts = stream_through_gateway(tmp_path, key, buffered, receipt_timeout_s=1.0)
    assert texts == [f"t{i}" for i in range(EVENTS)]  # everything arrives, but late
    assert step.in_step == [False]
