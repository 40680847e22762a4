"""The published REST API of hx-control (hxgen/control/openapi.json) is what the app serves, and
the pure parts of the service: the key map's expiry format and the configuration's checks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hxgen.control import config as config_mod
from hxgen.control.cli import openapi_text
from hxgen.control.gateway_state import keys_map, map_expiry
from hxgen.control.model import ApiKey
from hxgen.control.store import StoredKey

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "hxgen/control/openapi.json"
REGENERATE = "hx-control openapi > hxgen/control/openapi.json  (or: python -m hxgen.control.cli openapi)"


def test_the_published_openapi_document_is_what_the_app_serves():
    assert PUBLISHED.read_text() == openapi_text(), f"the REST API changed: regenerate with `{REGENERATE}`"


def test_every_operation_has_a_python_friendly_id_a_summary_and_documented_errors():
    document = json.loads(PUBLISHED.read_text())
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            assert op["operationId"].isidentifier(), (method, path)
            assert op.get("description"), (method, path)
            assert {"401", "403", "503"} <= set(op["responses"]), (method, path)
            assert op["security"] == [{"HTTPBearer": []}], (method, path)


@pytest.mark.parametrize(
    ("expires", "shown"),
    [
        (None, "-"),
        (dt.datetime(2031, 3, 1, tzinfo=dt.UTC), "2031-03-01"),
        (dt.datetime(2031, 3, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), "2031-03-01"),
        (dt.datetime(2031, 3, 1, 12, 30, 5, 999, tzinfo=dt.UTC), "2031-03-01T12:30:05Z"),
    ],
)
def test_the_key_maps_expiry_is_a_date_at_midnight_utc_else_a_utc_time(expires, shown):
    assert map_expiry(expires) == shown


def test_the_key_map_leaves_revoked_keys_out_and_is_sorted():
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def stored(key_id: str, tenant: str, revoked=None) -> StoredKey:
        return StoredKey(ApiKey(key_id, tenant, t, None, revoked, None, "control"), key_id[0] * 64)

    text = keys_map([stored("bbbbbbbb", "zed"), stored("aaaaaaaa", "acme"), stored("cccccccc", "acme", t)])
    assert text.splitlines()[1:] == [f'{"a" * 64} "acme - aaaaaaaa";', f'{"b" * 64} "zed - bbbbbbbb";']


def test_configuration_mistakes_are_each_named(tmp_path):
    path = tmp_path / "control.json"
    path.write_text("{")
    with pytest.raises(config_mod.ConfigError, match="not JSON"):
        config_mod.load(path)
    with pytest.raises(config_mod.ConfigError, match=r"listen: Field required"):
        config_mod.parse({"version": "hx-control/v1"})
