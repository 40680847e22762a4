"""hx-control's GraphQL API (GRAPHQL_PATH) against the real service, a real PostgreSQL (behind
PgBouncer) and a real audit log: the RBAC matrix of every field that asks the host, x every role,
derived from the contract's PERMISSIONS; a user's own tenant only; the depth and token limits and
malformed documents; every mutation audited; GraphQL and REST showing the same host."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from control_harness import ROLES, serving_with_usage
from control_matrix import CREATE, FIELDS, check_graphql, codes, gql, gql_created, ok

from hxgen.contracts import control as contract
from hxgen.control.graphql import schema
from hxgen.keys import hash_key

pytestmark = pytest.mark.tools

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graphql")
    with serving_with_usage(tmp, TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=1)) as (_, running):
        yield running


SET_CHAT = 'mutation($s: [WeightInput!]!) { setRouteWeights(alias: "chat", split: $s) { alias } }'
EVEN = [{"model": "small", "weight": 90}, {"model": "large", "weight": 10}]


# --- the RBAC matrix (tests/control_matrix.py) --------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_role_may_ask_exactly_what_the_rbac_table_grants(control, role, field):
    check_graphql(control, role, field)


def _host_asking_fields() -> set[str]:
    """Every field whose resolver asks the host (they are the async ones; the rest compute from
    what their parent already has)."""
    names = schema.config.name_converter
    found = set()
    for type_name, graphql_type in schema.schema_converter.type_map.items():
        for f in getattr(graphql_type.definition, "fields", []):
            if f.base_resolver is not None and f.base_resolver.is_async:
                found.add(f"{type_name}.{names.get_graphql_name(f)}")
    return found


def test_the_matrix_covers_every_field_of_the_schema_that_asks_the_host(control):
    answer = gql(control, "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }")
    published = ok(answer)["__schema"]
    top = {f"Query.{f['name']}" for f in published["queryType"]["fields"]}
    top |= {f"Mutation.{f['name']}" for f in published["mutationType"]["fields"]}
    assert top <= set(FIELDS)
    assert _host_asking_fields() == set(FIELDS)


# --- scope --------------------------------------------------------------------------------------
def test_readonly_cannot_mutate_anything_even_its_own_keys(control):
    own = gql_created(control, "viewer")["key"]["id"]
    before = control.keys_map
    for query, variables in (
        (CREATE, {"t": "viewer"}),
        ("mutation($id: String!) { rotateKey(id: $id) { secret } }", {"id": own}),
        ("mutation($id: String!) { revokeKey(id: $id) { id } }", {"id": own}),
        (SET_CHAT, {"s": EVEN}),
    ):
        body = gql(control, query, variables, role="readonly")
        assert codes(body) == ["FORBIDDEN"] and body["data"] is None, body
    assert control.keys_map == before


def test_a_user_sees_only_its_own_tenant_its_keys_and_its_usage(control):
    mine, theirs = gql_created(control, "acme")["key"]["id"], gql_created(control, "bob")["key"]["id"]
    data = ok(gql(control, "{ tenants { name keys { id tenant } usageToday { tenant dailyTokens } } }", role="user"))
    assert [t["name"] for t in data["tenants"]] == ["acme"]
    keys = data["tenants"][0]["keys"]
    assert {k["tenant"] for k in keys} == {"acme"} and mine in {k["id"] for k in keys}
    assert theirs not in {k["id"] for k in ok(gql(control, "{ keys { id } }", role="user"))["keys"]}
    assert data["tenants"][0]["usageToday"] == {"tenant": "acme", "dailyTokens": 1000}
    for query in ('{ tenant(name: "bob") { name } }', '{ keys(tenant: "bob") { id } }',
                  '{ usage(tenant: "bob") { rows { tenant } } }'):  # fmt: skip
        body = gql(control, query, role="user")
        assert codes(body) == ["FORBIDDEN"] and "own tenant (acme)" in body["errors"][0]["message"], body
    body = gql(control, "mutation($id: String!) { revokeKey(id: $id) { id } }", {"id": theirs}, role="user")
    assert codes(body) == ["FORBIDDEN"], body


def test_a_readonly_caller_gets_the_tenant_and_forbidden_only_on_the_fields_it_may_not_read(control):
    body = gql(control, "{ tenants { name usageToday { usedTokens } } }", role="readonly")
    assert codes(body) == ["FORBIDDEN"] and body["errors"][0]["path"] == ["tenants", 0, "usageToday"], body
    assert body["data"] is None  # usageToday is non-null: the error propagates to the nullable root
    models = ok(gql(control, "{ models { name health { healthy } } }", role="readonly"))["models"]
    assert {m["name"]: m["health"]["healthy"] for m in models} == {"small": True, "large": False}


def test_a_call_without_the_gateways_headers_is_unauthenticated(control):
    body = gql(control, "{ whoami { tenant } }", role=None)
    assert codes(body) == ["UNAUTHENTICATED"] and "only through the gateway" in body["errors"][0]["message"]


# --- limits and malformed documents ---------------------------------------------------------------
def _nested(levels: int) -> str:
    """A document `levels` fields deep (depth counts from 0 at the operation's first field). The
    schema is shallow (no real query goes past 4) and the limiter ignores introspection, so the
    deep part selects into a scalar: invalid anyway, but the depth limit must say so itself."""
    inner = "x"
    for _ in range(levels - 3):
        inner = f"x {{ {inner} }}"
    return f"{{ tenants {{ keys {{ {inner} }} }} }}"


def test_a_query_deeper_than_the_limit_is_refused_naming_the_limit(control):
    limit = f"exceeds maximum operation depth of {contract.GRAPHQL_MAX_DEPTH}"
    within = gql(control, _nested(contract.GRAPHQL_MAX_DEPTH + 1))
    assert not any(limit in e["message"] for e in within["errors"]), within
    body = gql(control, _nested(contract.GRAPHQL_MAX_DEPTH + 2))
    assert body.get("data") is None and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
    assert any(e["message"] == f"'anonymous' {limit}" for e in body["errors"]), body
    assert ok(gql(control, "{ tenants { name keys { id } usageToday { usedTokens } } }"))["tenants"]


def test_a_document_longer_than_the_token_limit_is_refused_before_it_is_parsed(control):
    fields = " ".join(["tenant"] * contract.GRAPHQL_MAX_TOKENS)
    body = gql(control, f"{{ whoami {{ {fields} }} }}")
    assert body.get("data") is None and codes(body) == ["GRAPHQL_PARSE_FAILED"], body
    assert f"more than {contract.GRAPHQL_MAX_TOKENS} tokens" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("{ whoami { tenant ", "GRAPHQL_PARSE_FAILED", "Syntax Error: Expected Name, found <EOF>."),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED", "Cannot query field 'nope' on type 'Query'."),
        (
            "{ tenant { name } }",
            "GRAPHQL_VALIDATION_FAILED",
            "'Query.tenant(name:)' of type 'String!' is required",
        ),
        ('{ audit(limit: "x") { seq } }', "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non-integer value"),
    ],
)
def test_a_malformed_document_gets_a_clear_error_with_its_location(control, query, code, message):
    body = gql(control, query)
    assert body.get("data") is None and codes(body) == [code], body
    assert message in body["errors"][0]["message"] and body["errors"][0]["locations"], body


def test_bad_input_not_found_and_conflict_carry_their_codes(control):
    key = gql_created(control, "acme")["key"]["id"]
    revoke = "mutation($id: String!) { revokeKey(id: $id) { id status } }"
    assert ok(gql(control, revoke, {"id": key}))["revokeKey"] == {"id": key, "status": "revoked"}
    cases = (
        (revoke, {"id": key}, "CONFLICT", "was revoked already"),
        (revoke, {"id": "ffffffff"}, "NOT_FOUND", "no key 'ffffffff'"),
        ('{ tenant(name: "nobody") { name } }', {}, "NOT_FOUND", "no tenant 'nobody'"),
        (SET_CHAT,
         {"s": [{"model": "small", "weight": 60}, {"model": "large", "weight": 60}]}, "BAD_USER_INPUT",
         "add up to 120, not 100"),
        ('{ usage(period: LAST_7_DAYS, start: "2026-01-01T00:00:00Z") { start } }', {}, "BAD_USER_INPUT",
         "not both"),
        ('{ usage(start: "2026-01-01T00:00:00") { start } }', {}, "BAD_USER_INPUT", "has no time zone"),
        ("{ audit(limit: 0) { seq } }", {}, "BAD_USER_INPUT", "limit must be from 1 to 500"),
    )  # fmt: skip
    for query, variables, code, message in cases:
        body = gql(control, query, variables)
        assert codes(body) == [code] and message in body["errors"][0]["message"], (query, body)


def test_usage_periods_end_now_and_join_with_cost(control):
    usage = ok(gql(control, "{ usage(period: LAST_7_DAYS) { start end currency totalCost totalTokens } }"))["usage"]
    start, end = dt.datetime.fromisoformat(usage["start"]), dt.datetime.fromisoformat(usage["end"])
    assert dt.timedelta(days=7) - dt.timedelta(minutes=1) < end - start <= dt.timedelta(days=7, minutes=1)
    today = ok(gql(control, "{ usage { start } }"))["usage"]
    assert dt.datetime.fromisoformat(today["start"]) == dt.datetime.combine(TODAY, dt.time(), dt.UTC)


def test_graphiql_answers_a_browsers_get(control):
    page = requests.get(f"{control.url}{contract.GRAPHQL_PATH}", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# --- the audit log and REST -----------------------------------------------------------------------
def test_every_mutation_is_in_the_audit_log_with_the_caller_as_actor(control):
    key = ok(gql(control, CREATE, {"t": "acme", "n": "audited"}, key_id="d4d4d4d4"))["createKey"]["key"]["id"]
    rotated = ok(gql(control, "mutation($id: String!) { rotateKey(id: $id) { key { id } secret } }", {"id": key},
                     role="user", key_id="e5e5e5e5"))["rotateKey"]  # fmt: skip
    new = rotated["key"]["id"]
    ok(gql(control, "mutation($id: String!) { revokeKey(id: $id) { id } }", {"id": new}, role="operator",
           key_id="f6f6f6f6"))  # fmt: skip
    weights = {"s": [{"model": "small", "weight": 75}, {"model": "large", "weight": 25}]}
    ok(gql(control, SET_CHAT, weights, key_id="a7a7a7a7"))
    records = control.audit_records()
    actions = {(r["action"], r["actor"]) for r in records}
    assert {
        (contract.AUDIT_KEY_CREATED, "root/d4d4d4d4"),
        (contract.AUDIT_KEY_ROTATED, "acme/e5e5e5e5"),
        (contract.AUDIT_KEY_REVOKED, "ops/f6f6f6f6"),
        (contract.AUDIT_ROUTE_WEIGHTS, "root/a7a7a7a7"),
    } <= actions
    assert not any(rotated["secret"] in str(r) for r in records)
    newest = ok(gql(control, "{ audit(limit: 4) { seq action actor detail } }", role="operator"))["audit"]
    assert [r["action"] for r in newest] == [contract.AUDIT_ROUTE_WEIGHTS, contract.AUDIT_KEY_REVOKED,
                                             contract.AUDIT_KEY_ROTATED, contract.AUDIT_KEY_CREATED]  # fmt: skip
    assert newest[1]["detail"]["key_id"] == new and newest[2]["detail"]["new_key_id"] == new
    assert hash_key(rotated["secret"]) not in control.keys_map


def test_graphql_and_rest_show_the_same_tenants_keys_routes_and_quotas(control):
    gql_created(control, "bob", "agree")
    query = """{
        tenants { name role tier models dailyTokens usageToday { tenant dailyTokens usedTokens day } }
        keys { id tenant created expires revoked note origin replaces status }
        routes { alias sticky weightsOwner split { model weight } specSplit { model weight } changed changedBy }
    }"""
    data = ok(gql(control, query))
    rest = {what: control.call("GET", f"/{what}").json() for what in ("tenants", "keys", "routes", "quotas")}
    snake = {"dailyTokens": "daily_tokens", "weightsOwner": "weights_owner", "specSplit": "spec_split",
             "changedBy": "changed_by", "usedTokens": "used_tokens"}  # fmt: skip

    def same(values):
        """GraphQL's spelling and time format as REST's, to compare the two answers."""
        if isinstance(values, list):
            return [same(v) for v in values]
        if isinstance(values, dict):
            return {snake.get(k, k): same(v) for k, v in values.items()}
        if isinstance(values, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", values):
            return dt.datetime.fromisoformat(values)
        return values

    assert [{k: v for k, v in t.items() if k != "usageToday"} for t in same(data["tenants"])] == rest["tenants"]
    assert [t["usageToday"] for t in same(data["tenants"])] == rest["quotas"]
    rest_keys = [{**k, **{w: k[w] and dt.datetime.fromisoformat(k[w]) for w in ("created", "expires", "revoked")}}
                 for k in rest["keys"]]  # fmt: skip
    assert same(data["keys"]) == rest_keys
    rest_routes = [{**r, "changed": r["changed"] and dt.datetime.fromisoformat(r["changed"])} for r in rest["routes"]]
    assert same(data["routes"]) == rest_routes
