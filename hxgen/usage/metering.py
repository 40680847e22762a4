"""What hx-usage counts whether or not PostgreSQL is reachable: the Prometheus series of the
contract, and today's tokens per tenant (per model too), which become the quota files the gateway
reads. Today's counts are saved with the metering position (hxgen.usage.state), so a restart
neither loses nor counts them twice; the Prometheus counters start from 0, as counters do."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..contracts import usage as contract
from ..contracts.usage_config import ServiceConfig
from ..files import write_atomically
from . import days
from .lines import Labels, Request, status_class

MODEL_FIELDS = ("requests", "prompt_tokens", "completion_tokens")


@dataclass
class DayCounts:
    """One quota day's counts: tenant -> used tokens, and tenant -> served name -> MODEL_FIELDS."""

    day: dt.date
    used: dict[str, int] = field(default_factory=dict)
    models: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, tenant: str, served: str, r: Request) -> None:
        self.used[tenant] = self.used.get(tenant, 0) + r.tokens
        per = self.models.setdefault(tenant, {}).setdefault(served, dict.fromkeys(MODEL_FIELDS, 0))
        per["requests"] += 1
        per["prompt_tokens"] += r.prompt_tokens or 0
        per["completion_tokens"] += r.completion_tokens or 0

    def to_json(self) -> dict:
        return {"day": self.day.isoformat(), "used_tokens": self.used, "models": self.models}

    @classmethod
    def from_json(cls, data: object) -> DayCounts | None:
        try:
            return cls(dt.date.fromisoformat(data["day"]), dict(data["used_tokens"]), dict(data["models"]))
        except (TypeError, KeyError, ValueError):
            return None


