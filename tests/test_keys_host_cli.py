"""`hxgen keys --host`: the key commands on a live host, end to end through the real gateway
(staged nginx) in front of the real hx-control on a real PostgreSQL, called in-process like the
rest of the CLI's tests; and the mistakes that never reach a host, each with what to do."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gateway_harness
import pytest
import requests
from conftest import CliResult
from control_harness import rendered_config, serving_behind
from pg_harness import free_port, pg_cluster

from hxgen import keys as keys_file
from hxgen.contracts import control as contract
from hxgen.keys import KeyEntry, hash_key, new_key

pytestmark = pytest.mark.tools

SPEC = Path(__file__).parent / "data/keys-host/hx.yaml"
INVENTORY_KEYS = {"admin": "root", "operator": "ops", "readonly": "viewer", "leaked": "acme"}
"""The inventory's keys, by what the tests use them for, and their tenants."""


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("HX_API_KEY", raising=False)


@pytest.fixture(scope="module")
def inventory() -> dict[str, tuple[KeyEntry, str]]:
    """use -> (the inventory's entry, the key), as `hxgen keys create` makes them."""
    made = {}
    for use, tenant in INVENTORY_KEYS.items():
        key_id, key = new_key()
        made[use] = (KeyEntry(key_id, tenant, hash_key(key), dt.date.today()), key)
    return made


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, inventory):
    """The real nginx with the spec's rendered gateway, TLS from the harness's CA, hx-control's
    state seeded from the inventory as the gateway role seeds it."""
    entries = [e.as_dict() for e, _ in inventory.values()]
    staged = gateway_harness.stage(SPEC, tmp_path_factory.mktemp("gateway"), entries)
    proc = gateway_harness.start(staged)
    yield staged
    gateway_harness.stop(proc)


@pytest.fixture(scope="module")
def control(tmp_path_factory, gateway, inventory):
    """The real hx-control with the spec's rendered configuration on loopback scratch paths,
    synced from the inventory as the control role does on converge, reloading the test nginx."""
    tmp = tmp_path_factory.mktemp("control")
    with pg_cluster() as cluster:
        entries = [e.as_dict() for e, _ in inventory.values()]
        with serving_behind(gateway, tmp, cluster, rendered_config(SPEC), entries) as running:
            yield running


@pytest.fixture
def host(gateway, control, tmp_path) -> Callable[..., list[str]]:
    """host(key) -> the arguments that reach the gateway with that key (in a file) and its CA."""

    def args(key: str) -> list[str]:
        path = tmp_path / f"{hash_key(key)[:12]}.key"
        path.write_text(key + "\n")
        path.chmod(0o600)
        return ["--host", gateway.https_url, "--api-key-file", str(path), "--ca-file", str(gateway.ca_cert)]

    return args


def key_of(inventory, use: str) -> str:
    return inventory[use][1]


def eventually(what: str, attempt: Callable[[], CliResult], done: Callable[[CliResult], bool]) -> CliResult:
    """attempt() until done(result), failing once hx-control's promise (RELOAD_WITHIN_S) has passed;
    the result that was done. (Asserting on a later attempt would race nginx's graceful reload: an
    old worker may still take a connection for a moment after a new one has answered.)"""
    deadline = time.monotonic() + contract.RELOAD_WITHIN_S
    while not done(result := attempt()):
        assert time.monotonic() < deadline, f"{what} did not happen within {contract.RELOAD_WITHIN_S} s: {result}"
        time.sleep(0.05)
    return result


