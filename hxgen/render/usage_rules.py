"""Rules on what hx-usage exports (hxgen.contracts.usage): per tenant, the gateway's own answers,
and the service's health (hx-usage.yml). Rendered only when usage accounting runs.

Names follow the `hx:model_*` rules: the level says the labels a series keeps, so
`hx:tenant_*` is `by (tenant)` and `hx:tenant_model_*` is `by (tenant, model)`. No rule adds a
label beyond the contract's (tenant, model, status_class), so cardinality stays what the spec
allows: its tenants times its models.

- Tenants: requests by status class, tokens, cache hits, errors, satisfaction (the mean rating
  of the feedback given in a day), and the share of today's quota used. Cost and savings per
  tenant are cost rules (cost_rules.py), because they need the business section.
- The gateway: everything it answered (any tenant, any model, 401s and 502s included), the
  share it answered with 5xx against targets.error_rate_percent, and the latency it adds to a
  request (nginx's request time minus the engine's) against targets.gateway_overhead_ms. The
  engines' own 5xx are HxModelErrorRateHigh's (slo_rules); the gateway also sees the 502/503/504
  it answers itself when an engine cannot be reached, and the 5xx of its own (njs, the cache).
- The service: down (quotas fail open), its backlog, and its queries against targets.sql_latency_ms.
"""

from __future__ import annotations

from typing import Any

from .. import alerts
from ..contracts import usage as contract
from ..plan import Plan
from ..plan.usage import UsagePlan
from . import promql
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, yaml_text

WINDOW = "5m"
RATING_WINDOW = "1d"
"""Feedback is sparse: a 5-minute mean of it would mostly be empty or one rating."""
JOB = 'job="usage"'
RULES_FILE = "prometheus/rules/hx-usage.yml"

GATEWAY_ERRORS_FOR = "10m"
GATEWAY_OVERHEAD_FOR = "10m"
OVERHEAD_QUANTILE = 0.99
SQL_QUANTILE = 0.95
SLOW_QUERIES_FOR = "10m"
USAGE_DOWN_FOR = "3m"
BACKLOG_WINDOW = "10m"
BACKLOG_FOR = "5m"

# The recorded series other rules and the dashboards read.
TENANT_MODEL_REQUESTS = f"hx:tenant_model_requests:rate{WINDOW}"
TENANT_MODEL_PROMPT_TOKENS = f"hx:tenant_model_prompt_tokens:rate{WINDOW}"
TENANT_MODEL_COMPLETION_TOKENS = f"hx:tenant_model_completion_tokens:rate{WINDOW}"
TENANT_TOKENS = f"hx:tenant_tokens:rate{WINDOW}"
TENANT_REQUESTS = f"hx:tenant_requests:rate{WINDOW}"
TENANT_ERRORS = f"hx:tenant_request_errors:ratio_rate{WINDOW}"
TENANT_CACHE_HITS = f"hx:tenant_cache_hits:ratio_rate{WINDOW}"
TENANT_MODEL_RATING = f"hx:tenant_model_rating:mean{RATING_WINDOW}"
TENANT_QUOTA_USED = "hx:tenant_quota_used:ratio"
GATEWAY_REQUESTS = f"hx:gateway_requests:rate{WINDOW}"
GATEWAY_ERRORS = f"hx:gateway_request_errors:ratio_rate{WINDOW}"
GATEWAY_ADDED = f"hx:gateway_added_seconds:p99_{WINDOW}"
USAGE_QUERY_P95 = f"hx:usage_db_query_seconds:p95_{WINDOW}"


def _rate(metric: str, by: str, window: str = WINDOW) -> str:
    return promql.rate(metric, window, by=by)


def _share(numerator: str, denominator: str, by: str) -> str:
    """numerator/denominator `by` these labels; no events yet is 0, no traffic is no sample."""
    den = _rate(denominator, by)
    return promql.block(f"({_rate(numerator, by)} or 0 * {den})\n/\n({den} > 0)")


def _quantile(q: float, bucket: str, by: str) -> str:
    return f"histogram_quantile({q:g}, {_rate(bucket, f'{by}, le' if by else 'le')})"


