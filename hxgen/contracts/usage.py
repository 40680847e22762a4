"""The contract of usage accounting: between hxgen (which renders the configuration, the
gateway's quota checks, the rules, dashboards and reports) and the hx-usage service (which
follows the gateway's access log into PostgreSQL, meters tokens per tenant and writes the
quota state the gateway reads). Both sides import the names from here, so neither can drift.

Where things are:
- the configuration hxgen renders and `hx-usage` reads: CONFIG_PATH (JSON, VERSION), whose model
  is hxgen.contracts.usage_config (apart, so that this module needs no pydantic);
- the usage rows: TABLE in the spec's usage.database, one partition per UTC day named
  `requests_pYYYYMMDD` (hx_retention drops old ones), written through PgBouncer;
- the quota state: one file per tenant with a quota, QUOTA_DIR/<tenant>.json, which the gateway
  reads on each inference request of that tenant (njs, no Python in the request path);
- the service's loopback HTTP port (layout.USAGE_PORT): /metrics for Prometheus, and the two
  tenant endpoints the gateway proxies to it after authenticating the caller (TENANT_HEADER).
"""

from __future__ import annotations

VERSION = "hx-usage/v1"
CONFIG_PATH = "/etc/hx/usage.json"
"""Where the usage role installs the rendered configuration; `hx-usage` reads it by default."""

SCHEMA = "hx_usage"
TABLE = f"{SCHEMA}.requests"
"""One row per gateway request that reached a model (or was refused for its quota)."""
MIGRATIONS_TABLE = f"{SCHEMA}.schema_migrations"

# The columns of TABLE, in the order the service writes them. The primary key is
# (request_id, time): a unique key of a partitioned table must include the partition key, and
# a line read twice has the same time, so the insert is idempotent (ON CONFLICT DO NOTHING).
COLUMNS = (
    "time",  # timestamptz: the access log's $time_iso8601 (when nginx finished the request)
    "request_id",  # text: nginx's $request_id, also sent to the client as X-Request-ID
    "tenant",  # text
    "role",  # text
    "model",  # text: what the client asked for (a served name or a route alias)
    "variant",  # text: the served name of the model that answered
    "model_name",  # text: the hx.yaml name of that model (costs and SLOs are keyed by it)
    "endpoint",  # text: the path, e.g. /v1/chat/completions
    "status",  # smallint
    "cache",  # text: HIT, MISS, BYPASS, EXPIRED, ... or '' when the cache was not asked
    "prompt_tokens",  # integer, NULL when the response carried no usage
    "completion_tokens",  # integer, NULL when the response carried no usage
    "request_s",  # real: nginx's $request_time
    "upstream_s",  # real: the engine's time summed over retries, NULL when none answered
)
# Feedback (POST /v1/feedback) is stored on the request's row.
FEEDBACK_COLUMNS = ("rating", "feedback_comment", "feedback_at")
RATING_MIN, RATING_MAX = 1, 5
"""A rating is an integer from 1 (bad) to 5 (excellent)."""
FEEDBACK_COMMENT_MAX_CHARS = 2000

# --- the quota state the gateway reads ---------------------------------------------------------
QUOTA_DIR = "/var/lib/hx-usage/quota"
"""<tenant>.json, world-readable, replaced atomically (rename) whenever the tenant's count moves:
{"day": "2026-12-02", "used_tokens": 12345, "resets_at": 1764720000}
day: the quota day in usage.time_zone; used_tokens: prompt + completion tokens of that day;
resets_at: Unix time (seconds) at which the next quota day begins. The gateway takes the quota
itself from its own configuration (the spec), treats a file whose resets_at has passed as a new,
empty day, and treats a missing or unreadable file as nothing used (it fails open: a stopped
hx-usage stops enforcement, never traffic; HxUsageDown says so)."""
QUOTA_EXCEEDED_CODE = "quota_exceeded"
# Response headers of every inference answer to a tenant with a quota.
HEADER_QUOTA_LIMIT = "X-HX-Quota-Limit-Tokens"
HEADER_QUOTA_REMAINING = "X-HX-Quota-Remaining-Tokens"
HEADER_QUOTA_RESET = "X-HX-Quota-Reset"
"""Seconds until the quota day resets (like Retry-After)."""
LOG_QUOTA_FIELD = "quota"
"""Access-log field: "exceeded" on a quota refusal, else ""."""

# --- the service's HTTP endpoints, behind the gateway ------------------------------------------
TENANT_HEADER = "X-HX-Tenant"
"""Set by the gateway to the authenticated tenant; the service trusts it because it listens on
loopback only and the gateway overwrites whatever a client sent."""
USAGE_PATH = "/v1/usage"
"""GET: the caller's own usage: today's tokens against its quota, and per model."""
FEEDBACK_PATH = "/v1/feedback"
"""POST {"request_id", "rating", "comment"?}: only for the caller's own requests."""
ADMIN_USAGE_PATH = "/admin/usage"
"""GET: every tenant's usage today, for admins and operators."""

# --- the series the service exports (the rules, dashboards and reports read them) --------------
# Labels: tenant (a spec tenant, the probe tenant, or "-" for unauthenticated requests), model
# (the hx.yaml name of the answering model, or "-"), status_class (2xx, 4xx, 5xx, ...). Both
# label sets are bounded by the spec.
REQUESTS_TOTAL = "hx_usage_requests_total"  # {tenant, model, status_class}
VARIANT_REQUESTS_TOTAL = "hx_usage_variant_requests_total"  # {route, variant, outcome}: see VARIANT_OUTCOMES
VARIANT_OUTCOMES = ("ok", "error")
"""Of the requests a route's weights sent to a variant (hx.yaml name): error when it failed them
(a 5xx, or another variant of the route had to answer); what a canary's gate compares."""
PROMPT_TOKENS_TOTAL = "hx_usage_prompt_tokens_total"  # {tenant, model}
COMPLETION_TOKENS_TOTAL = "hx_usage_completion_tokens_total"  # {tenant, model}
CACHE_HITS_TOTAL = "hx_usage_cache_hits_total"  # {tenant, model}
REQUEST_SECONDS = "hx_usage_request_duration_seconds"  # histogram {model}: nginx's request time
GATEWAY_ADDED_SECONDS = "hx_usage_gateway_added_seconds"  # histogram {model}: request - upstream time
FEEDBACK_TOTAL = "hx_usage_feedback_total"  # {tenant, model, rating}
QUOTA_USED_TOKENS = "hx_usage_quota_used_tokens"  # gauge {tenant}: today's tokens
QUOTA_LIMIT_TOKENS = "hx_usage_quota_limit_tokens"  # gauge {tenant}: the daily quota
QUOTA_REFUSALS_TOTAL = "hx_usage_quota_refusals_total"  # {tenant}
DB_QUERY_SECONDS = "hx_usage_db_query_seconds"  # histogram {statement}: insert, feedback, usage
DB_UP = "hx_usage_db_up"  # gauge: 1 when the last write to PostgreSQL succeeded
ROWS_WRITTEN_TOTAL = "hx_usage_rows_written_total"  # rows inserted (a replayed row counts once)
LOG_LINES_TOTAL = "hx_usage_log_lines_total"  # {result: counted, unreadable, lost (rotated away unstored)}
BACKLOG_BYTES = "hx_usage_backlog_bytes"  # gauge: access-log bytes read but not yet in PostgreSQL
LAST_ROW_TIMESTAMP = "hx_usage_last_row_timestamp_seconds"  # gauge: time of the newest row written

REQUEST_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
ADDED_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
QUERY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
