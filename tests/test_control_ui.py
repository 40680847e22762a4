"""hx-control's operator page (UI_PREFIX) over HTTP against the real service and PostgreSQL, as the
gateway would pass a browser's requests (its X-HX-* headers, Host and X-Forwarded-Proto): what
each role sees and may do is what RBAC grants, the login and logout cookie, and cross-site or
forged form posts refused."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from control_harness import ROLES, TENANT_OF_ROLE, serving_with_usage
from test_control_service import _insert_usage

from hxgen.contracts import control as contract
from hxgen.keys import hash_key

pytestmark = pytest.mark.tools

TODAY = dt.datetime.now(dt.UTC).date()
ORIGIN = "https://hx.test"  # what the harness's page() sends as Host and X-Forwarded-Proto


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    with serving_with_usage(tmp, TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1)) as both:
        yield both


@pytest.fixture(scope="module")
def cluster(served):
    return served[0]


@pytest.fixture(scope="module")
def control(served):
    return served[1]


class Page(HTMLParser):
    """The parts of a page the tests look at: section ids, forms (action, hidden fields)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.sections: list[str] = []
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(a["id"])
        elif tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1]["fields"][a["name"]] = a.get("value")

    def actions(self, kind: str) -> list[str]:
        return [f["action"] for f in self.forms if f["action"].endswith(kind)]

    @property
    def csrf(self) -> str:
        return next(f["fields"]["csrf"] for f in self.forms if "csrf" in f["fields"])


def page(control, role: str, **kwargs) -> Page:
    answer = control.page("GET", role=role, **kwargs)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return Page(answer.text)


def new_key(control, tenant: str, note: str = "ui") -> dict:
    answer = control.call("POST", "/keys", json={"tenant": tenant, "note": note})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _may(role: str, permission: str) -> bool:
    granted = contract.PERMISSIONS[role]
    return any(p in granted for p in (permission, f"{permission}:all", f"{permission}:own"))


# --- login, logout, no credentials ----------------------------------------------------------------
def test_the_page_without_credentials_sends_the_browser_to_the_login_form(control):
    answer = control.page("GET", role=None)
    assert answer.status_code == 303 and answer.headers["location"] == f"{ORIGIN}{contract.UI_PREFIX}/login"
    assert control.page("GET", "/", role=None).headers["location"] == f"{ORIGIN}{contract.UI_PREFIX}/login"
    assert Page(control.page("GET", "/", role="admin").text).sections == list(SECTIONS)
    login = control.page("GET", "/login", role=None)
    assert login.status_code == 200 and 'name="key"' in login.text and 'type="password"' in login.text


def test_login_sets_the_key_as_a_strict_secure_cookie_of_the_page_only_and_redirects(control):
    key = new_key(control, "ops")["secret"]
    answer = control.page("POST", "/login", role=None, data={"key": key})
    assert answer.status_code == 303 and answer.headers["location"] == f"{ORIGIN}{contract.UI_PREFIX}"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{contract.UI_COOKIE}={key};")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", f"path={contract.UI_PREFIX}"} <= attributes


def test_the_redirect_follows_the_gateways_forwarded_host_and_proto(control):
    forwarded = {"X-Forwarded-Host": "llm.example:8443", "X-Forwarded-Proto": "https"}
    answer = control.page("POST", "/login", role=None, data={"key": new_key(control, "ops")["secret"]},
                          headers=forwarded)  # fmt: skip
    assert answer.headers["location"] == f"https://llm.example:8443{contract.UI_PREFIX}"
    bad = control.page("GET", role=None, headers={"X-Forwarded-Host": "evil.test/x?"})
    assert bad.headers["location"] == f"{contract.UI_PREFIX}/login"  # not a host: a relative redirect


def test_login_refuses_what_is_not_a_key_and_a_cross_site_post(control):
    answer = control.page("POST", "/login", role=None, data={"key": "hunter2"})
    assert answer.status_code == 400 and "not an hx API key" in answer.text and "set-cookie" not in answer.headers
    forged = control.page("POST", "/login", role=None, data={"key": new_key(control, "ops")["secret"]},
                          headers={"Origin": "https://evil.test"})  # fmt: skip
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


