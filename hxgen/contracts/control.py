"""The contract of the control plane: between hxgen (which renders hx-control's configuration,
the gateway's locations for it and the role that installs it) and the hx-control service (the
management API in REST and GraphQL, and the operator's page). Both sides import the names from
here, so neither can drift.

How a key change reaches the gateway without a converge:
- hx-control keeps the keys (hashes and dates, never a key) and the live route weights in
  PostgreSQL (SCHEMA), and after every change writes the gateway's view of them atomically
  (rename) into GATEWAY_STATE_DIR: KEYS_MAP (an nginx map) and ROUTE_WEIGHTS (JSON).
- After a write that changed a file it creates RELOAD_REQUEST. A systemd path unit
  (RELOAD_PATH_UNIT, PathExists=) starts RELOAD_SERVICE, which removes the request, checks nginx's
  configuration and reloads it: nginx's reload is graceful (new workers take new requests, old
  ones finish theirs), so no request is dropped. hx-control needs no privilege.
- nginx.conf includes KEYS_MAP in its key map and preloads ROUTE_WEIGHTS for njs.

Which side wins, the controller's inventory/api-keys.yml or the host (docs/control.md): the merge
of the two is monotone, so a converge can neither lose nor resurrect a key. On every converge the
role hands the inventory's keys to `hx-control sync` (INVENTORY_KEYS), which
- adds an inventory key the host has never seen (origin "inventory");
- never touches a key created on the host (origin "control");
- revokes an inventory key that has left the inventory (`hxgen keys revoke` on the controller);
- keeps a revoked key revoked, whatever the inventory says (a revocation is permanent);
- takes the earlier of the two expiries (a rotation on the host shortens a key's life; a
  converge cannot lengthen it again).
"""

from __future__ import annotations

VERSION = "hx-control/v1"
CONFIG_PATH = "/etc/hx/control.json"
"""Where the control role installs the rendered configuration; `hx-control` reads it by default."""

# --- what the gateway reads, written by hx-control ---------------------------------------------
GATEWAY_STATE_DIR = "/var/lib/hx-control/gateway"
"""Owned by the service's user, world-readable: nginx's master (root) reads both files."""
KEYS_MAP = f"{GATEWAY_STATE_DIR}/api-keys.map"
"""Entries of nginx's key map, one per live key (revoked keys are left out):
    <sha256 of the key> "<tenant> <expiry> <key id>";
expiry: '-' (never), a date YYYY-MM-DD (the key stops working at 00:00 UTC that day), or a time
YYYY-MM-DDTHH:MM:SSZ (a rotated key's overlap ends then). The gateway role seeds the file from
the inventory's keys once (force: no) so that nginx has keys before hx-control first runs."""
ROUTE_WEIGHTS = f"{GATEWAY_STATE_DIR}/route-weights.json"
"""{"<alias>": [["<variant>", <cumulative percent>], ...], ...}: the live split of every route,
in the order of the spec's split, the last cumulative value 100. njs preloads it
(js_preload_object hx_weights) and draws a variant from it instead of hx_config's split."""
EXPIRY_NEVER = "-"
RELOAD_REQUEST = f"{GATEWAY_STATE_DIR}/reload-requested"
"""Created by hx-control after it changed KEYS_MAP or ROUTE_WEIGHTS; removed by RELOAD_SERVICE
before nginx reads the files. A flag, not a watch on the files: systemd re-checks PathExists= when
the service it started ends, so a write during a reload asks for the next one and is never lost
(a PathChanged= event while the service runs is)."""

LIVE_WEIGHTS_PATH = "/weights"
"""On the gateway's loopback status server: the ROUTE_WEIGHTS the running nginx generation loaded,
as JSON. A weight change is live when this answers it (a rollout reports a step only then)."""

# --- canary rollouts: the series hxgen's rules record and hx-control reads, and the reverse ------
GATE_SERIES = "hx:canary_gate:failing"
"""{route, canary, check}: 1 for each check of a canary's gate that fails now, absent while it holds
(hxgen.render.canary_rules); hx-control reads it every interval_s."""
CANARY_ERRORS_SERIES = "hx:canary_errors:ratio"
"""{route, role="canary"|"stable"}: the error ratios the gate compares; hx-control quotes them."""
ROLLOUT_PHASE_METRIC = "hx_control_rollout_phase"
"""hx-control's {route, canary, version, phase}: 1 for the current phase (HxCanaryRolledBack reads it)."""
ROLLOUT_CANARY_WEIGHT_METRIC = "hx_control_rollout_canary_weight"
"""hx-control's {route, canary}: the canary's live weight (HxCanaryGateFailing fires only above 0)."""

