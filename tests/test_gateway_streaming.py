"""Streams through the gateway, against stand-in upstreams whose answers the tests control.

Two properties that a real engine cannot show reliably on two busy cores:

- **Events pass as they come** (proxy buffering is off for streams). vLLM's API server now and
  then falls behind its engine and delivers a whole stream at once, so the stand-in here sends
  its events in lockstep with the client: it sends event i, then waits until the client has
  received event i before it generates event i + 1. Through a buffering proxy the client sees
  nothing until the stream ends, so the stand-in's wait for the first event times out; through
  the gateway every wait ends with the client's receipt. No assertion depends on speed.
- **A failed variant is retried only before the first byte.** A route's variant that answers 503
  is replaced by the route's other variant; a stream that has begun and then breaks is never
  replayed on another engine (the client has seen part of one answer).

The real engine's streams are tested for correctness (chunks, usage, access log) in
tests/test_gateway.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gateway_harness
import httpx2
import pytest
from conftest import DATA

from hxgen.keys import hash_key, new_key
from hxgen.pipeline import render_file

pytestmark = pytest.mark.tools

SPEC = DATA / "gateway-stream/hx.yaml"
PORTS = {m.name: m.port for m in render_file(SPEC).plan.models}
EVENTS = 20
# Long enough that a delivered event is never mistaken for a held one on a loaded machine; only
# a failing run ever waits this long (once: after the first miss the stand-in stops waiting).
RECEIPT_TIMEOUT_S = 10.0


@dataclass
class Lockstep:
    """The stand-in's and the client's shared view of one stream."""

    receipt_timeout_s: float = RECEIPT_TIMEOUT_S
    received: list[threading.Event] = field(default_factory=lambda: [threading.Event() for _ in range(EVENTS)])
    in_step: list[bool] = field(default_factory=list)
    """Per event: did the client have it before the next one was generated?"""


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
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode()  # compact, as vLLM writes it


class StandIn(BaseHTTPRequestHandler):
    """An engine that answers every POST with `self.server.answer(self)`."""

    protocol_version = "HTTP/1.1"  # the gateway keeps upstream connections alive

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        self.server.answer(self)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.send_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, *args) -> None:  # quiet: pytest shows failures, not access lines
        pass


Answer = Callable[[StandIn], None]


def lockstep_stream(step: Lockstep) -> Answer:
    def answer(handler: StandIn) -> None:
        handler.start_stream()
        waiting = True
        for i in range(EVENTS):
            handler.send_chunk(chunk(i, usage=i == EVENTS - 1))
            if waiting:
                got_it = step.received[i].wait(step.receipt_timeout_s)
                step.in_step.append(got_it)
                waiting = got_it  # held once is enough to fail; don't wait out every event
        handler.end_stream()

    return answer


def whole_stream(handler: StandIn) -> None:
    handler.start_stream()
    for i in range(EVENTS):
        handler.send_chunk(chunk(i, usage=i == EVENTS - 1))
    handler.end_stream()


def unavailable(handler: StandIn) -> None:
    """What an engine that is overloaded or starting says, before any byte of an answer."""
    handler.send_response(503)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"{}")


def ends_after_the_client_left(client_left: threading.Event) -> Answer:
    """A whole stream, usage and [DONE] included, whose end of response (the chunked encoding's
    last chunk) the engine sends only once the client has read [DONE] and hung up: the order a
    busy engine and a quick client sometimes produce."""

    def answer(handler: StandIn) -> None:
        handler.start_stream()
        for i in range(EVENTS):
            handler.send_chunk(chunk(i, usage=i == EVENTS - 1))
        handler.send_chunk(b"data: [DONE]\n\n")
        client_left.wait(RECEIPT_TIMEOUT_S)
        with contextlib.suppress(OSError):  # nginx may have closed its side already
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()

    return answer


def breaks_after_one_event(handler: StandIn) -> None:
    """An engine that dies mid-answer: one event, then the connection drops."""
    handler.start_stream()
    handler.send_chunk(chunk(0))
    handler.close_connection = True


@contextmanager
def stand_in(port: int, answer: Answer) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), StandIn)
    server.answer, server.requests = answer, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def key() -> tuple[str, dict]:
    key_id, key = new_key()
    return key, {"id": key_id, "tenant": "streamer", "sha256": hash_key(key), "expires": None}


@contextmanager
def gateway(tmp_path, key, conf_edit=lambda text: text) -> Iterator[httpx2.Client]:
    """A client of the rendered gateway; `client.staged` is the gateway (its logs)."""
    staged = gateway_harness.stage(SPEC, tmp_path / "gateway", [key[1]])
    staged.conf.write_text(conf_edit(staged.conf.read_text()))
    proc = gateway_harness.start(staged)
    try:
        headers = {"Authorization": f"Bearer {key[0]}"}
        with httpx2.Client(base_url=staged.http_url, headers=headers, timeout=60) as http:
            http.staged = staged
            yield http
    finally:
        gateway_harness.stop(proc)


def stream(http: httpx2.Client, model: str, on_event=lambda count: None) -> tuple[int, list[str]]:
    """POST a streamed completion; the status and the text of each event, as they arrive."""
    texts = []
    body = {"model": model, "prompt": "once", "max_tokens": EVENTS, "stream": True}
    with http.stream("POST", "/v1/completions", json=body) as response:
        if response.status_code != 200:
            return response.status_code, []
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    texts.append(json.loads(line.removeprefix("data: "))["choices"][0]["text"])
                    on_event(len(texts))
        except httpx2.RemoteProtocolError:
            pass  # a stream cut short: the caller checks what arrived
    return 200, texts


def lockstep_through_gateway(tmp_path, key, step: Lockstep, conf_edit=lambda text: text) -> list[str]:
    with stand_in(PORTS["paced"], lockstep_stream(step)), gateway(tmp_path, key, conf_edit) as http:
        status, texts = stream(http, "paced", on_event=lambda count: step.received[count - 1].set())
    assert status == 200
    return texts


# --- pacing ---------------------------------------------------------------------------------


def test_each_event_reaches_the_client_before_the_next_is_generated(tmp_path, key):
    step = Lockstep()
    texts = lockstep_through_gateway(tmp_path, key, step)
    assert texts == [f"t{i}" for i in range(EVENTS)]
    assert step.in_step == [True] * EVENTS, "the gateway held events back until later ones were generated"


def test_the_lockstep_catches_a_buffering_gateway(tmp_path, key):
    """The same stream with the gateway's proxy buffering turned back on: the test above fails."""

    def buffered(text: str) -> str:
        assert "proxy_buffering off;" in text
        return text.replace("proxy_buffering off;", "proxy_buffering on;")

    # A buffering proxy holds the first event until the stream ends, however long one waits.
    step = Lockstep(receipt_timeout_s=1.0)
    texts = lockstep_through_gateway(tmp_path, key, step, buffered)
    assert texts == [f"t{i}" for i in range(EVENTS)]  # everything arrives, but late
    assert step.in_step == [False]


