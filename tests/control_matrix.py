"""The RBAC matrix of hx-control, shared by the tests of the bare service (a harness client that
sends the gateway's headers) and the tests through the real gateway (each role's own API key):
every REST operation and every GraphQL field that asks the host, the permission it needs, and the
call a caller of a role makes about its own tenant. A client `c` has call(method, path, role=,
json=) for REST, graphql(query, variables, role=) for GraphQL, and config: the service's
configuration, whose first route (by alias) the weight changes set to its spec's split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from control_harness import TENANT_OF_ROLE

from hxgen.contracts import control as contract


def may(role: str, permission: str | None) -> bool:
    """What the contract's PERMISSIONS grant a role (a scoped permission, own or all, counts)."""
    granted = contract.PERMISSIONS[role]
    return permission is None or any(p in granted for p in (permission, f"{permission}:all", f"{permission}:own"))


def first_route(c) -> tuple[str, list[dict[str, Any]]]:
    """The alias and the spec's split of the configuration's first route: a valid change for any role."""
    alias = sorted(c.config["routes"])[0]
    return alias, [{"model": t["model"], "weight": t["weight"]} for t in c.config["routes"][alias]["split"]]


# --- REST -----------------------------------------------------------------------------------------
def created(c, tenant: str, **body) -> dict:
    answer = c.call("POST", "/keys", json={"tenant": tenant, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _own_key(c, role: str) -> str:
    return created(c, TENANT_OF_ROLE[role], note=f"matrix {role}")["key"]["id"]


def _rollout_path(c, action: str = "") -> str:
    return f"/rollouts/{first_route(c)[0]}{action}"


def _set_weights(c, role: str):
    alias, split = first_route(c)
    return c.call("PUT", f"/routes/{alias}/weights", role=role, json={"split": split})


# operationId -> (the permission it needs, the call a caller of `role` makes about its own tenant)
ENDPOINTS: dict[str, tuple[str | None, Callable]] = {
    "whoami": (None, lambda c, r: c.call("GET", "/whoami", role=r)),
    "list_tenants": ("tenants:read", lambda c, r: c.call("GET", "/tenants", role=r)),
    "get_tenant": ("tenants:read", lambda c, r: c.call("GET", f"/tenants/{TENANT_OF_ROLE[r]}", role=r)),
    "list_keys": ("keys:read", lambda c, r: c.call("GET", "/keys", role=r)),
    "create_key": ("keys:create", lambda c, r: c.call("POST", "/keys", role=r, json={"tenant": TENANT_OF_ROLE[r]})),
    "rotate_key": ("keys:rotate", lambda c, r: c.call("POST", f"/keys/{_own_key(c, r)}/rotate", role=r, json={})),
    "revoke_key": ("keys:revoke", lambda c, r: c.call("POST", f"/keys/{_own_key(c, r)}/revoke", role=r)),
    "list_models": ("models:read", lambda c, r: c.call("GET", "/models", role=r)),
    "list_routes": ("routes:read", lambda c, r: c.call("GET", "/routes", role=r)),
    "set_route_weights": ("routes:write", _set_weights),
    "get_usage": ("usage:read", lambda c, r: c.call("GET", "/usage", role=r)),
    "list_quotas": ("usage:read", lambda c, r: c.call("GET", "/quotas", role=r)),
    "list_alerts": ("alerts:read", lambda c, r: c.call("GET", "/alerts", role=r)),
    "list_audit_records": ("audit:read", lambda c, r: c.call("GET", "/audit", role=r)),
    "list_rollouts": ("rollouts:read", lambda c, r: c.call("GET", "/rollouts", role=r)),
    "get_rollout": ("rollouts:read", lambda c, r: c.call("GET", _rollout_path(c), role=r)),
    "promote_rollout": ("rollouts:write", lambda c, r: c.call("POST", _rollout_path(c, "/promote"), role=r)),
    "restart_rollout": ("rollouts:write", lambda c, r: c.call("POST", _rollout_path(c, "/restart"), role=r)),
}  # fmt: skip
ROLLOUT_ONE = {"get_rollout", "promote_rollout", "restart_rollout"}
"""About the first route's rollout: whether it has one, and its phase, are the host's (404, 409)."""


def check_rest(c, role: str, endpoint: str) -> None:
    permission, call = ENDPOINTS[endpoint]
    answer = call(c, role)
    if may(role, permission):
        # 503: alerts from an Alertmanager that is down (the tests' configurations); never a refusal
        assert answer.status_code in (200, 201, 404, 409, 503), answer.text
        if answer.status_code == 503:
            assert endpoint == "list_alerts", answer.text
        if answer.status_code in (404, 409):
            assert endpoint in ROLLOUT_ONE, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "forbidden"
        assert role in answer.json()["error"]["message"]


# --- GraphQL --------------------------------------------------------------------------------------
CREATE = "mutation($t: String!, $n: String) { createKey(tenant: $t, note: $n) { key { id tenant } secret } }"


def gql(c, query: str, variables: dict | None = None, role: str = "admin", **kwargs) -> dict:
    answer = c.graphql(query, variables, role=role, **kwargs)
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    return answer.json()


def ok(body: dict) -> dict:
    assert not body.get("errors"), body
    return body["data"]


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def gql_created(c, tenant: str, note: str | None = None) -> dict:
    return ok(gql(c, CREATE, {"t": tenant, "n": note}))["createKey"]


def _own_key_gql(c, role: str) -> str:
    return gql_created(c, TENANT_OF_ROLE[role], f"matrix {role}")["key"]["id"]


def _set_weights_gql(c, role: str) -> tuple[str, dict]:
    alias, split = first_route(c)
    return ("mutation($a: String!, $s: [WeightInput!]!) { setRouteWeights(alias: $a, split: $s) { alias } }",
            {"a": alias, "s": split})  # fmt: skip


# "<type>.<field>" -> (the permission it needs, the document a caller of `role` sends about its own tenant)
FIELDS: dict[str, tuple[str | None, Callable]] = {
    "Query.whoami": (None, lambda c, r: ("{ whoami { tenant role keyId permissions } }", {})),
    "Query.tenants": ("tenants:read", lambda c, r: ("{ tenants { name role tier models dailyTokens } }", {})),
    "Query.tenant": ("tenants:read", lambda c, r: ("query($n: String!) { tenant(name: $n) { name } }",
                                                   {"n": TENANT_OF_ROLE[r]})),
    "Query.keys": ("keys:read", lambda c, r: ("{ keys { id tenant status origin } }", {})),
    "Query.models": ("models:read", lambda c, r: ("{ models { name servedName health { healthy status } } }", {})),
    "Query.routes": ("routes:read", lambda c, r: ("{ routes { alias split { model weight } } }", {})),
    "Query.usage": ("usage:read", lambda c, r: ("{ usage { start end currency totalCost rows { tenant } } }", {})),
    "Query.quotas": ("usage:read", lambda c, r: ("{ quotas { tenant dailyTokens usedTokens } }", {})),
    "Query.alerts": ("alerts:read", lambda c, r: ("{ alerts { name state } }", {})),
    "Query.audit": ("audit:read", lambda c, r: ("{ audit(limit: 5) { seq action actor } }", {})),
    "Tenant.keys": ("keys:read", lambda c, r: ("{ tenants { name keys { id } } }", {})),
    "Tenant.usageToday": ("usage:read", lambda c, r: ("{ tenants { name usageToday { usedTokens } } }", {})),
    "Model.variantOf": ("routes:read", lambda c, r: ("{ models { name variantOf { alias weight } } }", {})),
    "Mutation.createKey": ("keys:create", lambda c, r: (CREATE, {"t": TENANT_OF_ROLE[r]})),
    "Mutation.rotateKey": ("keys:rotate", lambda c, r: (
        "mutation($id: String!) { rotateKey(id: $id, overlapHours: 1) { key { id } secret replaced { id } } }",
        {"id": _own_key_gql(c, r)})),
    "Mutation.revokeKey": ("keys:revoke", lambda c, r: (
        "mutation($id: String!) { revokeKey(id: $id) { id status } }", {"id": _own_key_gql(c, r)})),
    "Mutation.setRouteWeights": ("routes:write", _set_weights_gql),
    "Query.rollouts": ("rollouts:read", lambda c, r: ("{ rollouts { alias phase step canaryWeight verified } }", {})),
    "Query.rollout": ("rollouts:read", lambda c, r: (
        "query($a: String!) { rollout(alias: $a) { alias phase } }", {"a": first_route(c)[0]})),
    "Mutation.promoteRollout": ("rollouts:write", lambda c, r: (
        "mutation($a: String!) { promoteRollout(alias: $a) { phase step } }", {"a": first_route(c)[0]})),
    "Mutation.restartRollout": ("rollouts:write", lambda c, r: (
        "mutation($a: String!) { restartRollout(alias: $a) { phase step } }", {"a": first_route(c)[0]})),
}  # fmt: skip
ROLLOUT_ONE_FIELDS = {"Query.rollout", "Mutation.promoteRollout", "Mutation.restartRollout"}


def check_graphql(c, role: str, field: str) -> None:
    permission, document = FIELDS[field]
    query, variables = document(c, role)
    body = gql(c, query, variables, role=role)
    if may(role, permission):
        # UNAVAILABLE: alerts from an Alertmanager that is down (the tests' configurations); never a refusal
        assert "FORBIDDEN" not in codes(body), body
        if field in ROLLOUT_ONE_FIELDS:  # the first route's rollout, if any, and its phase are the host's
            assert set(codes(body)) <= {"NOT_FOUND", "CONFLICT"}, body
        else:
            assert codes(body) == ([] if field != "Query.alerts" else ["UNAVAILABLE"]), body
    else:
        assert codes(body) and set(codes(body)) == {"FORBIDDEN"}, body
        assert all(role in e["message"] for e in body["errors"]), body
