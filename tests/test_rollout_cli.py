"""`hxgen rollout status|promote|restart --host`: a live host's canary rollout through the real
gateway (staged nginx) in front of the real hx-control on a real PostgreSQL, called in-process.
The rollout's checks run in the test (rollouts.tick) against a stand-in for Prometheus's query API,
so the phases are the test's to set; the real Prometheus is the end-to-end test's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import gateway_harness
import pytest
from control_harness import rendered_config, serving_behind
from pg_harness import pg_cluster
from test_control_rollouts import Prometheus

from hxgen.contracts import control as contract
from hxgen.control import config as config_mod
from hxgen.control.rollout import Rollouts
from hxgen.control.service import HostControl
from hxgen.keys import KeyEntry, hash_key, new_key

pytestmark = pytest.mark.tools

SPEC = Path(__file__).parent / "data/keys-host/hx.yaml"
KEYS = {"operator": "ops", "readonly": "viewer"}
CANARY = {"model": "tiny-b", "version": "2", "steps_percent": [20, 100], "step_min_s": 0, "step_min_requests": 0,
          "interval_s": 10, "failed_checks": 1, "promotion": "manual"}  # fmt: skip


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[KeyEntry, str]]:
    made = {}
    for use, tenant in KEYS.items():
        key_id, key = new_key()
        made[use] = (KeyEntry(key_id, tenant, hash_key(key), dt.date.today()), key)
    return made


@pytest.fixture(scope="module")
def host(tmp_path_factory, keys):
    """The gateway, hx-control behind it with a canary on the route ab (no prometheus_url: the
    service runs no checks of its own), and the test's Rollouts over the same database."""
    entries = [e.as_dict() for e, _ in keys.values()]
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), entries)
    proc = gateway_harness.start(staged)
    tmp = tmp_path_factory.mktemp("control")
    data = rendered_config(SPEC)
    data["routes"]["ab"]["canary"] = CANARY
    prometheus = Prometheus()
    try:
        with pg_cluster() as cluster, serving_behind(staged, tmp, cluster, data, entries) as running:
            cfg = config_mod.load(running.config_file).model_copy(update={"prometheus_url": prometheus.url})
            yield staged, Rollouts(HostControl(cfg))
    finally:
        prometheus.close()
        gateway_harness.stop(proc)


def args(host, keys, tmp_path, use: str) -> list[str]:
    staged, _ = host
    path = tmp_path / f"{use}.key"
    path.write_text(keys[use][1] + "\n")
    return ["--host", staged.https_url, "--api-key-file", str(path), "--ca-file", str(staged.ca_cert)]


def test_status_promote_and_restart_a_canary_rollout_on_a_live_host(hxgen, host, keys, tmp_path):
    _, rollouts = host
    operator, readonly = args(host, keys, tmp_path, "operator"), args(host, keys, tmp_path, "readonly")
    empty = hxgen("rollout", "status", *readonly)
    assert empty.code == 0 and empty.out == "" and "no canary rollouts" in empty.err

    rollouts.tick()  # starts at 20 %
    assert rollouts.tick()["ab"].state.phase == "waiting"  # the gate held; promotion is manual
    shown = hxgen("rollout", "status", *readonly)
    assert shown.code == 0, shown.err
    header, row = shown.out.splitlines()
    assert header.split() == ["ROUTE", "PHASE", "CANARY", "STEP", "WEIGHT", "FAILED", "SINCE", "VERIFIED", "REASON"]
    assert row.split()[:6] == ["ab", "waiting", "tiny-b@2", "1/2", "20%", "0/1"] and "promotion" in row

    refused = hxgen("rollout", "promote", "ab", *readonly)
    assert refused.code == 5 and "may not rollouts write" in refused.err, refused.err
    promoted = hxgen("rollout", "promote", "ab", *operator, "--format", "json")
    assert promoted.code == 0, promoted.err
    answer = json.loads(promoted.out)
    assert (answer["phase"], answer["step"], answer["canary_weight"]) == ("progressing", 2, 100)
    assert answer["changed_by"] == f"ops/{keys['operator'][0].id}"

    not_yet = hxgen("rollout", "restart", "ab", *operator)
    assert not_yet.code == 1 and "409" in not_yet.err and "restarted once rolled back" in not_yet.err, not_yet.err
    assert rollouts.tick()["ab"].action == contract.AUDIT_ROLLOUT_SUCCEEDED

    one = hxgen("rollout", "status", "ab", *readonly, "--format", "json")
    assert one.code == 0 and [r["phase"] for r in json.loads(one.out)] == ["succeeded"]
    unknown = hxgen("rollout", "status", "nope", *readonly)
    assert unknown.code == 1 and "has no canary" in unknown.err


def test_the_rollout_commands_need_a_host(hxgen):
    done = hxgen("rollout", "status")
    assert done.code == 2 and "--host" in done.err
