"""The operator's page in a real browser (headless Chromium, tests/browser_harness.py) through the real
gateway (nginx with the rendered configuration, TLS from the test's CA) in front of the real
hx-control and PostgreSQL: log in with an operator's key, see the host, rotate one key and revoke
another, see the results, log out; and GraphQL through the same gateway. The screenshot of the
page is docs/control-ui.png: HX_UPDATE_SCREENSHOT=1 writes it there from this run.

The spec is tests/data/gateway-control/hx.yaml with TLS on (a Secure cookie needs HTTPS) and ports
of its own; hx-control's engine health, usage and audit log point at a health stand-in, a real
hx_usage.requests and a real audit log, so the page has data to show."""

from __future__ import annotations

import datetime as dt
import os
import struct
import time
from pathlib import Path

import gateway_harness
import pytest
import requests
from browser_harness import Browser
from control_harness import Engine, audit_config, rendered_config, serving_behind
from pg_harness import free_port, pg_cluster
from test_control_service import _insert_usage
from usage_schema import create_usage_tables

from hxgen.contracts import control as contract
from hxgen.keys import KeyEntry, hash_key, new_key

pytestmark = pytest.mark.tools

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).parent / "data/gateway-control/hx.yaml"
SCREENSHOT = ROOT / "docs/control-ui.png"
TENANT_OF_ROLE = {"admin": "root", "operator": "ops", "user": "acme", "readonly": "viewer"}
TODAY = dt.datetime.now(dt.UTC).date()


def _spec(tmp: Path) -> Path:
    text = SPEC.read_text()
    for old, new in (
        ('tls: {mode: "off"}', "tls: {mode: internal-ca}"),
        ("http_port: 18280, https_port: 18643", "http_port: 18284, https_port: 18647"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "hx.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[KeyEntry, str]]:
    made = {}
    for role, tenant in TENANT_OF_ROLE.items():
        key_id, key = new_key()
        made[role] = (KeyEntry(key_id, tenant, hash_key(key), TODAY), key)
    return made


@pytest.fixture(scope="module")
def host(tmp_path_factory, keys):
    """The gateway (staged as its role lays it out) in front of hx-control (its rendered
    configuration, moved to loopback scratch paths, synced from the inventory as on converge)."""
    tmp = tmp_path_factory.mktemp("browser")
    spec = _spec(tmp)
    entries = [e.as_dict() for e, _ in keys.values()]
    staged = gateway_harness.stage(spec, tmp / "gateway", entries)
    proc = gateway_harness.start(staged)
    engine = Engine()
    data = rendered_config(spec)
    data["models"]["tiny-a"]["health_url"] = f"http://127.0.0.1:{engine.port}/health"
    data |= {
        "alertmanager_url": f"http://127.0.0.1:{free_port()}",
        "usage": {"table": "hx_usage.requests", "time_zone": "UTC"},
        "audit_config": str(audit_config(tmp)),
    }
    try:
        with pg_cluster() as cluster:
            create_usage_tables(cluster.dsn(), TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1))
            _insert_usage(cluster, [(dt.datetime.now(dt.UTC), "b1", "acme", "tiny-a", 1200, 345),
                                    (dt.datetime.now(dt.UTC), "b2", "ops", "tiny-b", 80, 20)])  # fmt: skip
            with serving_behind(staged, tmp, cluster, data, entries):
                yield staged
    finally:
        engine.close()
        gateway_harness.stop(proc)


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "chromium")
    yield b
    b.close()


def api(host, method: str, path: str, key: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{host.url}{contract.API_PREFIX}/v1{path}", headers={"Authorization": f"Bearer {key}"},
        verify=str(host.ca_cert), timeout=30, **kwargs,
    )  # fmt: skip


def works(host, key: str) -> bool:
    return api(host, "GET", "/whoami", key).status_code == 200