def test_logout_clears_the_cookie_and_refuses_a_cross_site_post(control):
    # The gateway passes /admin/ui/logout without a key (X-HX-* cleared): Origin is the defence there.
    assert control.page("POST", "/logout", role=None, headers={"Origin": "https://evil.test"}).status_code == 403
    answer = control.page("POST", "/logout", role=None, headers={"Origin": ORIGIN})
    assert answer.status_code == 303 and answer.headers["location"] == f"{ORIGIN}{contract.UI_PREFIX}/login"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f'{contract.UI_COOKIE}="";') and "max-age=0" in cookie
    assert {"httponly", "secure", "samesite=strict", f"path={contract.UI_PREFIX}"} <= {
        a.strip() for a in cookie.split(";")[1:]
    }
    # With a verified caller, the page's token too.
    assert control.page("POST", "/logout", role="readonly").status_code == 403
    token = page(control, "readonly").csrf
    assert control.page("POST", "/logout", role="readonly", data={"csrf": token}).status_code == 303


# --- what each role sees --------------------------------------------------------------------------
SECTIONS = {"models": "models:read", "routes": "routes:read", "tenants": "tenants:read", "alerts": "alerts:read",
            "keys": "keys:read", "audit": "audit:read"}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_sections_and_forms_rbac_grants_it(control, role):
    own = new_key(control, TENANT_OF_ROLE[role])["key"]["id"]
    other = new_key(control, "bob")["key"]["id"]
    shown = page(control, role)
    assert shown.sections == [s for s in SECTIONS if _may(role, SECTIONS[s])]
    weights = shown.actions("/weights")
    assert weights == ([f"{contract.UI_PREFIX}/routes/{a}/weights" for a in ("canary", "chat")]
                       if _may(role, "routes:write") else [])  # fmt: skip
    for verb in ("rotate", "revoke"):
        forms = shown.actions(f"/{verb}")
        assert (f"{contract.UI_PREFIX}/keys/{own}/{verb}" in forms) == _may(role, f"keys:{verb}")
        assert (f"{contract.UI_PREFIX}/keys/{other}/{verb}" in forms) == (
            f"keys:{verb}:all" in contract.PERMISSIONS[role]
        )
    assert shown.actions("/logout") == [f"{contract.UI_PREFIX}/logout"]


def test_the_page_shows_the_host_at_a_glance(control, cluster):
    _insert_usage(cluster, [(dt.datetime.now(dt.UTC), "ui1", "acme", "small", 300, 100)])
    key = new_key(control, "acme", note="<b>batch</b>")["key"]["id"]
    html = page(control, "operator").html
    models = html[html.index('id="models"') : html.index('id="routes"')]
    assert re.search(r"small.*?chat-small.*?healthy", models, re.S) and re.search(r"large.*?down", models, re.S)
    assert 'name="weight-small" value="80"' in html and "sticky tenant, weights owned by control" in html
    assert re.search(r"acme</td><td>user</td><td>standard</td>\s*<td>.*?[4-9]\d\d / 1000", html, re.S)
    assert "cannot read the alerts from Alertmanager" in html  # the test's Alertmanager is down
    assert f'id="key-{key}"' in html and "&lt;b&gt;batch&lt;/b&gt;" in html and "<b>batch" not in html
    assert "key-created" in html[html.index('id="audit"') :]


