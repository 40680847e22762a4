"""hx-control's REST API against a real PostgreSQL (behind PgBouncer), a real audit log and the real
service under uvicorn: the RBAC matrix, key creation, rotation and revocation as the gateway's key
map shows them, bounded route weights, usage and cost from a real hx_usage.requests, alerts from a
real Alertmanager, and every mutation in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import ROOT
from control_harness import ROLES, Engine, config, serving, sql, write_config
from control_matrix import ENDPOINTS, check_rest, created
from gateway_harness import stop, wait_listening
from pg_harness import free_port, pg_cluster
from test_real_tools import tool
from usage_schema import create_usage_tables

from hxgen.contracts import control as contract
from hxgen.contracts import usage as usage_contract
from hxgen.control import config as config_mod
from hxgen.control.model import Caller, Unavailable
from hxgen.control.service import HostControl
from hxgen.keys import hash_key

pytestmark = pytest.mark.tools

TODAY = dt.datetime.now(dt.UTC).date()
ADMIN = Caller("root", "admin", "k0000000")


@pytest.fixture(scope="module")
def cluster():
    with pg_cluster() as c:
        create_usage_tables(c.dsn(), TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=1))
        yield c


@pytest.fixture(scope="module")
def engine():
    e = Engine()
    yield e
    e.close()


@pytest.fixture(scope="module")
def control(cluster, engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("control")
    with serving(tmp, config(tmp, cluster, engine.port)) as running:
        yield running


def map_entries(control) -> dict[str, str]:
    """sha256 -> "<tenant> <expiry> <id>" of the gateway's key map."""
    return dict(re.findall(r'^([0-9a-f]{64}) "([^"]*)";$', control.keys_map, re.M))


# --- the caller -----------------------------------------------------------------------------------
def test_a_call_without_the_gateways_headers_is_refused_with_a_clear_error(control):
    answer = control.call("GET", "/keys", role=None)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "unauthenticated"
    assert "only through the gateway" in error["message"] and contract.TENANT_HEADER in error["message"]


def test_whoami_says_who_the_gateway_verified_and_what_the_role_may_do(control):
    answer = control.call("GET", "/whoami", role="user", key_id="ab12cd34").json()
    assert answer == {
        "tenant": "acme",
        "role": "user",
        "key_id": "ab12cd34",
        "permissions": sorted(contract.PERMISSIONS["user"]),
    }


def test_health_and_metrics_answer_without_credentials_outside_the_api_prefix(control):
    assert requests.get(f"{control.url}/healthz", timeout=10).json() == {"status": "ok", "database": "ok"}
    control.call("GET", "/tenants", role="readonly")
    metrics = requests.get(f"{control.url}/metrics", timeout=10).text
    assert 'hx_control_requests_total{method="GET",route="/admin/api/v1/tenants",status="200"}' in metrics
    assert "hx_control_request_duration_seconds_bucket" in metrics


# --- the RBAC matrix (tests/control_matrix.py) ----------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_role_may_call_exactly_what_the_rbac_table_grants(control, role, endpoint):
    check_rest(control, role, endpoint)


def test_the_matrix_covers_every_operation_of_the_published_api(control):
    spec = requests.get(f"{control.url}{contract.API_PREFIX}/openapi.json", timeout=10).json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert operations == set(ENDPOINTS)


def test_a_user_sees_only_its_own_tenants_keys_usage_and_quota(control):
    mine, theirs = created(control, "acme")["key"]["id"], created(control, "bob")["key"]["id"]
    keys = control.call("GET", "/keys", role="user").json()
    assert {k["tenant"] for k in keys} == {"acme"} and mine in {k["id"] for k in keys}
    assert theirs not in {k["id"] for k in keys}
    assert control.call("GET", "/keys?tenant=bob", role="user").status_code == 403
    assert control.call("GET", "/tenants/bob", role="user").status_code == 403
    assert [t["name"] for t in control.call("GET", "/tenants", role="user").json()] == ["acme"]
    assert [q["tenant"] for q in control.call("GET", "/quotas", role="user").json()] == ["acme"]
    assert control.call("GET", "/usage?tenant=bob", role="user").status_code == 403
    assert control.call("GET", "/keys?tenant=bob", role="operator").json()[-1]["id"] == theirs


