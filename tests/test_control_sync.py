"""`hx-control sync`, the converge's merge of the controller's inventory keys and the spec's route
weights into the host (hxgen.contracts.control), one rule per test, through the real command
against a real PostgreSQL; keys made on the host through the real HostControl."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from control_harness import Engine, cli, config, migrate, reset, write_config
from pg_harness import pg_cluster

from hxgen.contracts import control as contract
from hxgen.control import config as config_mod
from hxgen.control.model import Caller, Weight
from hxgen.control.service import HostControl
from hxgen.keys import KeyEntry, hash_key, new_key

pytestmark = pytest.mark.tools

ADMIN = Caller("root", "admin", "k0000000")


@pytest.fixture(scope="module")
def cluster():
    with pg_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def engine():
    e = Engine()
    yield e
    e.close()


class Host:
    def __init__(self, tmp, cluster, engine, **overrides) -> None:
        self.tmp, self.cluster = tmp, cluster
        self.data = config(tmp, cluster, engine.port, **overrides)
        self.config_file = write_config(tmp, self.data)
        migrate(self.config_file)
        reset(cluster)
        self.control = HostControl(config_mod.load(self.config_file))

    def reconfigure(self, **changes) -> None:
        self.data.update(changes)
        write_config(self.tmp, self.data)
        self.control = HostControl(config_mod.load(self.config_file))

    def sync(self, keys: list[KeyEntry], *extra: str) -> dict:
        inventory = self.tmp / "inventory-keys.json"
        inventory.write_text(json.dumps({"keys": [k.as_dict() for k in keys]}))
        done = cli(self.config_file, "sync", "--inventory-keys", str(inventory), *extra)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stored(self) -> dict:
        return {k.id: k for k in self.control.keys(ADMIN)}

    def map(self) -> dict[str, str]:
        text = (self.tmp / "gateway" / "api-keys.map").read_text()
        return dict(re.findall(r'^([0-9a-f]{64}) "([^"]*)";$', text, re.M))

    def weights(self) -> dict:
        return json.loads((self.tmp / "gateway" / "route-weights.json").read_text())

    def synced_records(self) -> list[dict]:
        log = self.tmp / "audit" / "log"
        lines = [json.loads(line) for p in sorted(log.glob("audit-*.jsonl")) for line in p.read_text().splitlines()]
        return [r for r in lines if r["action"] == contract.AUDIT_KEYS_SYNCED]


@pytest.fixture
def host(tmp_path, cluster, engine):
    return Host(tmp_path, cluster, engine)


def inventory_key(tenant: str = "acme", expires: dt.date | None = None) -> tuple[KeyEntry, str]:
    key_id, secret = new_key()
    entry = KeyEntry(key_id, tenant, hash_key(secret), dt.date(2026, 1, 5), expires, "from the inventory")
    return entry, secret


def test_an_inventory_key_the_host_has_not_seen_is_added_once_and_audited_once(host):
    entry, secret = inventory_key(expires=dt.date(2031, 3, 1))
    first = host.sync([entry])
    assert first["changed"] is True and first["added"] == [entry.id]
    assert host.stored()[entry.id].origin == contract.ORIGIN_INVENTORY
    assert host.map()[hash_key(secret)] == f"acme 2031-03-01 {entry.id}"
    again = host.sync([entry])
    assert again["changed"] is False and again["added"] == []
    records = host.synced_records()
    assert len(records) == 1 and records[0]["actor"] == "hx-control/sync"
    assert records[0]["detail"]["added"] == [entry.id]


def test_a_key_created_on_the_host_is_never_touched_by_a_sync(host):
    made = host.control.create_key(ADMIN, "bob", note="host only")
    summary = host.sync([])
    assert made.key.id not in summary["revoked"]
    assert host.stored()[made.key.id].revoked is None
    assert host.map()[hash_key(made.secret)] == f"bob - {made.key.id}"


def test_an_inventory_key_that_left_the_inventory_is_revoked(host):
    kept, _ = inventory_key()
    removed, secret = inventory_key()
    host.sync([kept, removed])
    summary = host.sync([kept])
    assert summary["changed"] is True and summary["revoked"] == [removed.id]
    assert host.stored()[removed.id].revoked is not None
    assert hash_key(secret) not in host.map()


def test_a_revoked_key_is_not_resurrected_by_an_inventory_that_still_has_it(host):
    entry, secret = inventory_key()
    host.sync([entry])
    host.control.revoke_key(ADMIN, entry.id)
    summary = host.sync([entry])
    assert summary["changed"] is False
    assert host.stored()[entry.id].revoked is not None
    assert hash_key(secret) not in host.map()


def test_the_expiry_is_the_earlier_of_the_inventorys_and_the_hosts(host):
    entry, secret = inventory_key(expires=dt.date(2031, 1, 1))
    host.sync([entry])
    rotated = host.control.rotate_key(ADMIN, entry.id, overlap_hours=3)
    short = rotated.replaced.expires
    summary = host.sync([entry])  # the inventory still says 2031: the host's earlier end stays
    assert summary["changed"] is False and host.stored()[entry.id].expires == short
    assert host.map()[hash_key(rotated.secret)] == f"acme - {rotated.key.id}"

    other, other_secret = inventory_key(expires=dt.date(2031, 1, 1))
    host.sync([entry, other])
    earlier = KeyEntry(other.id, other.tenant, other.sha256, other.created, dt.date(2030, 6, 1), other.note)
    summary = host.sync([entry, earlier])
    assert summary["expiry_shortened"] == [other.id]
    assert host.map()[hash_key(other_secret)] == f"acme 2030-06-01 {other.id}"
    later = KeyEntry(other.id, other.tenant, other.sha256, other.created, None, other.note)
    assert host.sync([entry, later])["changed"] is False
    assert host.map()[hash_key(other_secret)] == f"acme 2030-06-01 {other.id}"


def test_routes_the_spec_owns_get_the_specs_split_again_routes_hx_control_owns_keep_theirs(host):
    first = host.sync([])
    assert first["routes_initialised"] == ["canary", "chat"]
    for alias in ("canary", "chat"):
        host.control.set_route_weights(ADMIN, alias, [_w("small", 50), _w("large", 50)])
    summary = host.sync([])
    assert summary["changed"] is True and summary["routes_reset"] == ["canary"]
    assert host.weights() == {"canary": [["chat-small", 90], ["chat-large", 100]],
                              "chat": [["chat-small", 50], ["chat-large", 100]]}  # fmt: skip


def test_a_live_split_naming_a_variant_no_longer_in_the_route_goes_back_to_the_specs(host):
    host.sync([])
    host.control.set_route_weights(ADMIN, "chat", [_w("small", 50), _w("large", 50)])
    models = host.data["models"] | {"tiny": host.data["models"]["small"] | {"served_name": "chat-tiny"}}
    split = [{"model": "small", "weight": 60}, {"model": "tiny", "weight": 40}]
    routes = host.data["routes"] | {"chat": host.data["routes"]["chat"] | {"split": split}}
    host.reconfigure(models=models, routes=routes)
    summary = host.sync([])
    assert summary["routes_reset"] == ["chat"]
    assert host.weights()["chat"] == [["chat-small", 60], ["chat-tiny", 100]]


def test_a_route_no_longer_configured_is_deleted(host):
    host.sync([])
    host.reconfigure(routes={"chat": host.data["routes"]["chat"]})
    summary = host.sync([])
    assert summary["routes_removed"] == ["canary"]
    assert set(host.weights()) == {"chat"}
    assert [r.alias for r in host.control.routes(ADMIN)] == ["chat"]


def test_check_says_what_would_change_and_changes_nothing(host):
    entry, secret = inventory_key()
    summary = host.sync([entry], "--check")
    assert summary["changed"] is True and summary["added"] == [entry.id]
    assert entry.id not in host.stored()
    assert host.synced_records() == []
    assert host.sync([entry])["added"] == [entry.id]


def test_a_malformed_inventory_fails_with_the_file_and_the_entry(host):
    bad = host.tmp / "bad.json"
    bad.write_text(json.dumps({"keys": [{"id": "zz", "tenant": "acme", "sha256": "0" * 64, "created": "2026-01-01"}]}))
    done = cli(host.config_file, "sync", "--inventory-keys", str(bad))
    assert done.returncode == 1
    assert f"{bad}: keys[0]: id, tenant or sha256 is malformed" in done.stderr


def test_state_rewrites_a_hand_edited_map_from_the_database(host):
    entry, secret = inventory_key()
    host.sync([entry])
    path = host.tmp / "gateway" / "api-keys.map"
    path.write_text("# edited by hand\n")
    done = cli(host.config_file, "state")
    assert done.returncode == 0 and "api-keys.map" in done.stdout
    assert hash_key(secret) in host.map()
    assert cli(host.config_file, "state").stdout.startswith("unchanged")


def test_a_configuration_mistake_is_named_and_exits_2(host):
    data = host.data | {"routes": {"chat": host.data["routes"]["chat"] | {"split": [{"model": "gone", "weight": 100}]}}}
    elsewhere = host.tmp / "bad"
    elsewhere.mkdir()
    done = cli(write_config(elsewhere, data), "check")
    assert done.returncode == 2
    assert "routes.chat.split: 'gone' is not a model of this configuration" in done.stderr


def _w(model: str, weight: int) -> Weight:
    return Weight(model, weight)
