"""Who may do what: hxgen.contracts.control.PERMISSIONS, read one way by every adapter's calls.
A permission is "<thing>:<verb>" (no scope), or "<thing>:<verb>:all" / ":own" where a tenant is
involved: own is the caller's own tenant."""

from __future__ import annotations

from typing import Literal

from ..contracts.control import PERMISSIONS
from .model import Caller, Forbidden

Scope = Literal["all", "own"]


def scope(caller: Caller, permission: str) -> Scope:
    """The widest scope the caller's role has for `permission`; Forbidden when it has none."""
    granted = PERMISSIONS.get(caller.role, frozenset())
    if permission in granted or f"{permission}:all" in granted:
        return "all"
    if f"{permission}:own" in granted:
        return "own"
    raise Forbidden(f"the role {caller.role!r} (tenant {caller.tenant}) may not {permission.replace(':', ' ')}")


def tenant_filter(caller: Caller, permission: str, tenant: str | None) -> str | None:
    """The tenant a read is limited to (None: all): an own-scope caller sees its tenant only, and
    asking for another one is Forbidden rather than an empty answer."""
    if scope(caller, permission) == "all":
        return tenant
    if tenant is not None and tenant != caller.tenant:
        raise Forbidden(f"the role {caller.role!r} sees its own tenant ({caller.tenant}) only, not {tenant}")
    return caller.tenant


def check_tenant(caller: Caller, permission: str, tenant: str) -> None:
    """For a change to one tenant's thing (a key): own scope means the caller's tenant."""
    if scope(caller, permission) == "own" and tenant != caller.tenant:
        raise Forbidden(f"the role {caller.role!r} may change the keys of its own tenant ({caller.tenant}) only")


def granted(role: str) -> list[str]:
    return sorted(PERMISSIONS.get(role, frozenset()))