RELOAD_PATH_UNIT = "hx-gateway-reload.path"
RELOAD_SERVICE = "hx-gateway-reload.service"
RELOAD_WITHIN_S = 5
"""The promise: a key or weight change answers requests within this many seconds."""

INVENTORY_KEYS = "/etc/hx/control/inventory-keys.json"
"""The inventory's keys as the control role hands them to `hx-control sync`:
{"keys": [{"id", "tenant", "sha256", "created", "expires", "note"}, ...]} (hxgen.keys.KeyEntry)."""

# --- the database ------------------------------------------------------------------------------
SCHEMA = "hx_control"
KEYS_TABLE = f"{SCHEMA}.api_keys"
ROUTE_WEIGHTS_TABLE = f"{SCHEMA}.route_weights"
MIGRATIONS_TABLE = f"{SCHEMA}.schema_migrations"
ROLLOUTS_TABLE = f"{SCHEMA}.rollouts"
"""One row per route under a canary rollout (hxgen.control.rollout.State)."""
ORIGIN_INVENTORY = "inventory"
"""A key from the controller's inventory/api-keys.yml, added by `hx-control sync`."""
ORIGIN_CONTROL = "control"
"""A key created (or rotated) through hx-control: it exists only on the host (and its backups)."""

# --- behind the gateway ------------------------------------------------------------------------
API_PREFIX = "/admin/api"
"""REST: API_PREFIX + "/v1/..."; the OpenAPI document at API_PREFIX + "/openapi.json"."""
GRAPHQL_PATH = "/admin/graphql"
UI_PREFIX = "/admin/ui"
# Set by the gateway from the verified credentials, replacing whatever a client sent; hx-control
# listens on loopback only and trusts these and nothing else.
TENANT_HEADER = "X-HX-Tenant"
ROLE_HEADER = "X-HX-Role"
KEY_ID_HEADER = "X-HX-Key-Id"
"""The id of the key the caller used, or CERTIFICATE_KEY_ID for a client certificate."""
CERTIFICATE_KEY_ID = "certificate"
"""Not a key id (those are 8 hex digits), so a certificate's caller owns no key; nginx sends no
header with an empty value, hence a word."""
UI_COOKIE = "hx_key"
"""The operator page's credential: the API key itself, set by the page's login form as an
HttpOnly, Secure, SameSite=Strict cookie with Path=UI_PREFIX. The gateway accepts it on UI_PREFIX
only, so no other endpoint can be reached with a cookie (no cross-site request can use it)."""

# --- who may do what (fine-grained RBAC, enforced by hx-control) ------------------------------
# Scopes: "own" is the caller's own tenant, "all" every tenant.
_OPERATOR = frozenset(
    {
        "tenants:read:all",
        "keys:read:all",
        "keys:rotate:all",
        "keys:revoke:all",
        "models:read",
        "routes:read",
        "routes:write",
        "usage:read:all",
        "alerts:read",
        "audit:read",
        "rollouts:read",
        "rollouts:write",
    }
)
"""Those who watch and run the host: everything but making keys, which only admins do."""
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _OPERATOR | {"keys:create"},
    "operator": _OPERATOR,
    "user": frozenset(
        {"tenants:read:own", "keys:read:own", "keys:rotate:own", "keys:revoke:own", "models:read", "usage:read:own"}
    ),
    "readonly": frozenset({"tenants:read:own", "keys:read:own", "models:read", "rollouts:read"}),
}

# --- the audit log ------------------------------------------------------------------------------
AUDIT_KEY_CREATED = "key-created"
AUDIT_KEY_ROTATED = "key-rotated"
AUDIT_KEY_REVOKED = "key-revoked"
AUDIT_KEYS_SYNCED = "keys-synced"
AUDIT_ROUTE_WEIGHTS = "route-weights-set"
AUDIT_ROLLOUT_STARTED = "rollout-started"
AUDIT_ROLLOUT_ADVANCED = "rollout-advanced"
AUDIT_ROLLOUT_ROLLED_BACK = "rollout-rolled-back"
AUDIT_ROLLOUT_SUCCEEDED = "rollout-succeeded"
AUDIT_ROLLOUT_PROMOTED = "rollout-promoted"
"""Manual: the actor is the caller (hxgen rollout promote); the others' actor is ROLLOUT_ACTOR."""
AUDIT_ROLLOUT_RESTARTED = "rollout-restarted"
ROLLOUT_ACTOR = "hx-rollout"
"""The actor of the rollout controller's own transitions (hxgen.control.rollout)."""

# --- limits -------------------------------------------------------------------------------------
GRAPHQL_MAX_DEPTH = 8
GRAPHQL_MAX_TOKENS = 2000
"""A query longer than this many tokens is refused before it is parsed further."""
ROTATE_OVERLAP_HOURS_MAX = 24 * 30
