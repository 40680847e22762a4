"""What a report reads: SQL aggregates over hx_usage.requests (PostgreSQL) and the series the
rules, the engines, hx-analytics and Prometheus itself keep (the HTTP API).

Each query reads the period only: the rows' WHERE is a plain range on `time` (no function of
the column), so PostgreSQL prunes the daily partitions and can serve it from the (tenant, time)
and (model_name, time) indexes; Prometheus is asked at the period's end over a range as long as
the period (`avg_over_time(...[Ns])`, `increase(...[Ns])`), which is exact for any length.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ..contracts import usage as contract
from .model import FiredAlert, Forecast, Measured, UsageGroup
from .period import Period

PROMETHEUS_TIMEOUT_S = 30
ALERT_POINTS = 2000
"""Samples of ALERTS per period: a step of about 5 min for a week, never under the 1 min
evaluation that alerts have at most."""
LATENCY_HISTOGRAMS = {
    "ttft": ("vllm:time_to_first_token_seconds_bucket",),
    "e2e": ("vllm:e2e_request_latency_seconds_bucket", "tgi_request_duration_bucket"),
}
PERCENTILES = (50, 95, 99)
# Labels of ALERTS that say nothing about which thing alerts.
_ALERT_BOOKKEEPING = {"__name__", "alertname", "alertstate", "severity", "job", "instance"}


class SourceError(Exception):
    """A data source could not be read: the message says which and why, the hint what to check."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


