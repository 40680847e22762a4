"""The rendered Alertmanager configuration, run by a real Alertmanager that delivers to a webhook
receiver of this test: routing by severity, the Watchdog's own route, and inhibition.

Spec: tests/data/alerting/hx.yaml (pages to `oncall`, tickets to `chat`, the Watchdog to
`deadman`); its webhook URLs are pointed at this test's receiver.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from conftest import DATA
from test_real_tools import rendered_tree, tool

SPEC = DATA / "alerting/hx.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """Collects what Alertmanager posts, by path (/oncall, /chat, /deadman)."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = defaultdict(list)
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received[self.path].append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, path: str) -> set[tuple[str, str]]:
        """(alertname, model) of every firing alert delivered to this path."""
        return {
            (a["labels"]["alertname"], a["labels"].get("model", ""))
            for message in self.received[path]
            for a in message["alerts"]
            if a["status"] == "firing"
        }


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> tuple[Path, Webhook]:
    tmp = tmp_path_factory.mktemp("alertmanager")
    webhook = Webhook()
    rendered = rendered_tree(SPEC, tmp / "out") / "rendered/alertmanager/alertmanager.yml"
    conf = tmp / "alertmanager.yml"
    conf.write_text(rendered.read_text().replace("http://127.0.0.1:9/", f"http://127.0.0.1:{webhook.port}/"))
    yield conf, webhook
    webhook.server.shutdown()


@pytest.fixture(scope="module")
def alertmanager(config, tmp_path_factory):
    conf, webhook = config
    port = _free_port()
    storage = tmp_path_factory.mktemp("alertmanager-data")
    process = subprocess.Popen(
        [
            tool("prometheus-alertmanager"),
            f"--config.file={conf}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url, webhook
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            if requests.get(f"{url}/-/ready", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("Alertmanager did not become ready")


def _fire(url: str, *alerts: dict[str, str]) -> None:
    host = {"hx_host": "hx-alerting-test"}  # Prometheus adds it to every alert (external label)
    body = [{"labels": host | labels, "annotations": {"summary": "test"}} for labels in alerts]
    requests.post(f"{url}/api/v2/alerts", json=body, timeout=5).raise_for_status()


def _wait_for(webhook: Webhook, path: str, expected: set, timeout_s: float = 20) -> set:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not expected <= webhook.alerts(path):
        time.sleep(0.2)
    return webhook.alerts(path)


def test_amtool_routes_each_severity_to_its_receiver(config):
    conf, _ = config
    cases = {
        "oncall": ["alertname=HxErrorBudgetBurn", "severity=page", "model=tiny-a", "slo=ttft"],
        "chat": ["alertname=HxDiskFillingUp", "severity=ticket"],
        "deadman": ["alertname=Watchdog", "severity=none"],
    }
    for receiver, labels in cases.items():
        result = subprocess.run(
            [tool("amtool"), "config", "routes", "test", f"--config.file={conf}", *labels],
            capture_output=True,
            text=True,
        )
        assert result.stdout.strip() == receiver, (labels, result.stdout, result.stderr)


def test_pages_tickets_and_the_watchdog_reach_their_receivers(alertmanager):
    url, webhook = alertmanager
    _fire(
        url,
        {"alertname": "HxErrorBudgetBurn", "severity": "page", "model": "tiny-b", "slo": "availability"},
        {"alertname": "HxHostMemoryHigh", "severity": "ticket"},
        {"alertname": "Watchdog", "severity": "none"},
    )
    assert ("HxErrorBudgetBurn", "tiny-b") in _wait_for(webhook, "/oncall", {("HxErrorBudgetBurn", "tiny-b")})
    assert ("HxHostMemoryHigh", "") in _wait_for(webhook, "/chat", {("HxHostMemoryHigh", "")})
    assert _wait_for(webhook, "/deadman", {("Watchdog", "")}) == {("Watchdog", "")}
    # The Watchdog is for the dead man's switch only, never for people.
    assert ("Watchdog", "") not in webhook.alerts("/oncall") | webhook.alerts("/chat")


def test_a_model_that_is_down_silences_its_latency_and_a_page_silences_its_ticket(alertmanager):
    url, webhook = alertmanager
    _fire(
        url,
        {"alertname": "HxModelDown", "severity": "page", "model": "tiny-a"},
        {"alertname": "HxErrorBudgetBurn", "severity": "page", "model": "tiny-a", "slo": "ttft"},
        {"alertname": "HxModelQueueGrowing", "severity": "ticket", "model": "tiny-a"},
        {"alertname": "HxAnomalySustained", "severity": "ticket", "model": "tiny-a", "series": "request-rate"},
        {"alertname": "HxErrorBudgetBurn", "severity": "ticket", "model": "tiny-b", "slo": "availability"},
        # A different model's ticket: not covered by any page, so it is delivered.
        {"alertname": "HxModelQueueGrowing", "severity": "ticket", "model": "tiny-b"},
    )
    oncall = _wait_for(webhook, "/oncall", {("HxModelDown", "tiny-a")})
    chat = _wait_for(webhook, "/chat", {("HxModelQueueGrowing", "tiny-b")})
    time.sleep(3)  # past the group wait of everything fired: what is muted stays muted
    oncall, chat = webhook.alerts("/oncall"), webhook.alerts("/chat")
    assert ("HxModelDown", "tiny-a") in oncall
    assert ("HxErrorBudgetBurn", "tiny-a") not in oncall  # its latency, explained by HxModelDown
    assert ("HxModelQueueGrowing", "tiny-a") not in chat  # a symptom of the same outage
    assert ("HxAnomalySustained", "tiny-a") not in chat  # its traffic falling to nothing, too
    # tiny-b's availability page (previous test, still firing) covers its availability ticket.
    assert ("HxErrorBudgetBurn", "tiny-b") not in chat
    assert ("HxModelQueueGrowing", "tiny-b") in chat
