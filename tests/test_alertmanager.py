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
def rendered(tmp_path_factory) -> str:
    """The rendered configuration, its webhook URLs still the spec's placeholder."""
    out = tmp_path_factory.mktemp("alertmanager") / "out"
    return (rendered_tree(SPEC, out) / "rendered/alertmanager/alertmanager.yml").read_text()


def _config(rendered: str, directory: Path, webhook_port: int) -> Path:
    conf = directory / "alertmanager.yml"
    conf.write_text(rendered.replace("http://127.0.0.1:9/", f"http://127.0.0.1:{webhook_port}/"))
    return conf


@pytest.fixture
def alertmanager(rendered, tmp_path):
    """A fresh Alertmanager and webhook for each test: no alert of one test is still firing in
    the next."""
    webhook = Webhook()
    conf = _config(rendered, tmp_path, webhook.port)
    port = _free_port()
    storage = tmp_path / "data"
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
        webhook.server.shutdown()


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


def _suppressed(url: str, expected: set[tuple[str, str]], timeout_s: float = 20) -> set[tuple[str, str]]:
    """(alertname, model) of the alerts Alertmanager holds back as inhibited, once `expected`
    are among them (Alertmanager's own account: no waiting to see that nothing arrives)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = requests.get(f"{url}/api/v2/alerts", timeout=5).json()
        found = {
            (a["labels"]["alertname"], a["labels"].get("model", ""))
            for a in alerts
            if a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]
        }
        if expected <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _wait_for(webhook: Webhook, path: str, expected: set, timeout_s: float = 20) -> set:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not expected <= webhook.alerts(path):
        time.sleep(0.2)
    return webhook.alerts(path)


def test_amtool_routes_each_severity_to_its_receiver(rendered, tmp_path):
    conf = _config(rendered, tmp_path, _free_port())
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
        # tiny-b's availability page covers its availability ticket.
        {"alertname": "HxErrorBudgetBurn", "severity": "page", "model": "tiny-b", "slo": "availability"},
        {"alertname": "HxErrorBudgetBurn", "severity": "ticket", "model": "tiny-b", "slo": "availability"},
        # A different model's ticket: not covered by any page, so it is delivered.
        {"alertname": "HxModelQueueGrowing", "severity": "ticket", "model": "tiny-b"},
    )
    muted = {
        ("HxErrorBudgetBurn", "tiny-a"),  # its latency, explained by HxModelDown
        ("HxModelQueueGrowing", "tiny-a"),  # a symptom of the same outage
        ("HxAnomalySustained", "tiny-a"),  # its traffic falling to nothing, too
        ("HxErrorBudgetBurn", "tiny-b"),  # the ticket under tiny-b's page
    }
    oncall = _wait_for(webhook, "/oncall", {("HxModelDown", "tiny-a"), ("HxErrorBudgetBurn", "tiny-b")})
    chat = _wait_for(webhook, "/chat", {("HxModelQueueGrowing", "tiny-b")})
    assert _suppressed(url, muted) == muted
    assert {("HxModelDown", "tiny-a"), ("HxErrorBudgetBurn", "tiny-b")} <= oncall
    assert ("HxErrorBudgetBurn", "tiny-a") not in oncall
    assert chat == {("HxModelQueueGrowing", "tiny-b")}
