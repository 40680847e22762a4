"""One line of the gateway's access log (nginx `log_format hx_json`), as hx-usage reads it: what
counts, the labels it counts under (bounded by the configuration), and the row it becomes."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from ..contracts import usage as contract

UNKNOWN = "-"
"""The label value of a tenant or model the configuration does not name (bounded cardinality)."""
UNAUTHORIZED = 401


class Unreadable(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    time: dt.datetime
    request_id: str
    tenant: str
    role: str
    model: str
    """What the client asked for: a served name or a route alias."""
    variant: str
    """The served name of the model that answered ('' when none did)."""
    route: str
    """The route alias the client asked for ('' when it named a model)."""
    picked: str
    """The served name of the variant the route's weights chose ('' without a route). Another
    variant answers when it fails before answering (the route's retry)."""
    path: str
    status: int
    cache: str
    prompt_tokens: int | None
    completion_tokens: int | None
    request_s: float
    upstream_s: float | None
    quota: str

    @property
    def quota_refused(self) -> bool:
        return self.quota == "exceeded"

    @property
    def counted(self) -> bool:
        """Metered: any line with a tenant or a model, and unauthenticated calls (under "-")."""
        return bool(self.tenant or self.model or self.status == UNAUTHORIZED)

    @property
    def has_row(self) -> bool:
        """A row in PostgreSQL: an inference request, or one refused for its quota."""
        return bool(self.model or self.quota_refused)

    @property
    def served_name(self) -> str:
        return self.variant or self.model

    @property
    def picked_failed(self) -> bool | None:
        """Whether the variant the weights chose failed the request: a 5xx, or another variant had
        to answer it. None when no variant was chosen or the cache answered (neither says anything
        about the variant)."""
        if not self.picked or self.cache == "HIT":
            return None
        return self.status >= 500 or (bool(self.variant) and self.variant != self.picked)

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    @property
    def added_s(self) -> float | None:
        """What the gateway added to the engine's time; None when no engine answered."""
        return None if self.upstream_s is None else max(self.request_s - self.upstream_s, 0.0)


def parse(raw: bytes) -> Request:
    """Raises Unreadable for anything that is not one of the gateway's lines."""
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        raise Unreadable(f"not JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise Unreadable("not a JSON object")
    try:
        moment = dt.datetime.fromisoformat(str(entry["time"]))
    except (KeyError, ValueError):
        raise Unreadable(f"bad time {entry.get('time')!r}") from None
    if moment.tzinfo is None:
        raise Unreadable(f"time without an offset {entry['time']!r}")
    request_id = _text(entry, "request_id")
    if not request_id:
        raise Unreadable("no request_id")
    return Request(
        time=moment,
        request_id=request_id,
        tenant=_text(entry, "tenant"),
        role=_text(entry, "role"),
        model=_text(entry, "model"),
        variant=_text(entry, "variant"),
        route=_text(entry, "route"),
        picked=_text(entry, "picked"),
        path=_text(entry, "path"),
        status=_number(entry, "status", int) or 0,
        cache=_text(entry, "cache"),
        prompt_tokens=_number(entry, "prompt_tokens", int),
        completion_tokens=_number(entry, "completion_tokens", int),
        request_s=_number(entry, "request_s", float) or 0.0,
        upstream_s=_number(entry, "upstream_s", float),
        quota=_text(entry, contract.LOG_QUOTA_FIELD),
    )


def _text(entry: dict, key: str) -> str:
    """A missing field (an older log format) or JSON null is ''; nginx logs an unset variable as ''."""
    value = entry.get(key)
    return "" if value is None else str(value)


def _number(entry: dict, key: str, kind: type) -> int | float | None:
    value = entry.get(key)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise Unreadable(f"{key} is not a number: {value!r}") from None


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else UNKNOWN


@dataclass(frozen=True)
class Labels:
    """Label values only from the configuration: a tenant or model it does not name is "-"."""

    tenants: frozenset[str]
    models: dict[str, str]
    """Served name -> hx.yaml name."""

    def tenant(self, r: Request) -> str:
        return r.tenant if r.tenant in self.tenants else UNKNOWN

    def model(self, r: Request) -> str:
        return self.models.get(r.variant) or self.models.get(r.model) or UNKNOWN

    def served(self, r: Request) -> str:
        return r.served_name if r.served_name in self.models else UNKNOWN


def row(r: Request, labels: Labels) -> tuple:
    """The values of contract.COLUMNS, in order. model_name is '' when the model is not configured."""
    model_name = labels.model(r)
    return (
        r.time,
        r.request_id,
        r.tenant,
        r.role,
        r.model,
        r.variant,
        "" if model_name == UNKNOWN else model_name,
        r.path,
        r.status,
        r.cache,
        r.prompt_tokens,
        r.completion_tokens,
        r.request_s,
        r.upstream_s,
    )