def test_a_user_may_rotate_and_revoke_its_own_keys_only(control):
    theirs = created(control, "bob")["key"]["id"]
    for action in ("rotate", "revoke"):
        answer = control.call("POST", f"/keys/{theirs}/{action}", role="user", json={})
        assert answer.status_code == 403, answer.text
        assert "own tenant (acme)" in answer.json()["error"]["message"]
    assert control.call("POST", f"/keys/{theirs}/revoke", role="user", tenant="bob").status_code == 200


def test_readonly_cannot_change_anything_even_its_own_keys(control):
    own = created(control, "viewer")["key"]["id"]
    before = control.keys_map
    even = {"split": [{"model": "small", "weight": 50}, {"model": "large", "weight": 50}]}
    for method, path, body in (
        ("POST", "/keys", {"tenant": "viewer"}),
        ("POST", f"/keys/{own}/rotate", {}),
        ("POST", f"/keys/{own}/revoke", None),
        ("PUT", "/routes/chat/weights", even),
    ):
        assert control.call(method, path, role="readonly", json=body).status_code == 403
    assert control.keys_map == before


# --- keys through the gateway's map ---------------------------------------------------------------
def test_a_created_key_is_in_the_map_by_its_hash_then_gone_once_revoked(control):
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    new = created(control, "acme", note="ci", expires=expires.isoformat())
    key, secret = new["key"], new["secret"]
    assert secret.startswith(f"hx-{key['id']}-") and key["origin"] == "control" and key["status"] == "ok"
    assert map_entries(control)[hash_key(secret)] == f"acme {expires.date().isoformat()} {key['id']}"
    assert secret not in control.keys_map
    listed = {k["id"]: k for k in control.call("GET", "/keys", role="admin").json()}
    assert "secret" not in listed[key["id"]] and "sha256" not in listed[key["id"]]

    revoked = control.call("POST", f"/keys/{key['id']}/revoke", role="operator")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert hash_key(secret) not in map_entries(control)
    again = control.call("POST", f"/keys/{key['id']}/revoke", role="operator")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert (control.tmp / "reloads").read_text().count("reload") >= 2


def test_a_change_asks_the_path_unit_for_a_reload_and_no_change_does_not(control):
    request = control.tmp / "gateway" / Path(contract.RELOAD_REQUEST).name
    request.unlink(missing_ok=True)
    assert control.call("GET", "/keys", role="admin").status_code == 200
    spec_split = {"split": [{"model": "small", "weight": 80}, {"model": "large", "weight": 20}]}
    assert control.call("PUT", "/routes/chat/weights", role="operator", json=spec_split).status_code == 200
    assert not request.exists()  # reads, and a write of what is there already, leave nginx alone
    created(control, "acme")
    assert request.read_text() == "api-keys.map\n"


def test_a_rotated_key_keeps_working_for_the_overlap_then_its_successor_alone(control):
    old = created(control, "acme", note="app")
    rotated = control.call("POST", f"/keys/{old['key']['id']}/rotate", role="user", json={"overlap_hours": 2})
    assert rotated.status_code == 201, rotated.text
    new, replaced = rotated.json()["key"], rotated.json()["replaced"]
    assert new["replaces"] == old["key"]["id"] and new["tenant"] == "acme" and new["note"] == "app"
    ends = dt.datetime.fromisoformat(replaced["expires"])
    assert dt.timedelta(hours=1) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    entries = map_entries(control)
    assert entries[hash_key(old["secret"])] == f"acme {ends.strftime('%Y-%m-%dT%H:%M:%SZ')} {old['key']['id']}"
    assert entries[hash_key(rotated.json()["secret"])] == f"acme - {new['id']}"


def test_a_rotation_never_lengthens_a_keys_life(control):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    old = created(control, "acme", expires=soon.isoformat())
    rotated = control.call("POST", f"/keys/{old['key']['id']}/rotate", role="admin", json={"overlap_hours": 48})
    assert dt.datetime.fromisoformat(rotated.json()["replaced"]["expires"]) == soon