# --- the forms ------------------------------------------------------------------------------------
def test_an_operator_rotates_a_key_and_is_shown_the_new_one_once(control):
    old = new_key(control, "acme")
    token = page(control, "operator").csrf
    answer = control.page("POST", f"/keys/{old['key']['id']}/rotate", role="operator",
                          data={"csrf": token, "overlap_hours": "2"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    secret = re.search(r'id="secret">(hx-[^<]+)<', answer.text).group(1)
    assert hash_key(secret) in control.keys_map and f"Key {old['key']['id']} rotated" in answer.text
    listed = {k["id"]: k for k in control.call("GET", "/keys").json()}
    new = next(k for k in listed.values() if k["replaces"] == old["key"]["id"])
    assert secret.startswith(f"hx-{new['id']}-") and listed[old["key"]["id"]]["expires"] is not None
    assert secret not in page(control, "operator").html


def test_an_operator_revokes_a_key_and_the_page_shows_it_revoked(control):
    key = new_key(control, "bob")
    token = page(control, "operator").csrf
    answer = control.page("POST", f"/keys/{key['key']['id']}/revoke", role="operator", data={"csrf": token})
    assert answer.status_code == 200 and "revoked" in answer.text
    assert hash_key(key["secret"]) not in control.keys_map
    row = re.search(rf'id="key-{key["key"]["id"]}">.*?</tr>', page(control, "operator").html, re.S).group(0)
    assert 'class="bad status">revoked' in row and "/revoke" not in row


def test_route_weights_are_set_from_the_form_within_the_specs_bounds(control):
    token = page(control, "admin").csrf
    answer = control.page("POST", "/routes/chat/weights", role="admin",
                          data={"csrf": token, "weight-small": "60", "weight-large": "40"})  # fmt: skip
    assert answer.status_code == 200 and "Now small 60%, large 40%" in answer.text
    assert control.route_weights["chat"] == [["chat-small", 60], ["chat-large", 100]]
    bad = control.page("POST", "/routes/chat/weights", role="admin",
                       data={"csrf": token, "weight-small": "60", "weight-large": "60"})  # fmt: skip
    assert bad.status_code == 400 and "add up to 120, not 100" in bad.text
    typo = control.page("POST", "/routes/chat/weights", role="admin",
                        data={"csrf": token, "weight-small": "lots", "weight-large": "60"})  # fmt: skip
    assert typo.status_code == 400 and "must be a whole number" in typo.text
    assert control.route_weights["chat"] == [["chat-small", 60], ["chat-large", 100]]


# --- forged posts ---------------------------------------------------------------------------------
def test_a_post_without_the_pages_token_or_from_another_origin_is_refused(control):
    key = new_key(control, "acme")
    before = control.keys_map
    revoke = f"/keys/{key['key']['id']}/revoke"
    token = page(control, "operator").csrf
    other = page(control, "operator", key_id="99999999").csrf  # the same role, another key: another token
    for data, extra in (
        ({}, {}),
        ({"csrf": "0" * 64}, {}),
        ({"csrf": other}, {}),
        ({"csrf": token}, {"Origin": "https://evil.test"}),
        ({"csrf": token}, {"Origin": "null"}),
    ):
        answer = control.page("POST", revoke, role="operator", data=data, headers=extra)
        assert answer.status_code == 403, (data, extra, answer.text)
    assert control.keys_map == before
    fine = control.page("POST", revoke, role="operator", data={"csrf": token}, headers={"Origin": ORIGIN})
    assert fine.status_code == 200


def test_a_forged_post_of_a_role_that_sees_no_form_is_refused_by_rbac(control):
    own = new_key(control, "viewer")["key"]["id"]
    theirs = new_key(control, "bob")["key"]["id"]
    before = control.keys_map
    readonly = page(control, "readonly").csrf  # a valid token: the refusal below is RBAC's
    for path in (f"/keys/{own}/revoke", f"/keys/{own}/rotate", "/routes/chat/weights"):
        answer = control.page("POST", path, role="readonly", data={"csrf": readonly, "weight-small": "100",
                                                                     "weight-large": "0"})  # fmt: skip
        assert answer.status_code == 403 and "readonly" in answer.text, answer.text
    user = page(control, "user").csrf
    answer = control.page("POST", f"/keys/{theirs}/revoke", role="user", data={"csrf": user})
    assert answer.status_code == 403 and "own tenant (acme)" in answer.text
    assert control.keys_map == before
    assert control.page("POST", f"/keys/{own}/revoke", role=None, data={"csrf": readonly}).status_code == 401