# --- PostgreSQL ---------------------------------------------------------------------------------
USAGE_QUERY = f"""
SELECT (time AT TIME ZONE %(zone)s)::date AS day, tenant, model_name,
       count(*) AS requests,
       count(*) FILTER (WHERE status >= 500) AS server_errors,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens), 0) AS completion_tokens,
       count(*) FILTER (WHERE cache = 'HIT') AS cache_hits,
       count(*) FILTER (WHERE cache <> '') AS cache_lookups,
       coalesce(sum(rating), 0) AS rating_sum,
       count(rating) AS ratings
FROM {contract.TABLE}
WHERE time >= %(start)s AND time < %(end)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


def usage_groups(dsn: str, period: Period) -> list[UsageGroup]:
    import psycopg  # the report extra; loaded only when a report runs

    where = _where(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
            params = {"zone": period.time_zone, "start": period.start, "end": period.end}
            cur.execute(USAGE_QUERY, params)
            return [UsageGroup(*row) for row in cur.fetchall()]
    except psycopg.errors.UndefinedTable:
        raise SourceError(
            f"PostgreSQL at {where} has no table {contract.TABLE}",
            "is this the usage database (usage.database), and has hx-usage started once (it creates the table)?",
        ) from None
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"cannot read usage from PostgreSQL at {where}: {reason}",
            "check that PostgreSQL (and PgBouncer) run and listen there, and the database, user and password "
            "(--database DSN, or the database section of --config)",
        ) from None


def _where(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # a malformed DSN is reported when connecting
        return "(unparsable DSN)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


# --- Prometheus ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str, at: dt.datetime) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expr, "time": at.timestamp()})

    def query_range(self, expr: str, start: dt.datetime, end: dt.datetime, step_s: int) -> list[dict[str, Any]]:
        params = {"query": expr, "start": start.timestamp(), "end": end.timestamp(), "step": step_s}
        return self._get("/api/v1/query_range", params)

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        import requests

        hint = "check that Prometheus runs and listens there (systemctl status prometheus), or pass --prometheus URL"
        try:
            response = requests.get(self.url.rstrip("/") + path, params=params, timeout=PROMETHEUS_TIMEOUT_S)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach Prometheus at {self.url}: {_reason(exc)}", hint) from None
        try:
            body = response.json()
        except ValueError:
            raise SourceError(
                f"{self.url} answered HTTP {response.status_code} without Prometheus's JSON", hint
            ) from None
        if body.get("status") != "success":
            raise SourceError(
                f"Prometheus at {self.url} refused a query: {body.get('error', response.status_code)}",
                f"the query was: {params['query']}",
            )
        return body["data"]["result"]


def _reason(exc: Exception) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if known in text:
            return known.lower()
    return type(exc).__name__


def _value(sample: dict[str, Any]) -> float | None:
    v = float(sample["value"][1])
    return None if math.isnan(v) else v


def _by(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    found = {}
    for s in result:
        v = _value(s)
        if v is not None:
            found[tuple(s["metric"].get(k, "") for k in labels)] = v
    return found


def measured(prom: Prometheus, period: Period, with_energy: bool) -> Measured:
    at, window = period.end, f"{period.seconds}s"
    slo_errors = _by(prom.query(f"avg_over_time(hx:slo_errors:ratio_rate5m[{window}])", at), "model", "slo")
    budget = _by(prom.query("hx:slo_period_error_budget_remaining:ratio", at), "model", "slo")
    prefix = _by(prom.query(f"avg_over_time(hx:model_prefix_cache_hits:ratio_rate5m[{window}])", at), "model")
    watts: dict[tuple[str, ...], float] = {}
    if with_energy:
        watts = _by(prom.query(f"sum by (gpu) (avg_over_time(DCGM_FI_DEV_POWER_USAGE[{window}]))", at), "gpu")
    return Measured(
        slo_errors=slo_errors,
        budget_left=budget,
        latency_s=latencies(prom, period),
        prefix_cache={k[0]: v for k, v in prefix.items()},
        gpu_watts={int(k[0]): v for k, v in watts.items() if k[0].isdigit()},
        forecasts=forecasts(prom, at),
        alerts=fired_alerts(prom, period),
    )


def latencies(prom: Prometheus, period: Period) -> dict[tuple[str, str, int], float]:
    found: dict[tuple[str, str, int], float] = {}
    for kind, histograms in LATENCY_HISTOGRAMS.items():
        for p in PERCENTILES:
            parts = [
                f"histogram_quantile({p / 100}, sum by (model, le) (increase({h}[{period.seconds}s])))"
                for h in histograms
            ]
            for (model,), v in _by(prom.query(" or ".join(parts), period.end), "model").items():
                found[(model, kind, p)] = v
    return found


def forecasts(prom: Prometheus, at: dt.datetime) -> list[Forecast] | None:
    """hx-analytics' latest forecasts before `at` (it publishes each cycle; an hour tolerates a
    restart), or None when it exported none."""
    result = prom.query("last_over_time(hx_forecast[1h])", at)
    if not result:
        return None
    exhausted = _by(prom.query("last_over_time(hx_capacity_exhaustion_seconds[1h])", at), *_MEMBER)
    exhaustion = {(series, model or resource): v for (series, model, resource), v in exhausted.items()}
    bounds: dict[tuple[str, str, str], dict[str, float]] = {}
    for s in result:
        m = s["metric"]
        key = (m.get("series", ""), _member(m), m.get("horizon", ""))
        v = _value(s)
        if v is not None:
            bounds.setdefault(key, {})[m.get("bound", "forecast")] = v
    rows = []
    for (series, member, horizon), b in sorted(bounds.items(), key=lambda kv: (kv[0][0], kv[0][1], _minutes(kv[0][2]))):
        if "forecast" not in b:
            continue
        left = _finite(exhaustion.get((series, member)))
        rows.append(Forecast(series, member, horizon, b["forecast"], b.get("lower"), b.get("upper"), left))
    return rows


_MEMBER = ("series", "model", "resource")


def _member(labels: dict[str, str]) -> str:
    return labels.get("model") or labels.get("resource") or ""


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _minutes(horizon: str) -> int:
    units = {"m": 1, "h": 60, "d": 1440}
    try:
        return int(horizon[:-1]) * units[horizon[-1]]
    except (ValueError, KeyError, IndexError):
        return 0


def fired_alerts(prom: Prometheus, period: Period) -> list[FiredAlert]:
    step = max(60, math.ceil(period.seconds / ALERT_POINTS))
    result = prom.query_range('ALERTS{alertstate="firing"}', period.start, period.end, step)
    fired = []
    for s in result:
        m, stamps = s["metric"], [float(t) for t, _ in s["values"]]
        if not stamps:
            continue
        subject = ", ".join(f"{k}={v}" for k, v in sorted(m.items()) if k not in _ALERT_BOOKKEEPING)
        fired.append(
            FiredAlert(
                name=m.get("alertname", "?"),
                severity=m.get("severity", ""),
                subject=subject,
                first_seen=dt.datetime.fromtimestamp(stamps[0], dt.UTC),
                last_seen=dt.datetime.fromtimestamp(stamps[-1], dt.UTC),
                firing_s=len(stamps) * step,
            )
        )
    return sorted(fired, key=lambda a: (a.first_seen, a.name, a.subject))