def test_bad_key_requests_say_what_is_wrong(control):
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    cases = (
        (("POST", "/keys", {"tenant": "nobody"}), 404, "no tenant 'nobody'"),
        (("POST", "/keys", {"tenant": "acme", "expires": past}), 400, "not in the future"),
        (("POST", "/keys", {"tenant": "acme", "colour": "red"}), 400, "colour"),
        (("POST", "/keys/ffffffff/rotate", {}), 404, "no key 'ffffffff'"),
    )
    for (method, path, body), status, message in cases:
        answer = control.call(method, path, role="admin", json=body)
        assert answer.status_code == status, answer.text
        assert message in answer.json()["error"]["message"]
    key = created(control, "acme")["key"]["id"]
    too_long = control.call("POST", f"/keys/{key}/rotate", role="admin", json={"overlap_hours": 721})
    assert too_long.status_code == 400 and "0 to 720" in too_long.json()["error"]["message"]


# --- routes ---------------------------------------------------------------------------------------
def test_route_weights_are_set_within_the_specs_variants_and_reach_the_gateway(control):
    answer = control.call(
        "PUT", "/routes/chat/weights", role="operator",
        json={"split": [{"model": "large", "weight": 30}, {"model": "small", "weight": 70}]},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    route = answer.json()
    assert route["split"] == [{"model": "small", "weight": 70}, {"model": "large", "weight": 30}]
    assert route["spec_split"] == [{"model": "small", "weight": 80}, {"model": "large", "weight": 20}]
    assert route["changed_by"] == "ops/k0000000"
    assert control.route_weights["chat"] == [["chat-small", 70], ["chat-large", 100]]


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ([{"model": "small", "weight": 50}, {"model": "huge", "weight": 50}], "huge is not a variant of the route; "
         "its variants are small, large"),
        ([{"model": "small", "weight": 100}], "give a weight to every variant (small, large); missing large"),
        ([{"model": "small", "weight": 60}, {"model": "large", "weight": 60}], "add up to 120, not 100"),
        ([{"model": "small", "weight": 120}, {"model": "large", "weight": -20}], "from 0 to 100"),
        ([{"model": "small", "weight": 50}, {"model": "small", "weight": 50}], "small is named more than once"),
    ],
)  # fmt: skip
def test_weights_outside_the_specs_bounds_are_refused_naming_the_problem(control, split, message):
    before = control.route_weights
    answer = control.call("PUT", "/routes/chat/weights", role="admin", json={"split": split})
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]["message"]
    assert control.route_weights == before
    assert control.call("PUT", "/routes/nope/weights", role="admin", json={"split": split}).status_code == 404


# --- models, usage, quotas, alerts, audit ---------------------------------------------------------
def test_models_carry_their_engines_health_now(control):
    models = {m["name"]: m for m in control.call("GET", "/models", role="readonly").json()}
    assert models["small"]["health"] == {"healthy": True, "status": 200, "detail": "ok"}
    assert models["large"]["health"]["healthy"] is False and models["large"]["health"]["status"] is None
    assert models["large"]["served_name"] == "chat-large" and models["large"]["version"] == "2"


def _insert_usage(cluster, rows: list[tuple]) -> None:
    """(time, request_id, tenant, model_name, prompt, completion)"""
    for when, request_id, tenant, model, prompt, completion in rows:
        sql(
            cluster,
            f"INSERT INTO {usage_contract.TABLE} (time, request_id, tenant, role, model, variant, model_name, "
            "endpoint, status, cache, prompt_tokens, completion_tokens, request_s, upstream_s) "
            "VALUES (%s, %s, %s, 'user', %s, %s, %s, '/v1/chat/completions', 200, '', %s, %s, 0.1, 0.1)",
            (when, request_id, tenant, model, model, model, prompt, completion),
        )


