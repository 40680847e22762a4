"""The gateway in front of hx-control, end to end: the real nginx with the rendered nginx.conf and
njs handler, the real hx-control (`hx-control serve`) with the rendered control.json, PostgreSQL
behind PgBouncer. hx-control's reload_command reloads the test nginx, as the path unit does on a
host. The spec is tests/data/gateway-control/hx.yaml; its engines are never started, so a route's
variant shows in X-HX-Variant on the gateway's answer for a down engine.

Changes are awaited by polling, never by sleeping: each must show before RELOAD_WITHIN_S."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import gateway_harness
import pytest
import requests
from control_harness import ROLES, audit_config, rendered_config, serving_behind
from control_matrix import ENDPOINTS, FIELDS, check_graphql, check_rest
from pg_harness import pg_cluster
from usage_schema import create_usage_tables

from hxgen.contracts import control as contract
from hxgen.keys import KeyEntry, hash_key, new_key

pytestmark = pytest.mark.tools

SPEC = Path(__file__).parent / "data/gateway-control/hx.yaml"
TENANT_OF_ROLE = {"admin": "root", "operator": "ops", "user": "acme", "readonly": "viewer"}
CHAT = {"model": "ab", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 1}


@pytest.fixture(scope="module")
def inventory() -> dict[str, tuple[KeyEntry, str]]:
    """role -> (the inventory's entry, the key) of one key per role, as `hxgen keys create` makes,
    and "expired": one whose expiry date has passed."""
    keys = {}
    for role, tenant in TENANT_OF_ROLE.items():
        key_id, key = new_key()
        keys[role] = (KeyEntry(key_id, tenant, hash_key(key), dt.date.today()), key)
    key_id, key = new_key()
    yesterday = dt.date.today() - dt.timedelta(days=1)
    keys["expired"] = (KeyEntry(key_id, "acme", hash_key(key), yesterday - dt.timedelta(days=30), yesterday), key)
    return keys


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, inventory):
    """Staged as the gateway role lays it out: hx-control's state files seeded from the inventory."""
    entries = [e.as_dict() for e, _ in inventory.values()]
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), entries)
    proc = gateway_harness.start(staged)
    yield staged
    gateway_harness.stop(proc)


@pytest.fixture(scope="module")
def control(tmp_path_factory, gateway, inventory):
    """The rendered configuration, moved to loopback scratch paths, with a real audit log and usage
    tables; synced from the inventory as the control role does on converge, then served."""
    tmp = tmp_path_factory.mktemp("control")
    # The spec runs neither; the harness's audit log and usage tables let every operation answer.
    data = rendered_config(SPEC) | {
        "audit_config": str(audit_config(tmp)),
        "usage": {"table": "hx_usage.requests", "time_zone": "UTC"},
    }
    entries = [e.as_dict() for e, _ in inventory.values()]
    with pg_cluster() as cluster:
        today = dt.datetime.now(dt.UTC).date()
        create_usage_tables(cluster.dsn(), today - dt.timedelta(days=1), today + dt.timedelta(days=1))
        with serving_behind(gateway, tmp, cluster, data, entries) as running:
            yield running


def call(gateway, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, gateway.url + path, headers=headers, timeout=30, **kwargs)


def api(gateway, method: str, path: str, key: str | None, **kwargs) -> requests.Response:
    return call(gateway, method, f"{contract.API_PREFIX}/v1{path}", key, **kwargs)


def key_of(inventory, role: str) -> str:
    return inventory[role][1]


def within_deadline(what: str, check: Callable[[], bool]) -> None:
    """Poll until check() holds, failing once RELOAD_WITHIN_S has passed."""
    deadline = time.monotonic() + contract.RELOAD_WITHIN_S
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {contract.RELOAD_WITHIN_S} s"
        time.sleep(0.05)


def models_status(gateway, key: str) -> int:
    return call(gateway, "GET", "/v1/models", key).status_code