# --- retries across a route's variants ------------------------------------------------------


def test_a_variant_that_fails_before_answering_is_replaced_by_the_other(tmp_path, key):
    """The split draws a variant per request; requests go on until it has drawn the unavailable
    one (each draw is even odds: 64 misses in a row would take 2^64 tries). Every client still
    gets the other variant's whole answer."""
    with ExitStack() as stack:
        down = stack.enter_context(stand_in(PORTS["paced"], unavailable))
        stack.enter_context(stand_in(PORTS["paced-b"], whole_stream))
        with gateway(tmp_path, key) as http:
            outcomes = []
            while down.requests == 0 and len(outcomes) < 64:
                outcomes.append(stream(http, "duo"))
    assert down.requests == 1  # then passive health keeps it out of the split for a while
    assert outcomes == [(200, [f"t{i}" for i in range(EVENTS)])] * len(outcomes)


def test_a_stream_that_broke_after_its_first_event_is_not_replayed(tmp_path, key):
    """Both variants break after one event: the client gets the one event of one engine, and no
    engine is asked again for an answer the client has already begun to receive."""
    with ExitStack() as stack:
        servers = [stack.enter_context(stand_in(PORTS[name], breaks_after_one_event)) for name in ("paced", "paced-b")]
        with gateway(tmp_path, key) as http:
            status, texts = stream(http, "duo")
        asked = sum(s.requests for s in servers)
    assert (status, texts) == (200, ["t0"])
    assert asked == 1


# --- usage accounting -----------------------------------------------------------------------


def test_a_stream_whose_client_hung_up_after_done_is_still_counted(tmp_path, key):
    """The client closes on [DONE], before nginx has seen the engine's end of response: the
    usage in the last event has passed through the gateway all the same, and the log counts it."""
    client_left = threading.Event()
    with stand_in(PORTS["paced"], ends_after_the_client_left(client_left)), gateway(tmp_path, key) as http:
        body = {"model": "paced", "prompt": "once", "max_tokens": EVENTS, "stream": True}
        with http.stream("POST", "/v1/completions", json=body) as response:
            request_id = response.headers["x-request-id"]
            for line in response.iter_lines():
                if line == "data: [DONE]":
                    break
        client_left.set()  # the response is closed: its connection is gone
        entry = gateway_harness.access_log_line(http.staged, request_id)
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (1, EVENTS)
