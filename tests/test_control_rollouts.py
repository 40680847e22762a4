"""Canary rollouts in hx-control (hxgen.control.rollout) against a real PostgreSQL (behind
PgBouncer), a real audit log and the real state files: checks driven by rollouts.tick(now), with
a stand-in for Prometheus's query API (canned answers to /api/v1/query) and one for the gateway's
live-weights endpoint (it answers the state directory's route-weights.json, or a frozen copy).
The real Prometheus and nginx are the end-to-end test's."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from control_harness import Engine, config, migrate, reset, write_config
from pg_harness import free_port, pg_cluster
from starlette.testclient import TestClient

from hxgen.contracts import control as contract
from hxgen.control import config as config_mod
from hxgen.control.app import create_app
from hxgen.control.model import Caller, Conflict, Forbidden
from hxgen.control.rollout import Rollouts
from hxgen.control.service import HostControl

pytestmark = pytest.mark.tools

ADMIN = Caller("root", "admin", "k0000000")
READONLY = Caller("viewer", "readonly", "k0000001")
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
STEPS = [10, 50, 100]


class _Server:
    def __init__(self, answer) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Prometheus(_Server):
    """/api/v1/query: the gate's failing checks and the canary's request count, as set."""

    def __init__(self) -> None:
        self.failing: list[str] = []
        self.requests = 0.0
        self.queries: list[str] = []
        super().__init__(self._answer)

    def _answer(self, path: str):
        url = urllib.parse.urlsplit(path)
        promql = urllib.parse.parse_qs(url.query).get("query", [""])[0]
        self.queries.append(promql)
        if url.path != "/api/v1/query":
            return 404, {"status": "error", "error": "not found"}
        if promql.startswith("hx:canary_gate:failing"):
            result = [{"metric": {"route": "chat", "canary": "large", "check": c}, "value": [0, "1"]}
                      for c in self.failing]  # fmt: skip
        elif promql.startswith("sum(increase(hx_usage_variant_requests_total"):
            result = [{"metric": {}, "value": [0, str(self.requests)]}]
        elif promql.startswith("hx:canary_errors:ratio"):
            result = [{"metric": {"route": "chat", "variant": v, "role": r}, "value": [0, x]}
                      for v, r, x in (("large", "canary", "0.25"), ("small", "stable", "0.01"))]  # fmt: skip
        else:
            result = []
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


class GatewayStatus(_Server):
    """The live weights: the state directory's route-weights.json, or `frozen` (a gateway that has
    not reloaded) when set."""

    def __init__(self, state_dir: Path) -> None:
        self.file = state_dir / Path(contract.ROUTE_WEIGHTS).name
        self.frozen: dict | None = None
        super().__init__(
            lambda path: (200, self.frozen if self.frozen is not None else json.loads(self.file.read_text()))
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with pg_cluster() as c:
        engine = Engine()
        tmp = tmp_path_factory.mktemp("migrate")
        migrate(write_config(tmp, config(tmp, c, engine.port)))
        engine.close()
        yield c


@pytest.fixture
def prometheus():
    p = Prometheus()
    yield p
    p.close()


class Host:
    def __init__(self, tmp: Path, cluster, prometheus: Prometheus, **canary) -> None:
        reset(cluster)
        self.tmp = tmp
        self.status = GatewayStatus(tmp / "gateway")
        data = config(
            tmp, cluster, free_port(),
            routes={"chat": {"sticky": "tenant", "weights_owner": "control",
                             "split": [{"model": "small", "weight": 100}, {"model": "large", "weight": 0}],
                             "canary": {"model": "large", "version": "2", "steps_percent": STEPS, "step_min_s": 60,
                                        "step_min_requests": 5, "interval_s": 10, "failed_checks": 2,
                                        "promotion": "auto"} | canary}},
            prometheus_url=prometheus.url, gateway_status_url=self.status.url,
        )  # fmt: skip
        self.config = config_mod.load(write_config(tmp, data))
        self.control = HostControl(self.config)
        self.gate_errors: list[str] = []
        self.rollouts = Rollouts(self.control, on_gate_error=self.gate_errors.append, verify_timeout_s=1, poll_s=0.05)

    def tick(self, seconds: float):
        return self.rollouts.tick(T0 + dt.timedelta(seconds=seconds))["chat"]

    @property
    def weights(self) -> list:
        return json.loads((self.tmp / "gateway" / Path(contract.ROUTE_WEIGHTS).name).read_text())["chat"]

    def audit(self) -> list[dict]:
        log_dir = self.tmp / "audit" / "log"
        lines = [line for p in sorted(log_dir.glob("audit-*.jsonl")) for line in p.read_text().splitlines()]
        return [json.loads(line) for line in lines]

    def metrics(self) -> str:
        with TestClient(create_app(self.config, self.control)) as client:
            return client.get("/metrics").text

    def page(self, role: str = "readonly", tenant: str = "viewer") -> str:
        """The operator's page as the gateway passes a browser's request on."""
        headers = {"Host": "hx.test", "X-Forwarded-Proto": "https", contract.TENANT_HEADER: tenant,
                   contract.ROLE_HEADER: role, contract.KEY_ID_HEADER: "k0000001"}  # fmt: skip
        with TestClient(create_app(self.config, self.control)) as client:
            answer = client.get(contract.UI_PREFIX, headers=headers, follow_redirects=False)
        assert answer.status_code == 200, answer.text
        return answer.text

    def close(self) -> None:
        self.status.close()


@pytest.fixture
def host(cluster, prometheus, tmp_path, request):
    h = Host(tmp_path, cluster, prometheus, **getattr(request, "param", {}))
    yield h
    h.close()


def test_the_migration_makes_the_rollouts_table_through_hx_control_migrate(cluster):
    from control_harness import sql

    columns = {r[0] for r in sql(cluster, "SELECT column_name FROM information_schema.columns "
                                 "WHERE table_schema = 'hx_control' AND table_name = 'rollouts'")}  # fmt: skip
    assert columns == {"alias", "canary", "version", "phase", "step", "step_started", "failed_checks", "checks",
                       "reason", "verified", "changed", "changed_by"}  # fmt: skip


def test_a_canary_starts_at_its_first_step_live_and_verified(host):
    first = host.tick(0)
    assert first.action == contract.AUDIT_ROLLOUT_STARTED and first.verified
    assert host.weights == [["chat-small", 90], ["chat-large", 100]]
    shown = host.control.rollout(READONLY, "chat")
    assert (shown.phase, shown.step, shown.steps, shown.canary_weight) == ("progressing", 1, 3, 10)
    assert shown.verified is not None and shown.changed_by == contract.ROLLOUT_ACTOR
    started = [r for r in host.audit() if r["action"] == contract.AUDIT_ROLLOUT_STARTED]
    assert len(started) == 1 and started[0]["actor"] == contract.ROLLOUT_ACTOR
    assert started[0]["detail"]["split"] == [["small", 90], ["large", 10]]


def test_a_gate_failing_failed_checks_times_rolls_back_to_the_specs_split(host, prometheus):
    host.tick(0)
    prometheus.failing = ["errors_above_stable", "fast_burn"]
    once = host.tick(10)
    assert (
        once.action is None
        and once.state.failed_checks == 1
        and host.weights == [["chat-small", 90], ["chat-large", 100]]
    )
    back = host.tick(20)
    assert back.action == contract.AUDIT_ROLLOUT_ROLLED_BACK and back.verified
    assert host.weights == [["chat-small", 100]]  # the canary at 0 is left out
    record = [r for r in host.audit() if r["action"] == contract.AUDIT_ROLLOUT_ROLLED_BACK]
    assert len(record) == 1 and record[0]["actor"] == contract.ROLLOUT_ACTOR
    reason = record[0]["detail"]["reason"]
    assert "errors_above_stable" in reason and "fast_burn" in reason and "0.25" in reason, reason
    metrics = host.metrics()
    assert 'hx_control_rollout_phase{canary="large",phase="rolled_back",route="chat",version="2"} 1.0' in metrics
    assert 'hx_control_rollout_phase{canary="large",phase="progressing",route="chat",version="2"} 0.0' in metrics
    assert 'hx_control_rollout_canary_weight{canary="large",route="chat"} 0.0' in metrics
    assert 'hx_control_rollout_failed_checks{route="chat"} 2.0' in metrics
    page = host.page()
    assert 'id="rollouts"' in page and "rolled back" in page and "errors_above_stable" in page
    assert 'id="rollouts"' not in host.page("user", "acme")  # a user may not read rollouts
    prometheus.failing = []
    assert host.tick(1000).action is None and host.weights == [["chat-small", 100]]  # terminal until restarted


def test_a_passing_check_between_failures_resets_the_count(host, prometheus):
    host.tick(0)
    for seconds, failing in ((10, ["down"]), (20, []), (30, ["down"])):
        prometheus.failing = failing
        tick = host.tick(seconds)
    assert tick.state.phase == "progressing" and tick.state.failed_checks == 1


def test_a_holding_gate_advances_through_every_step_and_succeeds(host, prometheus):
    prometheus.requests = 100
    actions = [host.tick(s).action for s in (0, 30, 60, 120, 180, 240)]
    assert actions == [contract.AUDIT_ROLLOUT_STARTED, None, contract.AUDIT_ROLLOUT_ADVANCED,
                       contract.AUDIT_ROLLOUT_ADVANCED, contract.AUDIT_ROLLOUT_SUCCEEDED, None]  # fmt: skip
    assert host.weights == [["chat-large", 100]]
    assert any("[60s]" in q and 'variant="large"' in q for q in prometheus.queries)
    assert 'hx_control_rollout_phase{canary="large",phase="succeeded",route="chat",version="2"} 1.0' in host.metrics()
    advanced = [r["detail"]["split"] for r in host.audit() if r["action"] == contract.AUDIT_ROLLOUT_ADVANCED]
    assert advanced == [[["small", 50], ["large", 50]], [["small", 0], ["large", 100]]]
    # An operator may run the steps again (a fix that kept the version): back to the first step.
    restarted = host.control.restart_rollout(ADMIN, "chat")
    assert (restarted.phase, restarted.step, restarted.canary_weight) == ("progressing", 1, 10)


def test_too_few_requests_hold_the_step(host, prometheus):
    prometheus.requests = 4
    host.tick(0)
    assert host.tick(600).action is None and host.control.rollout(ADMIN, "chat").step == 1


@pytest.mark.parametrize("host", [{"promotion": "manual"}], indirect=True)
def test_manual_promotion_waits_then_promote_advances_with_the_caller_as_actor(host, prometheus):
    prometheus.requests = 100
    host.tick(0)
    assert host.tick(60).state.phase == "waiting" and host.tick(600).state.phase == "waiting"
    assert host.weights == [["chat-small", 90], ["chat-large", 100]]
    with pytest.raises(Forbidden):
        host.control.promote_rollout(READONLY, "chat")
    with pytest.raises(Conflict, match="rolled_back"):
        host.control.restart_rollout(ADMIN, "chat")
    promoted = host.control.promote_rollout(ADMIN, "chat")
    assert (promoted.phase, promoted.step, promoted.canary_weight, promoted.verified) == ("progressing", 2, 50, None)
    assert host.weights == [["chat-small", 50], ["chat-large", 100]]
    record = [r for r in host.audit() if r["action"] == contract.AUDIT_ROLLOUT_PROMOTED]
    assert len(record) == 1 and record[0]["actor"] == "root/k0000000"
    assert host.tick(610).verified  # the controller verifies what the promotion published


def test_a_step_stays_unverified_until_the_gateway_serves_its_split(host, prometheus):
    prometheus.requests = 100
    host.status.frozen = {"chat": [["chat-small", 100]]}  # the gateway has not reloaded
    first = host.tick(0)
    assert first.action == contract.AUDIT_ROLLOUT_STARTED and not first.verified
    assert host.control.rollout(ADMIN, "chat").verified is None
    assert host.tick(600).action is None  # an unverified step never advances
    host.status.frozen = None  # reloaded: the next check verifies the step first, then judges it
    assert host.tick(610).action == contract.AUDIT_ROLLOUT_ADVANCED
    assert host.control.rollout(ADMIN, "chat").verified is not None


def test_prometheus_unreachable_changes_nothing_and_is_counted(host, prometheus):
    host.tick(0)
    prometheus.failing = ["down"]
    host.tick(10)
    dead = f"http://127.0.0.1:{free_port()}"
    host.rollouts.config = host.config.model_copy(update={"prometheus_url": dead})
    for seconds in (20, 30, 40):
        tick = host.tick(seconds)
        assert tick.action is None and tick.gate_error and dead in tick.gate_error
    assert host.gate_errors == ["chat"] * 3
    assert host.control.rollout(ADMIN, "chat").failed_checks == 1  # neither reset nor raised


def test_a_rolled_back_rollout_restarts_and_a_running_one_refuses_a_second_start(host, prometheus):
    host.tick(0)
    prometheus.failing = ["down"]
    host.tick(10), host.tick(20)
    prometheus.failing = []
    restarted = host.control.restart_rollout(ADMIN, "chat")
    assert (restarted.phase, restarted.step, restarted.canary_weight) == ("progressing", 1, 10)
    assert [r["actor"] for r in host.audit() if r["action"] == contract.AUDIT_ROLLOUT_RESTARTED] == ["root/k0000000"]
    with pytest.raises(Conflict):
        host.control.restart_rollout(ADMIN, "chat")
    with pytest.raises(Conflict, match="rollout"):  # a running rollout owns the weights
        host.control.set_route_weights(ADMIN, "chat", host.control.routes(ADMIN)[0].spec_split)


def test_a_new_version_of_the_canary_starts_a_new_rollout(host, prometheus):
    host.tick(0)
    prometheus.failing = ["down"]
    host.tick(10), host.tick(20)
    data = json.loads((host.tmp / "control.json").read_text())
    data["routes"]["chat"]["canary"]["version"] = "3"  # the model was upgraded and converged
    host.control.config = host.rollouts.config = config_mod.load(write_config(host.tmp, data))
    prometheus.failing = []
    tick = host.tick(30)
    assert tick.action == contract.AUDIT_ROLLOUT_STARTED and (tick.state.version, tick.state.step) == ("3", 0)
    assert host.weights == [["chat-small", 90], ["chat-large", 100]]


def test_the_service_starts_the_rollout_thread_and_stops_it(host, prometheus):
    import requests
    from control_harness import serving

    data = json.loads((host.tmp / "control.json").read_text())
    with serving(host.tmp, data) as running:
        for _ in range(100):
            shown = running.call("GET", "/rollouts", role="readonly").json()
            if shown:
                break
            threading.Event().wait(0.1)
        assert shown and shown[0]["alias"] == "chat" and shown[0]["phase"] == "progressing", shown
        assert "hx_control_rollout_step" in requests.get(f"{running.url}/metrics", timeout=10).text


def test_the_rollout_thread_checks_on_its_own_and_stops_when_asked(host):
    host.rollouts.start()
    try:
        for _ in range(100):
            if host.control.stored_rollout("chat") is not None:
                break
            threading.Event().wait(0.1)
        assert host.control.stored_rollout("chat").phase == "progressing"
    finally:
        host.rollouts.stop(timeout_s=10)
    assert not host.rollouts._thread.is_alive()