# --- through the gateway ------------------------------------------------------------------------
def test_create_use_rotate_and_revoke_a_key_without_a_converge(hxgen, host, inventory, tmp_path):
    admin = host(key_of(inventory, "admin"))
    made = hxgen("keys", "create", *admin, "--tenant", "acme", "--days", "30", "--note", "acme's app")
    assert made.code == 0, made.err
    secret = made.out.removesuffix("\n")
    assert made.out == secret + "\n" and secret.startswith("hx-")
    key_id = secret.split("-")[1]
    assert f"key {key_id} for tenant acme created on https://127.0.0.1:18743" in made.err
    assert "not shown again" in made.err and "within 5 s" in made.err

    def who(key: str):
        return hxgen("keys", "whoami", *host(key))

    me = eventually("the new key working", lambda: who(secret), lambda r: r.code == 0)
    assert me.out.splitlines()[0] == f"tenant acme, role user, key {key_id}", me

    rotated = hxgen("keys", "rotate", *admin, key_id, "--overlap-hours", "1", "--json")
    assert rotated.code == 0, rotated.err
    answer = json.loads(rotated.out)
    successor = answer["secret"]
    assert answer["key"]["replaces"] == key_id and answer["replaced"]["id"] == key_id
    ends = dt.datetime.fromisoformat(answer["replaced"]["expires"])
    assert dt.timedelta(minutes=50) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert f"replaces {key_id}, which keeps working until {ends.isoformat()}" in rotated.err
    eventually("the successor working", lambda: who(successor), lambda r: r.code == 0)
    assert who(secret).code == 0  # the overlap: both work (the old key worked before the reload too)

    listed = hxgen("keys", "list", *admin, "--tenant", "acme", "--json")
    assert listed.code == 0, listed.err
    by_id = {k["id"]: k for k in json.loads(listed.out)}
    assert by_id[answer["key"]["id"]]["replaces"] == key_id and by_id[key_id]["status"] == "ok"
    assert {k["tenant"] for k in by_id.values()} == {"acme"}

    revoked = hxgen("keys", "revoke", *admin, answer["key"]["id"], "--keys-file", tmp_path / "absent.yml")
    assert revoked.code == 0 and revoked.out == "", revoked.err
    assert "revoked on https://127.0.0.1:18743" in revoked.err and "cannot bring it back" in revoked.err
    refused = eventually("the revoked key refused", lambda: who(successor), lambda r: r.code == 5)
    assert "HTTP 401" in refused.err and "unknown, expired or revoked" in refused.err

    again = hxgen("keys", "revoke", *admin, answer["key"]["id"], "--keys-file", tmp_path / "absent.yml")
    assert again.code == 1 and "HTTP 409 conflict" in again.err


def test_the_list_table_shows_origin_and_status(hxgen, host, inventory):
    listed = hxgen("keys", "list", *host(key_of(inventory, "operator")))
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split() == ["ID", "TENANT", "CREATED", "EXPIRES", "STATUS", "ORIGIN", "NOTE"]
    entry = inventory["operator"][0]
    (mine,) = [r.split() for r in rows if r.startswith(entry.id)]
    assert mine[1] == "ops" and mine[3:6] == ["never", "ok", "inventory"]


def test_revoke_on_the_host_also_drops_the_id_from_the_keys_file(hxgen, host, inventory, tmp_path):
    leaked, kept = inventory["leaked"][0], inventory["operator"][0]
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    keys_file.save_entries(project / "inventory/api-keys.yml", [kept, leaked])
    result = hxgen("keys", "revoke", *host(key_of(inventory, "admin")), leaked.id, project / "hx.yaml")
    assert result.code == 0, result.err
    assert f"key {leaked.id} removed from {project / 'inventory/api-keys.yml'} too" in result.err
    assert keys_file.load_entries(project / "inventory/api-keys.yml") == [kept]
    leaked_key = host(key_of(inventory, "leaked"))
    refused = eventually("the leaked key refused", lambda: hxgen("keys", "whoami", *leaked_key), lambda r: r.code == 5)
    assert "HTTP 401" in refused.err


def test_a_readonly_key_may_not_create_keys(hxgen, host, inventory):
    result = hxgen("keys", "create", *host(key_of(inventory, "readonly")), "--tenant", "viewer")
    assert result.code == 5 and result.out == ""
    assert "the host refused to create a key for tenant viewer: HTTP 403 forbidden" in result.err
    assert "making keys needs an admin's key" in result.err


def test_an_unknown_tenant_or_key_is_a_404_with_a_hint(hxgen, host, inventory):
    admin = host(key_of(inventory, "admin"))
    tenant = hxgen("keys", "create", *admin, "--tenant", "nobody")
    assert tenant.code == 1 and "HTTP 404 not_found" in tenant.err and "gateway.tenants" in tenant.err
    key = hxgen("keys", "rotate", *admin, "00000000")
    assert key.code == 1 and "HTTP 404" in key.err and "hxgen keys list --host URL" in key.err


def test_a_bad_key_is_refused_by_the_gateway(hxgen, host):
    result = hxgen("keys", "list", *host("hx-00000000-not-a-key"))
    assert result.code == 5 and result.out == ""
    assert "HTTP 401 invalid_api_key" in result.err and "use a live key" in result.err


def test_a_certificate_from_another_ca_fails_tls_verification(hxgen, host, inventory, tmp_path):
    _, other = gateway_harness.make_ca(tmp_path, "other-ca")
    args = host(key_of(inventory, "admin"))
    args[args.index("--ca-file") + 1] = str(other)
    result = hxgen("keys", "list", *args)
    assert result.code == 4 and result.out == ""
    assert "the gateway's TLS certificate is not trusted" in result.err and "--ca-file" in result.err
    without = hxgen("keys", "list", *args[: args.index("--ca-file")])  # the system's CAs only
    assert without.code == 4 and "not trusted" in without.err