def within_deadline(what: str, check) -> None:
    deadline = time.monotonic() + contract.RELOAD_WITHIN_S
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {contract.RELOAD_WITHIN_S} s"
        time.sleep(0.05)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_an_operator_logs_in_rotates_and_revokes_keys_and_logs_out_in_a_browser(host, keys, browser, tmp_path):
    admin = keys["admin"][1]
    made = {}
    for note in ("batch jobs", "old laptop"):
        answer = api(host, "POST", "/keys", admin, json={"tenant": "acme", "note": note})
        assert answer.status_code == 201, answer.text
        made[note] = answer.json()
    route = api(host, "PUT", "/routes/ab/weights", keys["operator"][1],
                json={"split": [{"model": "tiny-a", "weight": 70}, {"model": "tiny-b", "weight": 30}]})  # fmt: skip
    assert route.status_code == 200, route.text
    page = f"{host.url}{contract.UI_PREFIX}"

    browser.goto(f"{page}/login")
    browser.fill("#key", keys["operator"][1])
    browser.click("#login")
    assert browser.url == page, browser.text  # the redirect kept the gateway's host and port
    cookie = next(c for c in browser.cookies() if c["name"] == contract.UI_COOKIE)
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == (
        True, True, "Strict", contract.UI_PREFIX)  # fmt: skip
    text = browser.text
    assert f"ops · operator · key {keys['operator'][0].id}" in text
    assert "tiny-a" in text and "healthy" in text and "down" in text  # tiny-b's engine is not running
    assert "1545 / no quota" in text  # acme's tokens today, from hx_usage.requests
    assert made["batch jobs"]["key"]["id"] in text and "route-weights-set" in text

    rotated = made["batch jobs"]["key"]["id"]
    browser.click(f"#rotate-{rotated}")
    assert f"Key {rotated} rotated" in browser.text
    secret = browser.evaluate("document.querySelector('#secret').innerText")
    within_deadline("the rotated key's successor working", lambda: works(host, secret))
    assert works(host, made["batch jobs"]["secret"])  # the old one, for the overlap
    browser.click("#back")

    revoked = made["old laptop"]["key"]["id"]
    browser.click(f"#revoke-{revoked}")
    assert f"Key {revoked} revoked" in browser.text
    within_deadline("the revoked key refused", lambda: not works(host, made["old laptop"]["secret"]))
    browser.click("#back")
    row = browser.evaluate(f"document.querySelector('#key-{revoked}').innerText")
    assert "revoked" in row and not browser.evaluate(f"!!document.querySelector('#revoke-{revoked}')")
    assert secret not in browser.text

    shot = browser.screenshot()
    width, height = png_size(shot)
    assert width == 1280 and height >= 900
    (tmp_path / "control-ui.png").write_bytes(shot)
    if os.environ.get("HX_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(shot)

    browser.click("header form button")  # log out
    assert browser.url == f"{page}/login"
    assert not [c for c in browser.cookies() if c["name"] == contract.UI_COOKIE]
    again = requests.get(page, verify=str(host.ca_cert), timeout=30, allow_redirects=False)
    assert again.status_code == 303 and again.headers["Location"].endswith("/login")  # no key, no page


def test_a_readonly_caller_sees_the_page_without_any_form(host, keys, browser):
    page = f"{host.url}{contract.UI_PREFIX}"
    browser.goto(f"{page}/login")
    browser.fill("#key", keys["readonly"][1])
    browser.click("#login")
    assert browser.url == page
    assert browser.evaluate("[...document.forms].map(f => f.getAttribute('action'))") == [
        f"{contract.UI_PREFIX}/logout"
    ]
    assert "viewer · readonly" in browser.text and "Audit log" not in browser.text


def test_graphql_through_the_gateway_answers_the_verified_key_and_not_the_pages_cookie(host, keys):
    url = f"{host.url}{contract.GRAPHQL_PATH}"
    query = {"query": "{ whoami { tenant role keyId } keys { tenant } }"}
    entry, key = keys["user"]
    answer = requests.post(url, json=query, headers={"Authorization": f"Bearer {key}"}, verify=str(host.ca_cert),
                           timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["whoami"] == {"tenant": "acme", "role": "user", "keyId": entry.id}
    assert {k["tenant"] for k in data["keys"]} == {"acme"}
    cookie = requests.post(url, json=query, cookies={contract.UI_COOKIE: keys["admin"][1]}, verify=str(host.ca_cert),
                           timeout=30)  # fmt: skip
    assert cookie.status_code == 401
