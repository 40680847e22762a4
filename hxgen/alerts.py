"""Names of the alerts hx generates. The renderers use them, Alertmanager's inhibition rules
refer to them, and the spec's extra rules may not reuse them."""

from __future__ import annotations

WATCHDOG = "Watchdog"
HOST_DOWN = "HxHostDown"
MODEL_DOWN = "HxModelDown"
TARGET_DOWN = "HxTargetDown"
ERROR_BUDGET_BURN = "HxErrorBudgetBurn"
DISK_FILLING_UP = "HxDiskFillingUp"
DISK_FILLING_UP_FAST = "HxDiskFillingUpFast"
PROBE_FAILING = "HxSyntheticProbeFailing"
CERTIFICATE_EXPIRING = "HxCertificateExpiring"
# Host-wide targets (render/target_rules): targets.embeddings_ms and targets.mttr_minutes.
EMBEDDINGS_SLOW = "HxEmbeddingsSlow"
MODEL_RECOVERY_OVERDUE = "HxModelRecoveryOverdue"
# Predictive: on what hx-analytics exports.
CAPACITY_EXHAUSTION_FORECAST = "HxCapacityExhaustionForecast"
DEMAND_FORECAST_ABOVE_THROUGHPUT = "HxDemandForecastAboveThroughput"
ANOMALY_SUSTAINED = "HxAnomalySustained"
ANALYTICS_STALE = "HxAnalyticsStale"
# PostgreSQL backups (role backup): too old, or never recorded.
POSTGRES_BACKUP_STALE = "HxPostgresBackupStale"
POSTGRES_BACKUP_MISSING = "HxPostgresBackupMissing"
# Intrusion response: on what the audit service counts.
CLIENT_BANNED = "HxClientBanned"
AUTH_FAILURE_BURST = "HxAuthFailureBurst"
# Canary rollouts (render/canary_rules): a gate failing now, and a rollback carried out.
CANARY_GATE_FAILING = "HxCanaryGateFailing"
CANARY_ROLLED_BACK = "HxCanaryRolledBack"
# What a model that is down also looks like; silenced while HxModelDown fires.
MODEL_SYMPTOMS = (
    "HxModelThroughputBelowTarget",
    "HxModelLatencyAboveTarget",
    "HxModelQueueGrowing",
    "HxModelKvCacheSaturated",
    ANOMALY_SUSTAINED,  # its request rate and queue fall to nothing, which is anomalous
    EMBEDDINGS_SLOW,
)
GENERATED = frozenset(
    {
        WATCHDOG,
        HOST_DOWN,
        MODEL_DOWN,
        TARGET_DOWN,
        ERROR_BUDGET_BURN,
        DISK_FILLING_UP,
        DISK_FILLING_UP_FAST,
        PROBE_FAILING,
        CERTIFICATE_EXPIRING,
        CAPACITY_EXHAUSTION_FORECAST,
        DEMAND_FORECAST_ABOVE_THROUGHPUT,
        ANOMALY_SUSTAINED,
        ANALYTICS_STALE,
        MODEL_RECOVERY_OVERDUE,
        CANARY_GATE_FAILING,
        CANARY_ROLLED_BACK,
        *MODEL_SYMPTOMS,
        "HxModelErrorRateHigh",
        "HxHostMemoryHigh",
        "HxHostCpuHigh",
        "HxGpuBusy",
        "HxPgbouncerPoolExhausted",
        POSTGRES_BACKUP_STALE,
        POSTGRES_BACKUP_MISSING,
        CLIENT_BANNED,
        AUTH_FAILURE_BURST,
    }
)


def unbalanced(expr: str) -> str | None:
    """What is wrong with the brackets and quotes of a PromQL expression, or None.
    Full parsing is promtool's (tests, and the role's `validate:`); this catches the slips
    that hxgen can point at in the user's file."""
    closing = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    quote = None
    escaped = False
    for i, c in enumerate(expr):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote != "`":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in closing:
            stack.append(closing[c])
        elif c in ")]}" and (not stack or stack.pop() != c):
            return f"'{c}' at character {i + 1} closes no matching bracket"
    if quote:
        return f"a string opened with {quote} is never closed"
    if stack:
        return f"'{stack[-1]}' is missing at the end"
    return None


# The audit log (hxgen/render/audit.py).
AUDIT_CHAIN_BROKEN = "HxAuditChainBroken"
AUDIT_HEAD_STALE = "HxAuditHeadStale"
GENERATED = GENERATED | {AUDIT_CHAIN_BROKEN, AUDIT_HEAD_STALE}

# Usage accounting (hxgen/render/usage_rules.py): the gateway's own answers and hx-usage's health.
GATEWAY_ERRORS = "HxGatewayErrors"
GATEWAY_OVERHEAD = "HxGatewayOverhead"
USAGE_DOWN = "HxUsageDown"
USAGE_BACKLOG = "HxUsageBacklog"
USAGE_SLOW_QUERIES = "HxUsageSlowQueries"
GENERATED = GENERATED | {GATEWAY_ERRORS, GATEWAY_OVERHEAD, USAGE_DOWN, USAGE_BACKLOG, USAGE_SLOW_QUERIES}