def _mean_rating() -> str:
    """Each rating's count weighted by its value (the rating is a label, so one term per value),
    over the count of all ratings."""
    weighted = "\nor\n".join(
        f'  increase({contract.FEEDBACK_TOTAL}{{rating="{r}"}}[{RATING_WINDOW}]) * {r}'
        for r in range(contract.RATING_MIN, contract.RATING_MAX + 1)
    )
    total = f"sum by (tenant, model) (increase({contract.FEEDBACK_TOTAL}[{RATING_WINDOW}]))"
    return promql.block(f"sum by (tenant, model) (\n{weighted}\n)\n/\n({total} > 0)")


def tenant_rules() -> list[dict[str, Any]]:
    tenant_model = "tenant, model"
    five_xx = f'{contract.REQUESTS_TOTAL}{{status_class="5xx"}}'
    return [
        {
            "record": TENANT_MODEL_REQUESTS,
            "expr": _rate(contract.REQUESTS_TOTAL, "tenant, model, status_class"),
        },
        {"record": TENANT_MODEL_PROMPT_TOKENS, "expr": _rate(contract.PROMPT_TOKENS_TOTAL, tenant_model)},
        {"record": TENANT_MODEL_COMPLETION_TOKENS, "expr": _rate(contract.COMPLETION_TOKENS_TOTAL, tenant_model)},
        {
            "record": TENANT_TOKENS,
            # Prompt plus completion tokens; either alone where the other has no series yet.
            "expr": (f'sum by (tenant) ({{__name__=~"hx:tenant_model_(prompt|completion)_tokens:rate{WINDOW}"}})'),
        },
        {"record": TENANT_REQUESTS, "expr": f"sum by (tenant) ({TENANT_MODEL_REQUESTS})"},
        {"record": TENANT_ERRORS, "expr": _share(five_xx, contract.REQUESTS_TOTAL, "tenant")},
        {"record": TENANT_CACHE_HITS, "expr": _share(contract.CACHE_HITS_TOTAL, contract.REQUESTS_TOTAL, "tenant")},
        {"record": TENANT_MODEL_RATING, "expr": _mean_rating()},
        {
            "record": TENANT_QUOTA_USED,
            # Only tenants with a quota have a limit series; a zero limit gives no sample.
            "expr": promql.block(
                f"max by (tenant) ({contract.QUOTA_USED_TOKENS})\n/\n"
                f"(max by (tenant) ({contract.QUOTA_LIMIT_TOKENS}) > 0)"
            ),
        },
    ]


def gateway_rules() -> list[dict[str, Any]]:
    five_xx = f'{contract.REQUESTS_TOTAL}{{status_class="5xx"}}'
    rules: list[dict[str, Any]] = [
        {"record": GATEWAY_REQUESTS, "expr": f"sum by (status_class) ({TENANT_MODEL_REQUESTS})"},
        {
            "record": GATEWAY_ERRORS,
            "expr": promql.block(
                f"(sum(rate({five_xx}[{WINDOW}])) or 0 * sum(rate({contract.REQUESTS_TOTAL}[{WINDOW}])))\n/\n"
                f"(sum(rate({contract.REQUESTS_TOTAL}[{WINDOW}])) > 0)"
            ),
        },
        {"record": GATEWAY_ADDED, "expr": _quantile(OVERHEAD_QUANTILE, f"{contract.GATEWAY_ADDED_SECONDS}_bucket", "")},
    ]
    for q in (0.5, OVERHEAD_QUANTILE):
        rules.append(
            {
                "record": f"hx:model_gateway_added_seconds:p{round(q * 100)}_{WINDOW}",
                "expr": _quantile(q, f"{contract.GATEWAY_ADDED_SECONDS}_bucket", "model"),
            }
        )
    rules.append(
        {
            "record": USAGE_QUERY_P95,
            "expr": _quantile(SQL_QUANTILE, f"{contract.DB_QUERY_SECONDS}_bucket", "statement"),
        }
    )
    return rules


