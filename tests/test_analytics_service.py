"""hx-analytics against a real Prometheus holding two days of history: the one-shot cycle's
results, the daemon's exported series, and how it rides out Prometheus going away.

The configuration is the one hxgen renders for the sandbox, so the builtin queries (the hx:
recorded series) are the ones a host runs. prometheus and promtool come from the test set-up;
a missing one fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import ROOT
from gateway_harness import free_port
from prometheus_client.parser import text_string_to_metric_families
from prometheus_harness import PrometheusServer, Written, backfill

from hxgen.analytics.analysis import Analysis, Bounds
from hxgen.analytics.config import ConfigError, load_config
from hxgen.analytics.exporter import Snapshot
from hxgen.analytics.history import Member
from hxgen.analytics.service import EXIT_CANNOT_LISTEN, EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, Service, main
from hxgen.contracts.analytics import ServiceConfig
from hxgen.pipeline import render_file
from hxgen.render.analytics import config as analytics_config
from hxgen.render.common import yaml_text

DAY_S = 86400


def history(now: float) -> list[Written]:
    """Two days at one minute: request rates with a daily cycle (tiny-a's last minute jumps
    eightfold), and KV caches at 30 % (tiny-a's climbing 20 points an hour for three hours)."""
    rng = np.random.default_rng(0)
    t = now - 60 * np.arange(2 * 1440, -1, -1)
    daily = 1 + 0.5 * np.sin(2 * np.pi * t / DAY_S)
    rate_a = daily + rng.normal(0, 0.03, len(t))
    rate_a[-1] *= 8
    rate_b = daily + rng.normal(0, 0.03, len(t))
    kv_a = 0.3 + rng.normal(0, 0.005, len(t))
    climbing = t > now - 3 * 3600
    kv_a[climbing] += 0.2 * (t[climbing] - (now - 3 * 3600)) / 3600
    kv_b = 0.3 + rng.normal(0, 0.005, len(t))
    return [
        Written("hx:model_requests:rate5m", {"model": "tiny-a"}, t, rate_a),
        Written("hx:model_requests:rate5m", {"model": "tiny-b"}, t, rate_b),
        Written("hx:model_kv_cache_usage:ratio", {"model": "tiny-a"}, t, kv_a),
        Written("hx:model_kv_cache_usage:ratio", {"model": "tiny-b"}, t, kv_b),
    ]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    root = tmp_path_factory.mktemp("prometheus")
    (root / "data").mkdir()
    backfill(root / "data", history(np.floor(time.time() / 60) * 60))
    server = PrometheusServer(root / "data", free_port())
    server.start()
    yield server
    server.stop()


def write_config(path: Path, prometheus_url: str, **overrides) -> Path:
    plan = render_file(ROOT / "sandbox/hx.yaml").plan
    data = analytics_config(plan.analytics) | {"prometheus_url": prometheus_url}
    data |= overrides
    path.write_text(yaml_text(data, "hx.yaml"))
    return path


def yaml_safe(path: Path) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def once(config: Path, capsys) -> tuple[int, dict]:
    code = main(["--config", str(config), "--once", "--log-level", "ERROR"])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == EXIT_OK else {}


def members(result: dict) -> dict[tuple[str, str], dict]:
    return {(m["series"], m["model"]): m for m in result["members"]}


def test_one_cycle_scores_forecasts_and_finds_the_filling_kv_cache(prometheus, tmp_path, capsys):
    config = write_config(tmp_path / "analytics.yml", prometheus.url, interval_s=60, history_days=3)
    code, result = once(config, capsys)
    assert code == EXIT_OK
    found = members(result)
    # The sandbox's disk query finds no node exporter here; the hx: series are all analysed.
    assert set(found) == {(s, m) for s in ("request-rate", "kv-cache-usage") for m in ("tiny-a", "tiny-b")}
    for m in found.values():
        assert 0 <= m["anomaly_score"] <= 1
        assert m["points"] > 2 * 1440
        assert m["method"] != "warming-up"
        for bounds in m["forecast"].values():
            assert bounds["lower"] <= bounds["forecast"] <= bounds["upper"]
    assert set(found["request-rate", "tiny-a"]["forecast"]) == {"1h", "1d"}
    # The eightfold jump is anomalous (an onset scores near 1, the row after it half that);
    # the calm neighbour is not.
    assert found["request-rate", "tiny-a"]["anomaly_score"] >= 0.45
    assert found["request-rate", "tiny-b"]["anomaly_score"] < 0.2
    # 90 % and climbing 20 points an hour: 95 % within the hour; the flat cache never.
    assert 0 < found["kv-cache-usage", "tiny-a"]["capacity_exhaustion_s"] < 3600
    assert found["kv-cache-usage", "tiny-b"]["capacity_exhaustion_s"] == "+Inf"
    assert "capacity_exhaustion_s" not in found["request-rate", "tiny-a"]  # no limit to reach


def test_a_member_keeps_its_forecasting_method_for_an_hour(prometheus, tmp_path):
    """The backtest is most of a cycle's cost: its choice is reused, then made again."""
    config = load_config(write_config(tmp_path / "a.yml", prometheus.url, interval_s=60, history_days=3))
    now = [time.time()]
    service = Service(config, clock=lambda: now[0])
    first = service.analyzer.cycle()
    # Read in requests of 1,500 points, joined without a point lost or repeated.
    kv = service.analyzer.histories["kv-cache-usage"].members[Member("tiny-a", "")]
    assert len(kv.timestamps) >= 2 * 1440 + 1 and np.all(np.diff(kv.timestamps) == 60)
    kept = dict(service.analyzer.choices)
    assert set(kept) == set(first.results)
    assert all(now[0] + 3600 <= expires <= now[0] + 5400 for _, expires in kept.values())
    now[0] += 60
    second = service.analyzer.cycle()
    assert service.analyzer.choices == kept
    assert {k: a.method for k, a in second.results.items()} == {k: a.method for k, a in first.results.items()}
    now[0] += 5400
    service.analyzer.cycle()
    assert all(expires > now[0] for _, expires in service.analyzer.choices.values())  # chosen anew


def test_a_rejected_query_is_counted_and_the_other_series_go_on(prometheus, tmp_path):
    data = yaml_safe(write_config(tmp_path / "a.yml", prometheus.url, interval_s=60, history_days=3))
    data["series"].append({"name": "broken", "query": "sum(", "member": None, "horizons_minutes": [60], "limit": None})
    service = Service(ServiceConfig.model_validate(data))
    snapshot = service.analyzer.cycle()
    assert {series for series, _ in snapshot.results} == {"request-rate", "kv-cache-usage"}
    errors = service.registry.get_sample_value("hx_analytics_errors_total", {"series": "broken", "stage": "query"})
    assert errors == 1


def test_once_without_prometheus_says_so(tmp_path, capsys):
    config = write_config(tmp_path / "analytics.yml", f"http://127.0.0.1:{free_port()}")
    code = main(["--config", str(config), "--once"])
    assert code == EXIT_UNAVAILABLE
    assert "Prometheus unavailable" in capsys.readouterr().err


def test_a_taken_port_is_reported_not_a_traceback(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listen = {"address": "127.0.0.1", "port": port}
        config = write_config(tmp_path / "analytics.yml", f"http://127.0.0.1:{free_port()}", listen=listen)
        assert main(["--config", str(config)]) == EXIT_CANNOT_LISTEN
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_check_accepts_the_rendered_configuration(capsys):
    assert main(["--config", str(ROOT / "sandbox/rendered/analytics/analytics.yml"), "--check"]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


def test_a_broken_configuration_is_reported_with_its_line(tmp_path, capsys):
    config = write_config(tmp_path / "analytics.yml", "http://127.0.0.1:9090")
    text = config.read_text().replace("interval_s: 15", "interval_s: soon")
    config.write_text(text)
    line = text.splitlines().index("interval_s: soon") + 1
    assert main(["--config", str(config), "--check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"analytics.yml:{line}:13: interval_s:" in err
    assert "Traceback" not in err
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml")


def test_results_are_withdrawn_once_stale(tmp_path):
    """Without Prometheus, the last results stay for a few cycles, then go: predictive alerts
    must not act on stale forecasts."""
    config = load_config(write_config(tmp_path / "a.yml", f"http://127.0.0.1:{free_port()}", interval_s=60))
    now = [1_000_000.0]
    service = Service(config, clock=lambda: now[0])
    last_cycle = Analysis(0.1, "naive", {60: Bounds(1.0, 0.5, 1.5)}, None, 100)
    service.results.publish(Snapshot({("request-rate", Member("tiny-a", "")): last_cycle}))
    waits = []
    for _ in range(4):
        waits.append(service.run_once())
        now[0] += waits[-1]
    assert waits == [60, 120, 240, 300]  # doubling, capped at five minutes
    assert service.failures == 4
    assert service.results.latest.results == {}  # 720 s > 5 cycles of 60 s


def scrape(port: int) -> dict[str, list]:
    """Samples by their exposed name (a counter's end in _total)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s)
    return samples


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = condition()
        except requests.ConnectionError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def value(samples: dict, name: str, **labels) -> float | None:
    for s in samples.get(name, []):
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_the_daemon_exports_and_rides_out_prometheus_going_away(prometheus, tmp_path):
    port = free_port()
    config = write_config(
        tmp_path / "analytics.yml",
        prometheus.url,
        interval_s=10,
        history_days=1,
        listen={"address": "127.0.0.1", "port": port},
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "hxgen.analytics.service", "--config", str(config)],
        stderr=(tmp_path / "daemon.log").open("wb"),
    )
    try:
        up = wait_for(
            lambda: (m := scrape(port)) and value(m, "hx_analytics_prometheus_up") == 1 and m, 90, "a first cycle"
        )
        forecast = value(up, "hx_forecast", series="kv-cache-usage", model="tiny-a", horizon="30m", bound="forecast")
        assert forecast is not None and forecast > 0.8
        assert value(up, "hx_anomaly_score", series="request-rate", model="tiny-b") is not None
        assert value(up, "hx_capacity_exhaustion_seconds", series="kv-cache-usage", model="tiny-b") == float("inf")
        assert value(up, "hx_analytics_model_info", series="kv-cache-usage", model="tiny-a") == 1
        assert value(up, "hx_analytics_cycle_duration_seconds") > 0
        assert value(up, "hx_analytics_cycle_phase_seconds", phase="analyse") > 0
        assert value(up, "hx_analytics_points", series="kv-cache-usage", model="tiny-a") > 1440

        prometheus.stop()
        down = wait_for(
            lambda: (m := scrape(port)) and value(m, "hx_analytics_prometheus_up") == 0 and m, 60, "a failed cycle"
        )
        assert value(down, "hx_analytics_cycles_total", outcome="failed") >= 1
        assert daemon.poll() is None
        # Still within five cycles: the last results are kept.
        assert value(down, "hx_forecast", series="kv-cache-usage", model="tiny-a", horizon="30m", bound="forecast")

        prometheus.start()
        wait_for(lambda: value(scrape(port), "hx_analytics_prometheus_up") == 1, 90, "recovery")
    finally:
        daemon.terminate()
        code = daemon.wait(timeout=30)
        if prometheus.process is None:
            prometheus.start()
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert "Prometheus unavailable" in log and "Traceback" not in log
