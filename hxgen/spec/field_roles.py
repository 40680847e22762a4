"""Which spec fields change nothing that is rendered, and why that is honest.

The rule (docs/spec-fields.md): every leaf of hx.yaml either changes what hxgen renders (and so
what the roles converge), or is read by a check of `hxgen validate`, or is rejected. The test
tests/unit/test_no_decorative_fields.py mutates every leaf of the fully-defaulted default spec
and fails when the render stays byte-identical for a field not listed here. Paths use `[]` for
list items (`models[].version`). A test checks that every path listed is a real spec path.
"""

from __future__ import annotations

# Read by a check of `hxgen validate` and by nothing that is rendered; each names the check.
VALIDATION_ONLY: dict[str, str] = {
    "host.memory_gb": "capacity check: the budgets of every service fit the host's RAM (checks/capacity.py)",
    "host.reserved_memory_gb": "capacity check: counted in the host's RAM budget (checks/capacity.py)",
    "models[].parameters_b": "capacity check: the weights fit the GPUs assigned (checks/capacity.py)",
    "models[].kv_cache_min_gb": "capacity check: room left for the KV cache on each GPU (checks/capacity.py)",
}

# Accepted, warned about by `hxgen validate` (warning[not-enforced]), and made real by the
# issue named.
OWNED_BY_LATER_ISSUE: dict[str, str] = {}

# Fields whose only effect is behind a switch that `hxgen validate` rejects today: they cannot
# be set to any effect, and the switch's error says so.
BEHIND_A_REJECTED_SWITCH: dict[str, str] = {}


def unrendered_fields() -> dict[str, str]:
    """Every listed path and why its changes may leave the render unchanged."""
    return {**VALIDATION_ONLY, **OWNED_BY_LATER_ISSUE, **BEHIND_A_REJECTED_SWITCH}
