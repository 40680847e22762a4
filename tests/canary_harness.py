"""A host for canary rollouts, end to end on real components, shared by tests/test_canary_rollout.py
and benchmarks/canary.py: two vLLM CPU servers (tests/data/canary/hx.yaml: tiny-a stable, tiny-b
the canary), the real gateway, hx-usage following its access log into PostgreSQL behind
PgBouncer, hx-control behind the gateway with its rollout loop, and Prometheus and Alertmanager
with the configuration and rules hxgen renders, their addresses moved to loopback ports.

The steady load is closed-loop (a few clients, one request after another), so that what the
engines answer on two cores stays bounded; every answer is kept, with the variant that gave it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import engines
import gateway_harness
import requests
import usage_harness
import yaml
from control_harness import Running, audit_config, rendered_config, serving_behind
from pg_harness import PgCluster, pg_cluster
from prometheus_harness import PrometheusServer
from test_alertmanager import Webhook
from test_real_tools import tool

from hxgen.keys import KeyEntry, hash_key, new_key
from hxgen.pipeline import render_file

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests/data/canary/hx.yaml"
PLAN = render_file(SPEC).plan
ROUTE = next(iter(c.route for c in PLAN.canaries))
CANARY = PLAN.canaries[0].canary.name
STABLE = PLAN.canaries[0].stable[0].name
TENANTS = {"admin": "root", "user": "acme"}
CHAT = {"model": ROUTE, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}
WEBHOOK_PLACEHOLDER = "http://127.0.0.1:9/"
RULES = ("hx-canary.yml",)
"""Only the canary's rules: the others read exporters this host does not run."""
Files = dict[str, str]
"""Rendered path -> text."""


@dataclass
class Answer:
    sent: float
    at: float
    status: int
    variant: str
    version: str
    """X-HX-Variant-Version: the models[].version of the variant."""


@dataclass
class Load:
    """Clients sending CHAT one after another until stopped."""

    url: str
    key: str
    clients: int = 3
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.answers

    def _client(self) -> None:
        # A new connection for each request: an idle keep-alive connection that nginx closes at a
        # reload can meet a request already sent on it, which no gateway can answer (clients retry
        # those); every rollout step reloads nginx.
        headers = {"Authorization": f"Bearer {self.key}", "Connection": "close"}
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                r = requests.post(f"{self.url}/v1/chat/completions", json=CHAT, headers=headers, timeout=60)
                status, variant = r.status_code, r.headers.get("X-HX-Variant", "")
                version = r.headers.get("X-HX-Variant-Version", "")
            except requests.RequestException:
                status, variant, version = 0, "", ""
            self.answers.append(Answer(sent, time.monotonic(), status, variant, version))


