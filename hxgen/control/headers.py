"""The caller, as the gateway verified it: the three X-HX-* headers (hxgen.contracts.control), which
the gateway sets from the key or certificate it checked and which replace whatever a client sent.
hx-control listens on loopback only, so these headers and nothing else say who calls; REST,
GraphQL and the operator's page all read them here."""

from __future__ import annotations

from collections.abc import Mapping

from ..contracts import control as contract
from .model import Caller, ControlError


class Unauthenticated(ControlError):
    status, code = 401, "unauthenticated"


def caller_or_none(headers: Mapping[str, str]) -> Caller | None:
    """None when the gateway verified nobody (the headers are missing or empty)."""
    tenant = headers.get(contract.TENANT_HEADER)
    role = headers.get(contract.ROLE_HEADER)
    key_id = headers.get(contract.KEY_ID_HEADER)
    if not tenant or not role or key_id is None:
        return None
    return Caller(tenant, role, key_id)


def caller(headers: Mapping[str, str]) -> Caller:
    """The caller; Unauthenticated, saying how to call, when there is none."""
    found = caller_or_none(headers)
    if found is None:
        raise Unauthenticated(
            f"no verified caller ({contract.TENANT_HEADER}, {contract.ROLE_HEADER} and {contract.KEY_ID_HEADER} "
            "missing): hx-control is reachable only through the gateway, with an API key"
        )
    return found
