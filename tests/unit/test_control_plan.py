"""The control plan and what is rendered from it: hx-control's configuration (checked against the
service's own model), its units, the gateway's view of it and the control role's variables."""

from __future__ import annotations

import json

import pytest
import yaml

from hxgen import layout
from hxgen.contracts import control as contract
from hxgen.contracts.control_config import ServiceConfig
from hxgen.plan import build_plan
from hxgen.render import render
from hxgen.render.control import CONFIG_FILE, ROUTE_WEIGHTS_SEED
from hxgen.spec import control as spec_control
from hxgen.validation import validate

INVENTORY_VARS = {
    "control_service", "control_user", "control_port", "control_venv_dir", "control_config_file",
    "control_state_dir", "control_gateway_state_dir", "control_keys_map", "control_route_weights_file",
    "control_inventory_keys_file", "control_db_user", "control_db_password_file", "control_health_url",
    "control_reload_path_unit", "control_reload_service", "control_spec_source", "control_spec_file",
}  # fmt: skip


def plan_of(data):
    spec, found = validate(data)
    assert spec is not None, found
    return build_plan(spec)


def rendered(data) -> dict[str, str]:
    return {a.path: a.text for a in render(plan_of(data))}


def control_config(data) -> dict:
    return json.loads(rendered(data)[f"rendered/{CONFIG_FILE}"])


@pytest.fixture
def routed(spec_data):
    """Two models and a route between them, the second model with its own version."""
    second = json.loads(json.dumps(spec_data["models"][0])) | {"name": "phi-b", "port": 8002, "version": "2024-06"}
    second["served_name"] = "phi-canary"
    spec_data["models"][0]["gpu_memory_utilization"] = second["gpu_memory_utilization"] = 0.4
    spec_data["models"].append(second)
    spec_data["gateway"]["routes"] = [
        {"alias": "phi", "split": [{"model": "phi-3-mini", "weight": 100}, {"model": "phi-canary", "weight": 0}]}
    ]
    return spec_data


def test_on_by_default_with_the_gateway_and_postgres(spec_data):
    plan = plan_of(spec_data)
    c = plan.control
    assert c is not None and plan.enabled("control")
    roles = [x.role for x in plan.components]
    assert roles.index("control") == roles.index("usage") + 1
    assert (c.service, c.user, c.port) == (layout.CONTROL_SERVICE, layout.CONTROL_USER, layout.CONTROL_PORT)
    assert (c.keys_map, c.route_weights_file) == (contract.KEYS_MAP, contract.ROUTE_WEIGHTS)
    assert c.health_url == f"http://127.0.0.1:{layout.CONTROL_PORT}/healthz"
    assert plan.gateway.control is not None and plan.gateway.control.port == c.port


@pytest.mark.parametrize(
    "change",
    [
        {"control": {"enabled": False}},
        {"gateway": {"enabled": False}},
        {"databases": {"postgres": {"enabled": False}}},
    ],
    ids=["control-off", "gateway-off", "postgres-off"],
)
def test_off_without_itself_the_gateway_or_postgres(spec_data, change):
    for section, value in change.items():
        spec_data[section] = spec_data.get(section, {}) | value
    if "gateway" in change:
        spec_data["monitoring"]["probes"] = {"enabled": False}
        spec_data["usage"] = {"enabled": False}
    plan = plan_of(spec_data)
    assert plan.control is None and not plan.enabled("control")
    files = rendered(spec_data)
    assert not [p for p in files if "control" in p or "hx-gateway-reload" in p or p.endswith(ROUTE_WEIGHTS_SEED)]
    if plan.gateway is not None:
        assert plan.gateway.control is None
        assert contract.KEYS_MAP not in files["rendered/nginx/nginx.conf"]
        assert "gateway_control_enabled: false" in files["inventory/group_vars/hx/gateway.yml"]


def test_the_database_goes_through_pgbouncer_as_its_owner(spec_data):
    databases = [{"name": "hx", "owner": "hx"}, {"name": "ops", "owner": "ops_owner"}]
    spec_data["databases"] = {"postgres": {"memory_gb": 8, "databases": databases}}
    db = control_config(spec_data)["database"]
    assert (db["host"], db["port"], db["dbname"], db["user"]) == ("127.0.0.1", 6432, "hx", "hx")
    assert db["password_file"] == layout.CONTROL_DB_PASSWORD_FILE
    spec_data["control"] = {"database": "ops"}
    spec_data["databases"]["postgres"]["pgbouncer"] = {"enabled": False}
    db = control_config(spec_data)["database"]
    assert (db["port"], db["dbname"], db["user"]) == (5432, "ops", "ops_owner")


def test_the_config_is_the_services_and_carries_versions_routes_and_overlap(routed):
    routed["control"] = {"rotate_overlap_hours": 48}
    routed["gateway"]["routes"][0]["weights_owner"] = "control"
    data = control_config(routed)
    ServiceConfig.model_validate(data)
    assert data["version"] == contract.VERSION and data["reload_command"] is None
    assert data["rotate_overlap_hours"] == 48
    assert data["models"]["phi-b"]["version"] == "2024-06"  # from the spec, never null
    assert data["models"]["phi-3-mini"]["version"] == "1"
    assert data["models"]["phi-b"]["served_name"] == "phi-canary"
    # The split names hx.yaml models, weight 0 kept: hx-control may give it a share.
    assert data["routes"]["phi"] == {
        "sticky": "tenant",
        "weights_owner": "control",
        "split": [{"model": "phi-3-mini", "weight": 100}, {"model": "phi-b", "weight": 0}],
        "canary": None,
    }
    # No canary: nothing for rollouts to read or verify.
    assert data["prometheus_url"] is None and data["gateway_status_url"] is None
    assert data["tenants"]["app"]["role"] == "user" and data["tiers"]["standard"]["requests_per_second"] == 10
    assert data["alertmanager_url"] == "http://127.0.0.1:9093" and data["spec_file"] == layout.HOST_SPEC_FILE