def test_hx_control_without_the_gateway_refuses_every_caller(hxgen, control, inventory, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", key_of(inventory, "admin"))
    result = hxgen("keys", "list", "--host", control.url)
    assert result.code == 5 and "HTTP 401 unauthenticated" in result.err
    assert "the API key travels unencrypted" in result.err


# --- before any request -------------------------------------------------------------------------
def test_help_explains_the_host_mode_its_credentials_and_exit_codes(hxgen):
    text = hxgen("keys", "--help").out
    for needle in ("--host URL", "--api-key-file FILE", "HX_API_KEY", "--ca-file", "never from the", "rotate",
                   "removes the id", "5 the API key was refused (401)", "4 the host"):  # fmt: skip
        assert needle in " ".join(text.split()), needle
    rotate = " ".join(hxgen("keys", "rotate", "--help").out.split())
    assert "--overlap-hours N" in rotate and "0 to 720" in rotate


def test_without_an_api_key_nothing_is_sent_and_the_message_says_how_to_give_one(hxgen, no_key):
    result = hxgen("keys", "list", "--host", f"https://127.0.0.1:{free_port()}")
    assert result.code == 2 and result.out == ""
    assert "no API key" in result.err and "--api-key-file FILE or set HX_API_KEY" in result.err


def test_the_key_is_never_taken_from_the_command_line(hxgen):
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--api-key", "hx-00000000-x")
    assert result.code == 2 and "unrecognized arguments" in result.err


def test_a_key_file_that_cannot_be_read_or_is_not_one_word(hxgen, tmp_path, no_key):
    host = ("--host", f"https://127.0.0.1:{free_port()}")
    missing = hxgen("keys", "list", *host, "--api-key-file", tmp_path / "nope")
    assert missing.code == 2 and f"--api-key-file {tmp_path / 'nope'}: cannot read" in missing.err
    (tmp_path / "two").write_text("hx-a\nhx-b\n")
    two = hxgen("keys", "list", *host, "--api-key-file", tmp_path / "two")
    assert two.code == 2 and "not one word on one line" in two.err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("rotate", "0123abcd"), "rotate needs --host URL"),
        (("whoami",), "whoami needs --host URL"),
        (("create", "--tenant", "acme", "--json"), "--json needs --host URL"),
        (("revoke", "0123abcd", "--ca-file", "ca.crt"), "--ca-file needs --host URL"),
    ],
)
def test_host_only_commands_and_options_say_they_need_host(hxgen, args, said):
    result = hxgen("keys", *args)
    assert result.code == 2 and said in result.err


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("gw.example:8443", "is not an http(s) URL"),
        ("https://gw.example:8443/admin/api/v1", "has a path"),
    ],
)
def test_host_is_the_gateways_base_url(hxgen, monkeypatch, url, said):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    result = hxgen("keys", "list", "--host", url)
    assert result.code == 2 and said in result.err and "https://gw.example:8443" in result.err


def test_a_ca_file_that_is_not_a_certificate(hxgen, tmp_path, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--ca-file", tmp_path / "ca.crt")
    assert result.code == 2 and "not a readable PEM CA certificate" in result.err and "/etc/hx/tls/ca.crt" in result.err


def test_nothing_listening_is_a_connection_failure_with_a_hint(hxgen, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    result = hxgen("keys", "list", "--host", f"https://127.0.0.1:{free_port()}")
    assert result.code == 4 and result.out == ""
    assert "cannot connect to https://127.0.0.1:" in result.err and "check --host" in result.err


def test_without_the_client_extra_the_message_names_it(hxgen, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    for name in [m for m in sys.modules if m.startswith("hxgen.control_client")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "httpx", None)  # what an install without httpx looks like to an import
    result = hxgen("keys", "whoami", "--host", "https://127.0.0.1:1")
    assert result.code == 2 and "pip install 'hxgen[client]'" in result.err


def test_a_key_given_where_its_file_belongs_is_not_echoed(hxgen, no_key):
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--api-key-file", "hx-00000000-secretpart")
    assert result.code == 2 and "not the key" in result.err and "secretpart" not in result.err


def test_a_client_certificate_reaches_hx_control_as_its_tenant_owning_no_key(gateway, control):
    cert = gateway_harness.client_certificate(gateway, "batch.hx.internal")
    answer = requests.get(f"{gateway.https_url}{contract.API_PREFIX}/v1/whoami", cert=cert,
                          verify=str(gateway.ca_cert), timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant"] == "batch" and answer.json()["key_id"] == contract.CERTIFICATE_KEY_ID
    keys = requests.get(f"{gateway.https_url}{contract.API_PREFIX}/v1/keys", cert=cert,
                        verify=str(gateway.ca_cert), timeout=30)  # fmt: skip
    assert keys.status_code == 200 and keys.json() == []
