"""The live parts of the model: the engines' health, usage and cost from the usage table, and the
alerts Alertmanager holds. Each read is bounded in time; a part that is down is an answer (an
unhealthy engine) or Unavailable, never a hang."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from ..contracts.control_config import ServiceConfig
from .model import Alert, Health, Unavailable, UsageRow

HEALTH_TIMEOUT_S = 2.0
ALERTMANAGER_TIMEOUT_S = 5.0


# --- health -------------------------------------------------------------------------------------
def health(url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> Health:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return Health(answer.status == 200, answer.status, "ok" if answer.status == 200 else answer.reason)
    except urllib.error.HTTPError as exc:
        return Health(False, exc.code, f"{url} answered {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Health(False, None, f"{url} did not answer: {reason}")


def healths(urls: dict[str, str]) -> dict[str, Health]:
    """name -> health, all asked at once (the answer waits for the slowest, at most the timeout)."""
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        futures = {name: pool.submit(health, url) for name, url in urls.items()}
        return {name: f.result() for name, f in futures.items()}


# --- usage and cost -----------------------------------------------------------------------------
def usage_rows(conn: psycopg.Connection, table: str, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """(tenant, model, requests, prompt, completion) of every tenant and model in [start, end)."""
    return conn.execute(
        f"SELECT tenant, model_name, count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) "
        f"FROM {table} WHERE time >= %s AND time < %s GROUP BY 1, 2 ORDER BY 1, 2",
        (start, end),
    ).fetchall()


def tokens_since(conn: psycopg.Connection, table: str, start: dt.datetime) -> dict[str, int]:
    rows = conn.execute(
        f"SELECT tenant, coalesce(sum(prompt_tokens), 0) + coalesce(sum(completion_tokens), 0) FROM {table} "
        "WHERE time >= %s GROUP BY 1",
        (start,),
    ).fetchall()
    return {tenant: int(tokens) for tenant, tokens in rows}


class _Span:
    """What the report's cost model reads of a period: its length in hours."""

    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.hours = max(0.0, (end - start).total_seconds() / 3600)


class Costs:
    """The host's cost model (hxgen.plan.costs through the weekly report's figures), from the spec
    the host was converged from; loaded once, on the first usage query that needs it."""

    def __init__(self, spec_file: str | None) -> None:
        self.spec_file = spec_file
        self._plan: Any = None
        self._loaded = False

    def plan(self):
        if not self._loaded:
            self._loaded = True
            if self.spec_file is not None and Path(self.spec_file).is_file():
                from ..pipeline import render_file

                try:
                    self._plan = render_file(Path(self.spec_file)).plan
                except Exception:  # a spec that no longer renders prices nothing; usage still answers
                    self._plan = None
        return self._plan

    @property
    def currency(self) -> str | None:
        plan = self.plan()
        return plan.business.currency if plan is not None and plan.business else None

    def rows(self, found: list[tuple], start: dt.datetime, end: dt.datetime) -> list[UsageRow]:
        """Each (tenant, model) carries the model's cost over the span in proportion to its tokens
        (hxgen.report.figures.tenant_usage, per model); None when the spec prices nothing."""
        plan = self.plan()
        if plan is None or plan.business is None:
            return [UsageRow(t, m, int(r), int(p), int(c), None) for t, m, r, p, c in found]
        from ..report.figures import model_costs, tenant_usage
        from ..report.model import Measured, UsageGroup

        costs = model_costs(plan, plan.business, _Span(start, end), Measured())
        groups = [UsageGroup(start.date(), t, m, int(r), 0, int(p), int(c), 0, 0, 0, 0) for t, m, r, p, c in found]
        cost: dict[tuple[str, str], float] = {}
        for model in {g.model for g in groups}:
            for u in tenant_usage([g for g in groups if g.model == model], costs):
                cost[(u.name, model)] = u.cost
        return [UsageRow(g.tenant, g.model, g.requests, g.prompt_tokens, g.completion_tokens,
                         cost.get((g.tenant, g.model))) for g in groups]  # fmt: skip


# --- alerts -------------------------------------------------------------------------------------
def alerts(url: str | None) -> list[Alert]:
    if url is None:
        raise Unavailable("no Alertmanager on this host (alertmanager_url is not set)")
    query = f"{url.rstrip('/')}/api/v2/alerts?active=true&silenced=false&inhibited=false"
    try:
        with urllib.request.urlopen(query, timeout=ALERTMANAGER_TIMEOUT_S) as answer:
            found = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unavailable(f"cannot read the alerts from Alertmanager at {url}: {getattr(exc, 'reason', exc)}") from None
    return sorted((_alert(a) for a in found), key=lambda a: (a.starts_at, a.name))


def _alert(a: dict[str, Any]) -> Alert:
    labels = {str(k): str(v) for k, v in (a.get("labels") or {}).items()}
    starts = str(a.get("startsAt", "1970-01-01T00:00:00Z")).replace("Z", "+00:00")
    try:
        starts_at = dt.datetime.fromisoformat(starts)
    except ValueError:
        starts_at = dt.datetime.fromtimestamp(0, dt.UTC)
    return Alert(
        name=labels.get("alertname", ""),
        severity=labels.get("severity"),
        state=str((a.get("status") or {}).get("state", "active")),
        starts_at=starts_at,
        summary=(a.get("annotations") or {}).get("summary"),
        labels=labels,
    )


def usage_config_of(config: ServiceConfig):
    if config.usage is None:
        raise Unavailable("usage accounting is off on this host (the spec has no usage section)")
    return config.usage