def error_code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def create_key(gateway, inventory, tenant: str, **body) -> dict:
    answer = api(gateway, "POST", "/keys", key_of(inventory, "admin"), json={"tenant": tenant, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


class ThroughGateway:
    """The matrix's client (tests/control_matrix.py) through the real nginx: each role calls with
    its own API key from the inventory, and the gateway sets the headers hx-control trusts."""

    def __init__(self, gateway, inventory, config: dict) -> None:
        self.gateway, self.inventory, self.config = gateway, inventory, config

    def call(self, method: str, path: str, role: str = "admin", **kwargs) -> requests.Response:
        return api(self.gateway, method, path, key_of(self.inventory, role), **kwargs)

    def graphql(self, query: str, variables: dict | None = None, role: str = "admin") -> requests.Response:
        body = {"query": query, "variables": variables or {}}
        return call(self.gateway, "POST", contract.GRAPHQL_PATH, key_of(self.inventory, role), json=body)


@pytest.fixture(scope="module")
def through(gateway, control, inventory) -> ThroughGateway:
    return ThroughGateway(gateway, inventory, control.config)


# --- authentication -------------------------------------------------------------------------------
def test_no_key_is_refused_by_the_gateway_with_its_401(gateway, control):
    for path in ("/whoami", "/keys"):
        answer = api(gateway, "GET", path, None)
        assert answer.status_code == 401 and error_code(answer) == "missing_api_key", answer.text
    answer = call(gateway, "POST", contract.GRAPHQL_PATH, None, json={"query": "{ whoami { tenant } }"})
    assert answer.status_code == 401 and error_code(answer) == "missing_api_key"
    answer = api(gateway, "GET", "/whoami", "hx-00000000-not-a-key")
    assert answer.status_code == 401 and error_code(answer) == "invalid_api_key"


@pytest.mark.parametrize("role", TENANT_OF_ROLE)
def test_whoami_through_the_gateway_is_the_verified_key(gateway, control, inventory, role):
    entry, key = inventory[role]
    answer = api(gateway, "GET", "/whoami", key)
    assert answer.status_code == 200, answer.text
    who = answer.json()
    assert (who["tenant"], who["role"], who["key_id"]) == (entry.tenant, role, entry.id)


def test_a_clients_own_identity_headers_are_replaced(gateway, control, inventory):
    forged = {contract.TENANT_HEADER: "root", contract.ROLE_HEADER: "admin", contract.KEY_ID_HEADER: "forged"}
    entry, key = inventory["readonly"]
    who = api(gateway, "GET", "/whoami", key, headers=dict(forged)).json()
    assert (who["tenant"], who["role"], who["key_id"]) == ("viewer", "readonly", entry.id)
    # Without a key the forged headers reach nothing.
    assert api(gateway, "GET", "/whoami", None, headers=dict(forged)).status_code == 401
    # And the readonly caller cannot do what the forged admin could.
    assert api(gateway, "POST", "/keys", key, headers=dict(forged), json={"tenant": "viewer"}).status_code == 403


# --- keys change without a converge ---------------------------------------------------------------
def test_a_created_key_works_then_a_revoked_one_is_refused_within_the_deadline(gateway, control, inventory):
    new = create_key(gateway, inventory, "acme", note="made through the gateway")
    secret = new["secret"]
    within_deadline("the new key working", lambda: models_status(gateway, secret) == 200)
    who = api(gateway, "GET", "/whoami", secret).json()
    assert (who["tenant"], who["key_id"]) == ("acme", new["key"]["id"])

    revoked = api(gateway, "POST", f"/keys/{new['key']['id']}/revoke", key_of(inventory, "admin"))
    assert revoked.status_code == 200, revoked.text
    within_deadline("the revoked key refused", lambda: models_status(gateway, secret) == 401)
    assert error_code(call(gateway, "GET", "/v1/models", secret)) == "invalid_api_key"


def test_no_request_is_dropped_while_key_changes_reload_the_gateway(gateway, control, inventory):
    """Requests on new connections all the while ten changes reload nginx: each is answered, 200.
    (Paced below the tier's 100 requests a second, so that no 429 is the limit's.)"""
    key, answers, errors, done = key_of(inventory, "user"), [], [], threading.Event()

    def keep_asking() -> None:
        while not done.is_set():
            try:
                answers.append(models_status(gateway, key))
            except requests.RequestException as exc:
                errors.append(repr(exc))
            done.wait(0.02)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        for _ in range(5):
            new = create_key(gateway, inventory, "acme")
            secret = new["secret"]
            within_deadline("the new key working", lambda secret=secret: models_status(gateway, secret) == 200)
            assert api(gateway, "POST", f"/keys/{new['key']['id']}/revoke", key_of(inventory, "admin")).ok
    finally:
        done.set()
        asking.join()
    assert errors == [] and answers and set(answers) == {200}, (errors[:3], sorted(set(answers)))


def test_a_rotated_key_and_its_successor_both_work_during_the_overlap(gateway, control, inventory):
    old = create_key(gateway, inventory, "acme")
    within_deadline("the key working", lambda: models_status(gateway, old["secret"]) == 200)
    rotated = api(gateway, "POST", f"/keys/{old['key']['id']}/rotate", old["secret"], json={})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["secret"]
    within_deadline("the successor working", lambda: models_status(gateway, new) == 200)
    assert models_status(gateway, old["secret"]) == 200
    # The overlap is the spec's control.rotate_overlap_hours, and the map says when it ends, to the second.
    ends = dt.datetime.fromisoformat(rotated.json()["replaced"]["expires"])
    assert dt.timedelta(hours=1.9) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    entry = _map_entries(gateway)[hash_key(old["secret"])]
    assert re.fullmatch(rf"acme \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ {old['key']['id']}", entry), entry


def test_a_key_whose_expiry_time_has_passed_is_refused_as_expired(gateway, control, inventory):
    old = create_key(gateway, inventory, "acme")
    within_deadline("the key working", lambda: models_status(gateway, old["secret"]) == 200)
    # No overlap: the old key's expiry is now, a time of day in the map.
    rotated = api(
        gateway, "POST", f"/keys/{old['key']['id']}/rotate", key_of(inventory, "admin"), json={"overlap_hours": 0}
    )
    assert rotated.status_code == 201, rotated.text
    within_deadline("the old key refused", lambda: models_status(gateway, old["secret"]) == 401)
    answer = call(gateway, "GET", "/v1/models", old["secret"])
    assert error_code(answer) == "expired_api_key", answer.text
    assert "T" in _map_entries(gateway)[hash_key(old["secret"])].split(" ")[1]


def test_an_inventory_key_past_its_expiry_date_is_refused_as_expired(gateway, control, inventory):
    entry, key = inventory["expired"]
    assert _map_entries(gateway)[entry.sha256] == f"acme {entry.expires.isoformat()} {entry.id}"
    refused = call(gateway, "GET", "/v1/models", key)
    assert refused.status_code == 401 and error_code(refused) == "expired_api_key", refused.text


def _map_entries(gateway) -> dict[str, str]:
    text = (gateway.state_dir / Path(contract.KEYS_MAP).name).read_text()
    return dict(re.findall(r'^([0-9a-f]{64}) "([^"]*)";$', text, re.M))


def test_the_gateway_roles_map_and_hx_controls_never_name_a_key_twice(gateway, control):
    role_map = (gateway.root / "conf" / "api-keys.map").read_text()
    assert not re.findall(r"^[0-9a-f]{64} ", role_map, re.M)  # no probe in this spec, and no inventory key
    assert len(_map_entries(gateway)) >= len(TENANT_OF_ROLE)


# --- the operator's page ---------------------------------------------------------------------------
def test_the_page_cookie_is_accepted_on_the_page_only(gateway, control, inventory):
    cookie = {contract.UI_COOKIE: key_of(inventory, "operator")}
    page = f"{contract.UI_PREFIX}/"
    # With the cookie the gateway lets the request through to hx-control, as the operator.
    shown = call(gateway, "GET", page, cookies=cookie)
    assert shown.status_code == 200 and "ops · operator" in shown.text, shown.text
    for path in (f"{contract.API_PREFIX}/v1/whoami", "/v1/models", "/admin/status"):
        refused = call(gateway, "GET", path, cookies=cookie)
        assert refused.status_code == 401 and error_code(refused) == "missing_api_key", path
    bad = call(gateway, "POST", f"{contract.UI_PREFIX}/keys/x/revoke", cookies={contract.UI_COOKIE: "hx-0-bad"})
    assert bad.status_code == 401 and error_code(bad) == "invalid_api_key"


def test_a_browser_without_valid_credentials_is_sent_to_the_login_form(gateway, control):
    for cookies in ({}, {contract.UI_COOKIE: "hx-00000000-not-a-key"}):
        for page in (contract.UI_PREFIX, f"{contract.UI_PREFIX}/"):
            answer = call(gateway, "GET", page, cookies=cookies, allow_redirects=False)
            assert answer.status_code == 303, (page, answer.status_code)
            assert answer.headers["Location"].endswith(f"{contract.UI_PREFIX}/login")
    # Anything but reading the page gets the gateway's 401.
    refused = call(gateway, "POST", f"{contract.UI_PREFIX}/keys/x/revoke", allow_redirects=False)
    assert refused.status_code == 401 and error_code(refused) == "missing_api_key"
    form = call(gateway, "GET", f"{contract.UI_PREFIX}/login")
    assert form.status_code == 200 and 'name="key"' in form.text, form.text


def test_the_login_and_logout_pages_need_no_key(gateway, control):
    form = call(gateway, "GET", f"{contract.UI_PREFIX}/login")
    assert form.status_code == 200 and "<form" in form.text
    out = call(gateway, "POST", f"{contract.UI_PREFIX}/logout", allow_redirects=False,
               headers={"Origin": gateway.url})  # fmt: skip
    assert out.status_code == 303 and contract.UI_COOKIE in out.headers.get("Set-Cookie", "")


# --- route weights -------------------------------------------------------------------------------
def variant(gateway, key: str) -> str:
    return call(gateway, "POST", "/v1/chat/completions", key, json=CHAT).headers.get("X-HX-Variant", "")


def test_route_weights_set_through_hx_control_change_the_variant_that_serves(gateway, control, inventory):
    admin = key_of(inventory, "admin")
    assert {variant(gateway, admin) for _ in range(5)} == {"tiny-a"}  # the spec's split: all on tiny-a
    answer = api(gateway, "PUT", "/routes/ab/weights", key_of(inventory, "operator"),
                 json={"split": [{"model": "tiny-a", "weight": 0}, {"model": "tiny-b", "weight": 100}]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    within_deadline("the new split serving", lambda: variant(gateway, admin) == "tiny-b")
    assert {variant(gateway, admin) for _ in range(5)} == {"tiny-b"}
    weights = json.loads((gateway.state_dir / Path(contract.ROUTE_WEIGHTS).name).read_text())
    assert weights == {"ab": [["tiny-b", 100]]}
    # The caller sees its variant but the engine is down: the gateway's own 502/503 answer.
    back = api(gateway, "PUT", "/routes/ab/weights", key_of(inventory, "operator"),
               json={"split": [{"model": "tiny-a", "weight": 100}, {"model": "tiny-b", "weight": 0}]})  # fmt: skip
    assert back.status_code == 200, back.text
    within_deadline("the spec's split serving again", lambda: variant(gateway, admin) == "tiny-a")


# --- the RBAC matrix, through the gateway (tests/control_matrix.py) -------------------------------
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_through_the_gateway_every_role_may_call_exactly_what_the_rbac_table_grants(through, role, endpoint):
    check_rest(through, role, endpoint)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_through_the_gateway_every_role_may_ask_exactly_what_the_rbac_table_grants(through, role, field):
    check_graphql(through, role, field)