@dataclass
class CanaryHost:
    tmp: Path
    staged: gateway_harness.StagedGateway
    keys: dict[str, str]
    control: Running
    prometheus: PrometheusServer
    webhook: Webhook
    engines: dict[str, engines.Engine]
    weights_cache: Path

    # --- what the gateway serves -----------------------------------------------------------------
    def live_split(self) -> list[list]:
        """The route's split as the running nginx loaded it ([[served name, cumulative], ...])."""
        url = f"http://127.0.0.1:{self.staged.status_port}/weights"
        return requests.get(url, timeout=5).json().get(ROUTE, [])

    def canary_weight(self) -> int:
        previous = 0
        for name, bound in self.live_split():
            if name == CANARY:
                return bound - previous
            previous = bound
        return 0

    def load(self) -> Load:
        return Load(self.staged.http_url, self.keys["user"]).start()

    # --- hx-control through the gateway ------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.keys['admin']}"}
        return requests.request(
            method, f"{self.staged.http_url}/admin/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def rollout(self) -> dict:
        response = self.api("GET", f"/rollouts/{ROUTE}")
        assert response.status_code == 200, response.text
        return response.json()

    def restart_rollout(self) -> None:
        """A fresh rollout from the first step, whatever the last one ended in."""
        if self.rollout()["phase"] in ("rolled_back", "succeeded"):
            response = self.api("POST", f"/rollouts/{ROUTE}/restart")
            assert response.status_code == 200, response.text

    # --- the canary's engine -----------------------------------------------------------------
    def stop_canary(self) -> None:
        engines.stop_engines([self.engines[CANARY]])

    def ensure_canary_running(self) -> None:
        engine = self.engines[CANARY]
        if engine.process.poll() is None:
            return
        self.engines[CANARY] = _start(engine.model, self.weights_cache, self.tmp / "engines")
        engines.wait_healthy([self.engines[CANARY]])

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        key_file = self.tmp / "admin.key"
        key_file.write_text(self.keys["admin"] + "\n")
        command = [
            sys.executable,
            "-m",
            "hxgen",
            *args,
            "--host",
            self.staged.http_url,
            "--api-key-file",
            str(key_file),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)


def wait_for(condition: Callable[[], object], what: str, timeout_s: float, every_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(every_s)
    return found


def _start(model, cache: Path, work: Path) -> engines.Engine:
    weights = engines.tiny_model(cache, model.source["seed"])
    return engines.start_engine(model, weights, work / model.name, work / f"{model.name}.log")


def _keys() -> tuple[dict[str, str], list[dict]]:
    keys, entries = {}, []
    for role, tenant in TENANTS.items():
        key_id, key = new_key()
        keys[role] = key
        entries.append(KeyEntry(key_id, tenant, hash_key(key), dt.date.today()).as_dict())
    return keys, entries


@contextlib.contextmanager
def _usage(tmp: Path, staged: gateway_harness.StagedGateway, cluster: PgCluster, rendered: Files) -> Iterator[None]:
    config = usage_harness.behind_gateway(tmp, rendered["rendered/usage/usage.json"], staged, cluster)
    command = [sys.executable, "-m", "hxgen.usage.cli", "--config", str(config)]
    subprocess.run([*command, "migrate"], check=True, capture_output=True, timeout=60)
    with (tmp / "hx-usage.log").open("w") as journal:
        process = subprocess.Popen([*command, "serve"], stdout=journal, stderr=subprocess.STDOUT, env=os.environ)
        try:
            gateway_harness.wait_listening(staged.usage_port, process, 30, "hx-usage")
            yield
        finally:
            gateway_harness.stop(process, 30)


def _prometheus_config(
    tmp: Path, staged: gateway_harness.StagedGateway, alertmanager_port: int, rendered: Files
) -> str:
    """The rendered configuration: the models' jobs (the engines listen on the spec's ports),
    hx-usage's and hx-control's moved to the staged ports, the canary's rules, this Alertmanager."""
    config = yaml.safe_load(rendered["rendered/prometheus/prometheus.yml"])
    moved = {"usage": staged.usage_port, "control": staged.control_port}
    jobs = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        if name in moved:
            job["static_configs"][0]["targets"] = [f"127.0.0.1:{moved[name]}"]
        if name in moved or name.startswith("model-"):
            jobs.append(job)
    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    for name in RULES:
        (rules / name).write_text(rendered[f"rendered/prometheus/rules/{name}"])
    config |= {
        "scrape_configs": jobs,
        "rule_files": [str(rules / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
    }
    return yaml.safe_dump(config, sort_keys=False)


@contextlib.contextmanager
def _alertmanager(tmp: Path, webhook: Webhook, rendered: Files) -> Iterator[int]:
    conf = tmp / "alertmanager.yml"
    conf.write_text(
        rendered["rendered/alertmanager/alertmanager.yml"].replace(
            WEBHOOK_PLACEHOLDER, f"http://127.0.0.1:{webhook.port}/"
        )
    )
    port = gateway_harness.free_port()
    command = [tool("prometheus-alertmanager"), f"--config.file={conf}", f"--storage.path={tmp / 'am-data'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    with (tmp / "alertmanager.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            gateway_harness.wait_listening(port, process, 30, "alertmanager")
            yield port
        finally:
            gateway_harness.stop(process)


@contextlib.contextmanager
def canary_host(tmp: Path, spec: Path = SPEC) -> Iterator[CanaryHost]:
    """spec: SPEC, or a variant of it with the same models and route (benchmarks/canary.py's defaults)."""
    rendered = {a.path: a.text for a in render_file(spec).artifacts}
    keys, entries = _keys()
    staged = gateway_harness.stage(spec, tmp / "gateway", entries)
    cache = ROOT / ".cache/tiny-models"
    work = tmp / "engines"
    started = {m.name: _start(m, cache, work) for m in PLAN.models}
    webhook = Webhook()
    nginx = None
    try:
        with pg_cluster(bouncer=True, retention=True) as cluster, _alertmanager(tmp, webhook, rendered) as am_port:
            prometheus = PrometheusServer(tmp / "prometheus-data", gateway_harness.free_port())
            prometheus.config.write_text(_prometheus_config(tmp, staged, am_port, rendered))
            prometheus.start()
            engines.wait_healthy(list(started.values()))
            nginx = gateway_harness.start(staged)
            (tmp / "control").mkdir()
            data = rendered_config(spec) | {
                "audit_config": str(audit_config(tmp / "control")),
                "prometheus_url": prometheus.url,
                "gateway_status_url": f"http://127.0.0.1:{staged.status_port}/weights",
            }
            with (
                _usage(tmp, staged, cluster, rendered),
                serving_behind(staged, tmp / "control", cluster, data, entries) as control,
            ):
                yield CanaryHost(tmp, staged, keys, control, prometheus, webhook, started, cache)
            prometheus.stop()
    finally:
        if nginx is not None:
            gateway_harness.stop(nginx)
        engines.stop_engines(list(started.values()))
        webhook.server.shutdown()