class Series:
    """The contract's series, in a registry of their own (one per service)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        c = contract
        self.requests = Counter(c.REQUESTS_TOTAL, "Gateway requests", ["tenant", "model", "status_class"], registry=r)
        self.variant_requests = Counter(
            c.VARIANT_REQUESTS_TOTAL,
            "Requests a route's weights sent to a variant, by whether it failed them",
            ["route", "variant", "outcome"],
            registry=r,
        )
        self.prompt = Counter(c.PROMPT_TOKENS_TOTAL, "Prompt tokens", ["tenant", "model"], registry=r)
        self.completion = Counter(c.COMPLETION_TOKENS_TOTAL, "Completion tokens", ["tenant", "model"], registry=r)
        self.cache_hits = Counter(
            c.CACHE_HITS_TOTAL, "Answers from the response cache", ["tenant", "model"], registry=r
        )
        self.request_s = Histogram(
            c.REQUEST_SECONDS, "nginx's request time", ["model"], buckets=c.REQUEST_BUCKETS_S, registry=r
        )
        self.added_s = Histogram(
            c.GATEWAY_ADDED_SECONDS,
            "Request minus upstream time",
            ["model"],
            buckets=c.ADDED_BUCKETS_S,
            registry=r,
        )
        self.feedback = Counter(c.FEEDBACK_TOTAL, "Feedback stored", ["tenant", "model", "rating"], registry=r)
        self.quota_used = Gauge(c.QUOTA_USED_TOKENS, "Tokens used in today's quota day", ["tenant"], registry=r)
        self.quota_limit = Gauge(c.QUOTA_LIMIT_TOKENS, "Daily token quota", ["tenant"], registry=r)
        self.refusals = Counter(c.QUOTA_REFUSALS_TOTAL, "Requests refused for their quota", ["tenant"], registry=r)
        self.db_seconds = Histogram(
            c.DB_QUERY_SECONDS, "PostgreSQL statements", ["statement"], buckets=c.QUERY_BUCKETS_S, registry=r
        )
        self.db_up = Gauge(c.DB_UP, "1 when the last write to PostgreSQL succeeded", registry=r)
        self.rows_written = Counter(c.ROWS_WRITTEN_TOTAL, "Rows inserted (a replayed row counts once)", registry=r)
        self.log_lines = Counter(c.LOG_LINES_TOTAL, "Access-log lines", ["result"], registry=r)
        self.backlog = Gauge(c.BACKLOG_BYTES, "Access-log bytes read but not yet in PostgreSQL", registry=r)
        self.last_row = Gauge(c.LAST_ROW_TIMESTAMP, "Time of the newest row written", registry=r)


@dataclass(frozen=True)
class _Children:
    requests: dict[str, Any]
    """status class -> its labelled counter, filled as classes are seen."""
    prompt: Any
    completion: Any
    cache_hits: Any
    refusals: Any
    request_s: Any
    added_s: Any


class Meter:
    def __init__(self, config: ServiceConfig, series: Series, now: Callable[[], dt.datetime]) -> None:
        self.config = config
        self.series = series
        self.now = now
        self.zone = ZoneInfo(config.time_zone)
        self.labels = Labels(frozenset(config.tenants), dict(config.models))
        self.quotas = {t: q.daily_tokens for t, q in config.tenants.items() if q.daily_tokens is not None}
        self.today = DayCounts(self.current_day())
        self._cache: dict[tuple[str, str], _Children] = {}
        self._dirty: set[str] = set(self.quotas)  # every quota file is written at start
        for tenant in config.tenants:
            series.quota_used.labels(tenant).set(0)
        for tenant, limit in self.quotas.items():
            series.quota_limit.labels(tenant).set(limit)

    def current_day(self) -> dt.date:
        return days.day_of(self.now(), self.zone)

    def restore(self, saved: DayCounts | None) -> None:
        if saved is not None and saved.day >= self.today.day:
            self.today = saved
            self._dirty = set(self.quotas)
            self._set_gauges()
        self.roll()

    def roll(self, to: dt.date | None = None) -> None:
        """Begin a new quota day when the clock (or a line) has reached it."""
        day = max(to or self.current_day(), self.current_day())
        if day > self.today.day:
            self.today = DayCounts(day)
            self._dirty = set(self.quotas)
            self._set_gauges()

    def count(self, r: Request) -> None:
        tenant, model = self.labels.tenant(r), self.labels.model(r)
        per = self._children(tenant, model)
        status = status_class(r.status)
        counter = per.requests.get(status)
        if counter is None:
            counter = per.requests[status] = self.series.requests.labels(tenant, model, status)
        counter.inc()
        if r.prompt_tokens:
            per.prompt.inc(r.prompt_tokens)
        if r.completion_tokens:
            per.completion.inc(r.completion_tokens)
        if r.cache == "HIT":
            per.cache_hits.inc()
        if r.quota_refused:
            per.refusals.inc()
        if r.model:
            per.request_s.observe(r.request_s)
            if r.added_s is not None:
                per.added_s.observe(r.added_s)
        self._count_variant(r)
        self._count_day(r, tenant)

    def _count_variant(self, r: Request) -> None:
        failed = r.picked_failed
        variant = self.labels.models.get(r.picked)
        if failed is None or variant is None:
            return
        outcome = contract.VARIANT_OUTCOMES[1 if failed else 0]
        self.series.variant_requests.labels(r.route, variant, outcome).inc()

    def _children(self, tenant: str, model: str) -> _Children:
        """The labelled series of a (tenant, model), looked up once: labels() is most of the cost
        of a line otherwise (profiled), and the label values are bounded by the spec."""
        found = self._cache.get((tenant, model))
        if found is None:
            s = self.series
            found = self._cache[(tenant, model)] = _Children(
                requests={},
                prompt=s.prompt.labels(tenant, model),
                completion=s.completion.labels(tenant, model),
                cache_hits=s.cache_hits.labels(tenant, model),
                refusals=s.refusals.labels(tenant),
                request_s=s.request_s.labels(model),
                added_s=s.added_s.labels(model),
            )
        return found

    def _count_day(self, r: Request, tenant: str) -> None:
        if not r.model or tenant not in self.config.tenants:
            return
        day = days.day_of(r.time, self.zone)
        self.roll(day)
        if day != self.today.day:
            return  # a line of an earlier day (read late): not today's quota
        self.today.add(tenant, self.labels.served(r), r)
        self.series.quota_used.labels(tenant).set(self.today.used.get(tenant, 0))
        if tenant in self.quotas and r.tokens:
            self._dirty.add(tenant)

    def _set_gauges(self) -> None:
        for tenant in self.config.tenants:
            self.series.quota_used.labels(tenant).set(self.today.used.get(tenant, 0))

    # -- the quota files ---------------------------------------------------------------------------
    def write_quota_files(self) -> None:
        """Each tenant with a quota whose count moved (or whose day began): QUOTA_DIR/<tenant>.json."""
        if not self._dirty:
            return
        directory = Path(self.config.quota_dir)
        directory.mkdir(parents=True, exist_ok=True)
        reset = days.resets_at(self.today.day, self.zone)
        for tenant in sorted(self._dirty):
            state = {
                "day": self.today.day.isoformat(),
                "used_tokens": self.today.used.get(tenant, 0),
                "resets_at": reset,
            }
            write_atomically(directory / f"{tenant}.json", json.dumps(state, sort_keys=True) + "\n", 0o644)
        self._dirty.clear()

    # -- what the tenant endpoints answer ----------------------------------------------------------
    def usage(self, tenant: str) -> dict:
        """The shape of GET /v1/usage without "tenant"; counts of the quota day now."""
        self.roll()
        used = self.today.used.get(tenant, 0)
        quota = None
        if tenant in self.quotas:
            reset = days.resets_at(self.today.day, self.zone)
            limit = self.quotas[tenant]
            quota = {
                "limit_tokens": limit,
                "used_tokens": used,
                "remaining_tokens": max(limit - used, 0),
                "resets_at": reset,
                "reset_in_s": max(int(reset - self.now().timestamp()), 0),
            }
        models = {name: dict(per) for name, per in sorted(self.today.models.get(tenant, {}).items())}
        return {"day": self.today.day.isoformat(), "time_zone": self.config.time_zone, "quota": quota, "models": models}