def test_usage_sums_the_periods_rows_per_tenant_and_model(control, cluster):
    day = dt.datetime.combine(TODAY - dt.timedelta(days=2), dt.time(), dt.UTC)
    _insert_usage(cluster, [
        (day + dt.timedelta(hours=1), "u1", "acme", "small", 10, 5),
        (day + dt.timedelta(hours=2), "u2", "acme", "small", 20, 7),
        (day + dt.timedelta(hours=3), "u3", "bob", "large", 100, 50),
        (day + dt.timedelta(days=1, hours=1), "u4", "acme", "small", 1000, 1000),  # the next day: outside
    ])  # fmt: skip
    period = {"start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()}
    usage = control.call("GET", "/usage", role="operator", params=period).json()
    assert usage["currency"] is None  # no spec_file: nothing priced
    assert usage["rows"] == [
        {"tenant": "acme", "model": "small", "requests": 2, "prompt_tokens": 30, "completion_tokens": 12, "cost": None},
        {"tenant": "bob", "model": "large", "requests": 1, "prompt_tokens": 100, "completion_tokens": 50, "cost": None},
    ]
    own = control.call("GET", "/usage", role="user", params=period | {"model": "small"}).json()
    assert [r["tenant"] for r in own["rows"]] == ["acme"]
    bad = control.call("GET", "/usage", role="admin", params={"start": "2026-01-02T00:00:00"})
    assert bad.status_code == 400 and "has no time zone" in bad.json()["error"]["message"]


def test_quotas_count_todays_tokens_against_the_tenants_quota(control, cluster):
    now = dt.datetime.now(dt.UTC)
    _insert_usage(cluster, [(now - dt.timedelta(seconds=5), "q1", "acme", "small", 40, 2)])
    quotas = {q["tenant"]: q for q in control.call("GET", "/quotas", role="admin").json()}
    assert quotas["acme"]["daily_tokens"] == 1000 and quotas["acme"]["day"] == now.date().isoformat()
    assert quotas["acme"]["used_tokens"] >= 42 and quotas["viewer"]["daily_tokens"] is None


def test_alerts_say_unavailable_when_alertmanager_is_down(control):
    answer = control.call("GET", "/alerts", role="operator")
    assert answer.status_code == 503
    assert "cannot read the alerts from Alertmanager" in answer.json()["error"]["message"]


def test_every_mutation_is_in_the_audit_log_with_the_caller_as_actor(control):
    key = created(control, "acme", note="audited")["key"]["id"]
    rotated = control.call("POST", f"/keys/{key}/rotate", role="user", key_id="a1a1a1a1", json={}).json()
    control.call("POST", f"/keys/{rotated['key']['id']}/revoke", role="operator", key_id="b2b2b2b2")
    weights = [{"model": "small", "weight": 80}, {"model": "large", "weight": 20}]
    control.call("PUT", "/routes/chat/weights", role="admin", key_id="c3c3c3c3", json={"split": weights})
    records = control.audit_records()
    mine = [r for r in records if r["detail"].get("key_id") in (key, rotated["key"]["id"]) or r["detail"].get("alias")]
    actions = [(r["action"], r["actor"]) for r in mine]
    assert (contract.AUDIT_KEY_CREATED, "root/k0000000") in actions
    assert (contract.AUDIT_KEY_ROTATED, "acme/a1a1a1a1") in actions
    assert (contract.AUDIT_KEY_REVOKED, "ops/b2b2b2b2") in actions
    assert (contract.AUDIT_ROUTE_WEIGHTS, "root/c3c3c3c3") in actions
    assert not any(rotated["secret"] in str(r) for r in records)

    newest = control.call("GET", "/audit", role="operator", params={"limit": 2}).json()
    assert [r["seq"] for r in newest] == sorted((r["seq"] for r in records), reverse=True)[:2]
    revocations = control.call("GET", "/audit", role="admin", params={"action": "key-revoked"}).json()
    assert revocations and {r["action"] for r in revocations} == {"key-revoked"}


# --- cost, a real Alertmanager, a failing audit log, concurrent changes ---------------------------
def _host(tmp, cluster, engine, **overrides) -> HostControl:
    data = config(tmp, cluster, engine.port, **overrides)
    return HostControl(config_mod.load(write_config(tmp, data)))


def test_cost_is_each_tenants_share_of_the_models_cost_from_the_specs_cost_model(cluster, engine, tmp_path):
    from hxgen.pipeline import render_file
    from hxgen.report.figures import model_costs
    from hxgen.report.model import Measured

    host = _host(tmp_path, cluster, engine, spec_file=str(ROOT / "hx.yaml"))
    day = dt.datetime.combine(TODAY - dt.timedelta(days=3), dt.time(), dt.UTC)
    _insert_usage(cluster, [
        (day + dt.timedelta(hours=1), "c1", "acme", "hermes-2", 200, 100),
        (day + dt.timedelta(hours=2), "c2", "bob", "hermes-2", 50, 50),
    ])  # fmt: skip
    usage = host.usage(ADMIN, day, day + dt.timedelta(days=1))
    plan = render_file(ROOT / "hx.yaml").plan

    class Day:
        hours = 24.0

    whole = model_costs(plan, plan.business, Day(), Measured())["hermes-2"]
    rows = {r.tenant: r for r in usage.rows}
    assert usage.currency == "USD"
    assert rows["acme"].cost == pytest.approx(whole * 300 / 400)
    assert rows["bob"].cost == pytest.approx(whole * 100 / 400)
    own = host.usage(Caller("bob", "user", "k1"), day, day + dt.timedelta(days=1))
    assert [(r.tenant, r.cost) for r in own.rows] == [("bob", pytest.approx(whole / 4))]


def test_alerts_are_alertmanagers_active_ones(cluster, engine, tmp_path):
    conf = tmp_path / "alertmanager.yml"
    conf.write_text("route: {receiver: nobody}\nreceivers: [{name: nobody}]\n")
    port = free_port()
    process = subprocess.Popen(
        [tool("prometheus-alertmanager"), f"--config.file={conf}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_listening(port, process, timeout_s=30, what="alertmanager")
        alert = {"labels": {"alertname": "HxEngineDown", "severity": "page", "model": "small"},
                 "annotations": {"summary": "the engine of small is down"}}  # fmt: skip
        requests.post(f"{url}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()
        with serving(tmp_path, config(tmp_path, cluster, engine.port, alertmanager_url=url)) as control:
            alerts = control.call("GET", "/alerts", role="operator").json()
    finally:
        stop(process)
    assert [(a["name"], a["severity"], a["summary"], a["labels"]["model"]) for a in alerts] == [
        ("HxEngineDown", "page", "the engine of small is down", "small")
    ]
    assert alerts[0]["state"] == "active"


def test_a_change_the_audit_log_cannot_record_is_not_made(cluster, engine, tmp_path):
    host = _host(tmp_path, cluster, engine)
    key = host.create_key(ADMIN, "acme")
    (tmp_path / "audit" / "signing.key").unlink()  # the log cannot sign its head: appends fail
    with pytest.raises(Unavailable, match="nothing was changed: the audit log cannot be appended to"):
        host.revoke_key(ADMIN, key.key.id)
    with pytest.raises(Unavailable):
        host.create_key(ADMIN, "acme", note="unaudited")
    assert host.keys(ADMIN, "acme")[-1].note != "unaudited"
    assert next(k for k in host.keys(ADMIN, "acme") if k.id == key.key.id).revoked is None
    assert hash_key(key.secret) in (tmp_path / "gateway" / "api-keys.map").read_text()


def test_concurrent_changes_all_land_and_the_map_shows_them_all(cluster, engine, tmp_path):
    host = _host(tmp_path, cluster, engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda i: host.create_key(ADMIN, "bob", note=f"c{i}"), range(16)))
        revoked = list(pool.map(lambda k: host.revoke_key(ADMIN, k.key.id), made[:8]))
    text = (tmp_path / "gateway" / "api-keys.map").read_text()
    assert all(hash_key(k.secret) in text for k in made[8:])
    assert not any(hash_key(k.secret) in text for k in made[:8])
    assert {r.id for r in revoked} == {k.key.id for k in made[:8]}
    logged = [json.loads(line) for p in (tmp_path / "audit" / "log").glob("audit-*.jsonl")
              for line in p.read_text().splitlines()]  # fmt: skip
    assert sorted(r["seq"] for r in logged) == list(range(1, 25))