def test_weights_owner_defaults_to_the_spec(routed):
    assert control_config(routed)["routes"]["phi"]["weights_owner"] == "spec"


def test_audit_and_usage_are_named_only_when_they_run(spec_data):
    data = control_config(spec_data)
    assert data["audit_config"] == "/etc/hx/audit.json"
    assert data["usage"] == {"table": "hx_usage.requests", "time_zone": "UTC"}
    # It appends to the log and copies the signed head beside the backups, as hx-audit does.
    unit = rendered(spec_data)["rendered/systemd/hx-control.service"]
    assert "SupplementaryGroups=hx hx-audit\n" in unit
    assert "ReadWritePaths=/var/lib/hx-control /var/log/hx/audit /srv/hx/backups/audit\n" in unit
    spec_data["security"]["audit_log"] = {"enabled": False}
    spec_data["usage"] = {"enabled": False}
    data = control_config(spec_data)
    assert data["audit_config"] is None and data["usage"] is None
    unit = rendered(spec_data)["rendered/systemd/hx-control.service"]
    assert "hx-audit" not in unit and "ReadWritePaths=/var/lib/hx-control\n" in unit


def test_quotas_reach_the_config_only_with_usage_accounting(spec_data):
    spec_data["gateway"]["rate_limit_tiers"][0]["daily_tokens"] = 1000
    assert control_config(spec_data)["tenants"]["app"]["daily_tokens"] == 1000


def test_the_seed_of_the_route_weights_is_the_specs_split_in_the_contracts_format(routed):
    files = rendered(routed)
    assert json.loads(files[f"rendered/{ROUTE_WEIGHTS_SEED}"]) == {"phi": [["phi-3-mini", 100]]}


def test_the_units_run_the_service_and_reload_nginx_on_its_request(spec_data):
    files = rendered(spec_data)
    unit = files["rendered/systemd/hx-control.service"]
    assert "User=hx-control" in unit and "--config /etc/hx/control.json" in unit and "serve" in unit
    path = files[f"rendered/systemd/{contract.RELOAD_PATH_UNIT}"]
    assert f"PathExists={contract.RELOAD_REQUEST}\n" in path and f"Unit={contract.RELOAD_SERVICE}" in path
    service = files[f"rendered/systemd/{contract.RELOAD_SERVICE}"]
    assert "\nStartLimitIntervalSec=0\n" in service  # a burst of changes must not stop the reloads
    lines = [line for line in service.splitlines() if line.startswith("Exec")]
    # The request is taken before nginx reads the files; a stopped nginx is left stopped.
    assert lines == [
        "ExecStartPre=/bin/sleep 1",
        f"ExecStartPre=/bin/rm -f {contract.RELOAD_REQUEST}",
        "ExecStart=/bin/sh -c 'systemctl is-active --quiet nginx.service || exit 0; "
        "/usr/sbin/nginx -t -q && exec systemctl reload nginx.service'",
    ]
    assert contract.RELOAD_WITHIN_S > 1  # the settling second fits the promise


def test_the_gateway_includes_both_key_maps_and_preloads_the_weights(spec_data):
    conf = rendered(spec_data)["rendered/nginx/nginx.conf"]
    assert f"include {layout.GATEWAY_CONF_DIR}/api-keys.map;\n        include {contract.KEYS_MAP};" in conf
    assert f"js_preload_object hx_weights from {contract.ROUTE_WEIGHTS};" in conf
    for location in (f"location ^~ {contract.API_PREFIX}/", f"location = {contract.GRAPHQL_PATH}",
                     f"location ^~ {contract.UI_PREFIX}/", f"location = {contract.UI_PREFIX}/login"):  # fmt: skip
        assert location in conf
    assert f"proxy_set_header {contract.TENANT_HEADER} $hx_caller;" in conf
    assert "zone=hx_ui_login" in conf


def test_the_control_roles_variables(spec_data):
    files = rendered(spec_data)
    variables = yaml.safe_load(files["inventory/group_vars/hx/control.yml"])
    assert set(variables) == INVENTORY_VARS
    assert variables["control_health_url"] == f"http://127.0.0.1:{layout.CONTROL_PORT}/healthz"
    assert variables["control_inventory_keys_file"] == contract.INVENTORY_KEYS
    gateway = yaml.safe_load(files["inventory/group_vars/hx/gateway.yml"])
    assert gateway["gateway_control_enabled"] is True
    assert gateway["gateway_control_state_dir"] == contract.GATEWAY_STATE_DIR
    assert (gateway["gateway_control_keys_map"], gateway["gateway_control_route_weights_file"]) == (
        contract.KEYS_MAP,
        contract.ROUTE_WEIGHTS,
    )


def test_rotate_overlap_hours_is_bounded(spec_data):
    assert spec_control.ROTATE_OVERLAP_HOURS_MAX == contract.ROTATE_OVERLAP_HOURS_MAX
    spec_data["control"] = {"rotate_overlap_hours": contract.ROTATE_OVERLAP_HOURS_MAX + 1}
    spec, found = validate(spec_data)
    assert spec is None and any(d.path[:2] == ("control", "rotate_overlap_hours") for d in found)
