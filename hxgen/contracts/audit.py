"""The contract between hxgen and the hx-audit service: the configuration file hxgen renders
(hxgen.render.audit) and every `hx-audit` command reads (hxgen.audit.config), and the names
both sides must agree on (the actions, the exported series)."""

from __future__ import annotations

VERSION = "hx-audit/v1"
CONFIG_PATH = "/etc/hx/audit.json"
"""Where the audit role installs the rendered configuration; `hx-audit` reads it by default."""

# Actions other parts of hx append (`hx-audit append --action ...`), and the ones the service
# and the log itself write. Any other action is accepted too: the list documents, not restricts.
ACTIONS = (
    "admin-call",
    "audit-pruned",
    "backup",
    "ban",
    "ca-rotated",
    "certificate-renewed",
    "converge",
    "key-created",
    "key-revoked",
    "restore",
    "unban",
)

# The series the service exports; the alert rules hxgen renders read them.
RECORDS_TOTAL = "hx_audit_records_total"
HEAD_SEQ = "hx_audit_head_seq"
HEAD_TIMESTAMP = "hx_audit_head_timestamp_seconds"
CHAIN_VALID = "hx_audit_chain_valid"
AUTH_FAILURES_TOTAL = "hx_gateway_auth_failures_total"
ADMIN_CALLS_TOTAL = "hx_gateway_admin_calls_total"