def gateway_alerts(plan: Plan) -> list[dict[str, Any]]:
    t = plan.targets
    limit = t.error_rate_percent / 100
    target_s = t.gateway_overhead_ms / 1000
    return [
        alert(
            alerts.GATEWAY_ERRORS,
            f"{GATEWAY_ERRORS} > {promql.number(limit)}",
            GATEWAY_ERRORS_FOR,
            "ticket",
            f"The gateway answers more than {t.error_rate_percent:g} % of requests with 5xx",
            f"{{{{ $value | humanizePercentage }}}} of the gateway's answers were 5xx over {WINDOW} "
            f"(targets.error_rate_percent: {t.error_rate_percent:g} %), every tenant and model together. "
            "502/503/504 mean an engine could not be reached or timed out (see HxModelDown, "
            "journalctl -u hx-model-*); a 500 is the gateway's own (nginx's error log). "
            f"Per tenant and model: {TENANT_MODEL_REQUESTS}.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.GATEWAY_OVERHEAD,
            f"{GATEWAY_ADDED} > {promql.number(target_s)}\n"
            f"and on ()\nsum({GATEWAY_REQUESTS}) >= {promql.number(t.gateway_overhead_at_rps)}",
            GATEWAY_OVERHEAD_FOR,
            "ticket",
            f"The gateway adds more than {t.gateway_overhead_ms:g} ms (p99) at {t.gateway_overhead_at_rps:g} req/s",
            f"The p99 of the time the gateway adds to a request (request time minus the engine's) is "
            f"{{{{ $value | humanizeDuration }}}} while it serves at least {t.gateway_overhead_at_rps:g} req/s "
            f"(targets.gateway_overhead_ms at targets.gateway_overhead_at_rps). Below that rate the target "
            "makes no promise and this alert stays silent. The p99 is interpolated between histogram "
            f"buckets; per model: hx:model_gateway_added_seconds:p99_{WINDOW}. Look at the host's CPU, "
            "nginx's workers and the njs checks.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]


def service_alerts(plan: Plan, usage: UsagePlan) -> list[dict[str, Any]]:
    sql_ms = plan.targets.sql_latency_ms
    quotas = "tenants' daily token quotas are not enforced (the gateway fails open) and " if usage.any_quota else ""
    return [
        alert(
            alerts.USAGE_DOWN,
            f"up{{{JOB}}} == 0",
            USAGE_DOWN_FOR,
            # Fail open is a policy that stops holding: that pages; without quotas it is bookkeeping.
            "page" if usage.any_quota else "ticket",
            "The usage service is down",
            f"Prometheus cannot scrape {usage.service} at {{{{ $labels.instance }}}}: {quotas}no usage rows "
            "are written. It resumes from its saved read position when it starts, as long as the access "
            f"log has not been rotated away. See systemctl status {usage.service} and journalctl -u {usage.service}.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.USAGE_BACKLOG,
            f"{contract.DB_UP} == 0\nor\n"
            f"(\n  deriv({contract.BACKLOG_BYTES}[{BACKLOG_WINDOW}]) > 0\n"
            f"  and\n  min_over_time({contract.BACKLOG_BYTES}[{BACKLOG_WINDOW}]) > 0\n)",
            BACKLOG_FOR,
            "ticket",
            "The usage service cannot keep up with the access log",
            f"Its writes to PostgreSQL fail ({contract.DB_UP} 0) or its backlog of access-log bytes not yet "
            f"in PostgreSQL ({contract.BACKLOG_BYTES}) has kept growing: PostgreSQL or PgBouncer is "
            "unreachable or too slow. The rows wait in the access log until it catches up. "
            f"See journalctl -u {usage.service}, pg_up and HxPgbouncerPoolExhausted.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.USAGE_SLOW_QUERIES,
            f"{USAGE_QUERY_P95} > {promql.number(sql_ms / 1000)}",
            SLOW_QUERIES_FOR,
            "ticket",
            f"The usage service's {{{{ $labels.statement }}}} queries take more than {sql_ms:g} ms (p95)",
            f"p95 {{{{ $value | humanizeDuration }}}} for {SLOW_QUERIES_FOR} (targets.sql_latency_ms: {sql_ms:g} ms, "
            "through PgBouncer). The slowest statements are in pg_stat_statements "
            "(the Integration health dashboard's table, pg_stat_statements_*).",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]


def rule_groups(plan: Plan, usage: UsagePlan) -> dict[str, Any]:
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    # One group: the alerts read the ratios of the same evaluation (see slo_rules).
    rules = tenant_rules() + gateway_rules() + gateway_alerts(plan) + service_alerts(plan, usage)
    return {"groups": [{"name": "hx-usage", "interval": interval, "rules": rules}]}


def render(plan: Plan) -> list[Artifact]:
    if plan.usage is None:
        return []
    text = yaml_text(rule_groups(plan, plan.usage), plan.spec_file)
    return [Artifact(f"{RENDERED_DIR}/{RULES_FILE}", text)]
