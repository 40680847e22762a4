"""The generated client (hxgen.control_client) against the real hx-control on a real PostgreSQL:
its models decode what the service answers, success and error alike. There is no gateway here,
so the client carries the headers the gateway would set after checking a key."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from control_harness import TENANT_OF_ROLE, Engine, config, serving
from pg_harness import pg_cluster

from hxgen.contracts import control as contract
from hxgen.control_client import AuthenticatedClient
from hxgen.control_client.api.v1 import create_key, list_keys, revoke_key, rotate_key, whoami
from hxgen.control_client.models import CreateKeyIn, ErrorBody, KeyOut, NewKeyOut, RotateKeyIn, WhoAmI
from hxgen.keys import hash_key

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("control")
    engine = Engine()
    try:
        with pg_cluster() as cluster, serving(tmp, config(tmp, cluster, engine.port)) as running:
            yield running
    finally:
        engine.close()


def client(control, role: str = "admin", key_id: str = "k0000000") -> AuthenticatedClient:
    """As the gateway forwards a verified key of `role`: the bearer token is the client's own."""
    gateway = {
        contract.TENANT_HEADER: TENANT_OF_ROLE[role],
        contract.ROLE_HEADER: role,
        contract.KEY_ID_HEADER: key_id,
    }
    return AuthenticatedClient(base_url=control.url, token="hx-unchecked-here", headers=gateway)


def map_entries(control) -> dict[str, str]:
    return dict(re.findall(r'^([0-9a-f]{64}) "([^"]*)";$', control.keys_map, re.M))


def test_whoami_decodes_into_the_clients_model(control):
    me = whoami.sync(client=client(control, "operator", "abcdef12"))
    assert isinstance(me, WhoAmI)
    assert (me.tenant, me.role, me.key_id) == ("ops", "operator", "abcdef12")
    assert set(me.permissions) == set(contract.PERMISSIONS["operator"])


def test_create_list_rotate_revoke_through_the_generated_client(control):
    admin = client(control)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    answer = create_key.sync_detailed(client=admin, body=CreateKeyIn(tenant="acme", note="sdk", expires=expires))
    assert answer.status_code == 201
    made = answer.parsed
    assert isinstance(made, NewKeyOut) and made.secret.startswith(f"hx-{made.key.id}-")
    assert (made.key.tenant, made.key.note, made.key.origin, made.key.status) == ("acme", "sdk", "control", "ok")
    assert made.key.expires == expires and made.key.created.tzinfo is not None
    assert map_entries(control)[hash_key(made.secret)] == f"acme {expires.date()} {made.key.id}"

    listed = list_keys.sync(client=admin, tenant="acme")
    assert made.key.id in {k.id for k in listed} and all(isinstance(k, KeyOut) for k in listed)
    assert {k.tenant for k in listed} == {"acme"}

    rotated = rotate_key.sync(made.key.id, client=admin, body=RotateKeyIn(overlap_hours=3))
    assert isinstance(rotated, NewKeyOut) and rotated.key.replaces == made.key.id
    assert rotated.replaced is not None and rotated.replaced.id == made.key.id
    left = rotated.replaced.expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=2) < left <= dt.timedelta(hours=3)
    assert hash_key(rotated.secret) in map_entries(control) and hash_key(made.secret) in map_entries(control)

    gone = revoke_key.sync(rotated.key.id, client=admin)
    assert isinstance(gone, KeyOut) and gone.status == "revoked" and gone.revoked is not None
    assert hash_key(rotated.secret) not in map_entries(control)


def test_error_statuses_decode_as_the_error_model(control):
    made = create_key.sync(client=client(control), body=CreateKeyIn(tenant="viewer"))
    assert isinstance(made, NewKeyOut)
    cases = [
        (create_key.sync_detailed(client=client(control, "readonly"), body=CreateKeyIn(tenant="viewer")), 403,
         "forbidden"),
        (create_key.sync_detailed(client=client(control), body=CreateKeyIn(tenant="nobody")), 404, "not_found"),
        (rotate_key.sync_detailed("00000000", client=client(control), body=RotateKeyIn()), 404, "not_found"),
        (rotate_key.sync_detailed(made.key.id, client=client(control), body=RotateKeyIn(overlap_hours=10_000)), 400,
         "invalid_request"),
    ]  # fmt: skip
    assert revoke_key.sync(made.key.id, client=client(control)).status == "revoked"
    cases.append((revoke_key.sync_detailed(made.key.id, client=client(control)), 409, "conflict"))
    for answer, status, code in cases:
        assert answer.status_code == status, answer.content
        assert isinstance(answer.parsed, ErrorBody), answer.content
        assert answer.parsed.error.code == code and answer.parsed.error.message


def test_without_the_gateways_headers_the_answer_is_a_decoded_401(control):
    answer = whoami.sync_detailed(client=AuthenticatedClient(base_url=control.url, token="hx-anything"))
    assert answer.status_code == 401
    assert isinstance(answer.parsed, ErrorBody) and answer.parsed.error.code == "unauthenticated"
    assert contract.TENANT_HEADER in answer.parsed.error.message
