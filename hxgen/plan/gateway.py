"""The gateway's policy, resolved from the spec: who may call what, where each name goes.

nginx.conf, the njs configuration module and openapi.json are all rendered from this one
GatewayPlan, so the access rules the gateway enforces and the ones it documents never differ.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import layout
from ..contracts import control as control_contract
from ..spec import Spec
from ..spec.gateway import ALL_MODELS

if TYPE_CHECKING:
    from . import ModelService
    from .control import ControlPlan
    from .probes import ProbePlan
    from .usage import UsagePlan

# What each role may do. Endpoints below name the permission they need. "usage" is a tenant's
# own usage and feedback on its own requests: only roles that may infer have any to meter.
# "all_usage" is every tenant's usage, for those who watch the host.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "admin": ("models", "inference", "usage", "status", "metrics", "all_usage"),
    "operator": ("models", "status", "metrics", "all_usage"),
    "user": ("models", "inference", "usage"),
    "readonly": ("models",),
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """Below the API version prefix (e.g. chat/completions), or absolute for admin paths."""
    permission: str
    summary: str
    task: str | None = None
    """The model task the endpoint needs (generate or embed), for inference endpoints."""
    service: str | None = None
    """"usage": answered by hx-usage behind the gateway, and served only when usage accounting runs."""


API_ENDPOINTS = (
    Endpoint("GET", "models", "models", "List the models and route aliases this key may use."),
    Endpoint("GET", "models/{model}", "models", "Describe one model or route alias."),
    Endpoint("POST", "chat/completions", "inference", "Chat completion, streamed or not.", "generate"),
    Endpoint("POST", "completions", "inference", "Text completion, streamed or not.", "generate"),
    Endpoint("POST", "embeddings", "inference", "Embeddings of one or more inputs.", "embed"),
    Endpoint(
        "GET", "usage", "usage", "The caller's tokens today, against its daily quota, and per model.", service="usage"
    ),  # fmt: skip
    Endpoint("POST", "feedback", "usage", "Rate one of the caller's own requests (1 to 5).", service="usage"),
)
ADMIN_ENDPOINTS = (
    Endpoint("GET", "/admin/status", "status", "Health of every engine and the gateway's connection counts."),
    Endpoint("GET", "/admin/models/{model}/metrics", "metrics", "The engine's Prometheus metrics, as it serves them."),
    Endpoint(
        "GET",
        "/admin/usage",
        "all_usage",
        "Every tenant's tokens today, against its quota, and per model.",
        service="usage",
    ),  # fmt: skip
)


@dataclass(frozen=True)
class ErrorPage:
    """An error nginx itself raises (before or instead of njs), answered in OpenAI's format."""

    status: int
    type: str
    code: str
    message: str
    retry_after_s: int | None = None
    answer: int | None = None
    """Status sent when it differs from the one nginx raised (its own 49x codes are not HTTP)."""

    @property
    def sent(self) -> int:
        return self.answer or self.status


ERROR_PAGES = (
    ErrorPage(400, "invalid_request_error", "bad_request", "the request is malformed"),
    ErrorPage(403, "permission_error", "forbidden", "access to this path is forbidden"),
    ErrorPage(404, "invalid_request_error", "unknown_path", "unknown path; the API is served under /v1/"),
    ErrorPage(405, "invalid_request_error", "method_not_allowed", "method not allowed on this path"),
    ErrorPage(408, "invalid_request_error", "request_timeout", "the request was not received in time"),
    ErrorPage(413, "invalid_request_error", "request_too_large", "the request body is larger than the gateway accepts"),
    ErrorPage(414, "invalid_request_error", "uri_too_long", "the request URI is too long"),
    ErrorPage(429, "rate_limit_error", "rate_limit_exceeded", "too many requests", retry_after_s=1),
    ErrorPage(494, "invalid_request_error", "headers_too_large", "the request headers are too large", answer=400),
    ErrorPage(
        495,
        "authentication_error",
        "invalid_client_certificate",
        "the client certificate could not be verified",
        answer=400,
    ),
    ErrorPage(500, "server_error", "internal_error", "the gateway failed to handle the request"),
    ErrorPage(502, "server_error", "upstream_unavailable", "the model server is not reachable", retry_after_s=5),
    ErrorPage(503, "server_error", "upstream_unavailable", "the model server is unavailable", retry_after_s=5),
    ErrorPage(504, "server_error", "upstream_timeout", "the model server did not answer in time"),
)


@dataclass(frozen=True)
class GatewayModel:
    name: str
    served_name: str
    task: str
    port: int
    max_model_len: int
    max_concurrent_requests: int
    upstream: str
    """nginx upstream block and the prefix of the model's named locations."""
    protocol: str = "http"
    """http, or grpc: reached only through the gateway's gRPC listener (GatewayGrpc)."""
    grpc_port: int | None = None
    """The engine's gRPC port (protocol grpc)."""
    version: str = "1"
    """models[].version: answered in X-HX-Variant-Version."""

    @property
    def grpc_upstream(self) -> str:
        return self.upstream.replace("hx_model_", "hx_grpc_", 1)


@dataclass(frozen=True)
class RateTier:
    name: str
    rate: str
    """nginx's form: 20r/s, or r/m below one request per second."""
    burst: int
    zone: str


@dataclass(frozen=True)
class UpstreamServer:
    port: int
    backup: bool


@dataclass(frozen=True)
class RouteUpstream:
    """One variant of a route, tried first, with the route's other variants as backups: a request
    that fails before any byte of the response is retried once on another variant, and a
    variant that failed is skipped for a while (nginx's passive health checks)."""

    name: str
    alias: str
    variant: str
    """Served name of the variant tried first."""
    servers: tuple[UpstreamServer, ...]


# Requests without valid credentials, counted per client address before anything else is done
# for them: they are answered 401 without their body being read, and a flood of them 429.
UNAUTHENTICATED_RATE = "10r/s"
UNAUTHENTICATED_BURST = 20
UNAUTHENTICATED_BODY_LIMIT_KB = 64
# Passive health of a route's variants: one failure takes a variant out of its route for this long.
ROUTE_MAX_FAILS = 1
ROUTE_FAIL_TIMEOUT_S = 10
ROUTE_TRIES = 2


@dataclass(frozen=True)
class ApiVersionPlan:
    name: str
    status: str
    deprecation: str | None
    """Deprecation header (RFC 9745): @ followed by a Unix time."""
    sunset: str | None
    """Sunset header (RFC 8594): an HTTP date."""
    sunset_epoch: int | None


@dataclass(frozen=True)
class GatewayListen:
    address: str
    http_port: int
    https_port: int


@dataclass(frozen=True)
class GatewayTls:
    mode: str
    """internal-ca, provided, or off."""
    cert_file: str
    """The provided certificate, or where the gateway role puts the one it makes."""
    key_file: str
    client_ca_file: str | None
    min_version: str
    hsts_max_age_s: int


@dataclass(frozen=True)
class GatewayCache:
    size_mb: int
    ttl_s: int
    max_entry_kb: int


@dataclass(frozen=True)
class GatewayTimeouts:
    connect_s: float
    read_s: float
    client_body_s: float


@dataclass(frozen=True)
class GatewayUsage:
    """hx-usage as the gateway sees it: where the usage endpoints go, where the quota state is."""

    port: int
    """hx-usage's loopback port."""
    quota_dir: str
    """<tenant>.json per tenant with a quota (hxgen.contracts.usage), read on its inference requests."""


@dataclass(frozen=True)
class GatewayControl:
    """hx-control as the gateway sees it: where its locations go, and the state files it writes
    (hxgen.contracts.control), which nginx reads at every (re)load."""

    port: int
    """hx-control's loopback port."""
    state_dir: str
    """Where hx-control writes both files; the gateway role creates it and seeds them once."""
    keys_map: str
    """nginx map entries of hx-control's keys, included beside the gateway role's api-keys.map."""
    route_weights: str
    """The live split of every route, preloaded for njs as hx_weights."""


# The operator page's login form is reachable without credentials: limited per client address.
UI_LOGIN_RATE = "5r/s"
UI_LOGIN_BURST = 10


@dataclass(frozen=True)
class GatewayGrpc:
    """The gateway's HTTP/2 listener for gRPC clients: the same keys (authorization metadata),
    roles, tenants' models, tiers and access log as the HTTP API; the model is named by the
    metadata header GRPC_MODEL_HEADER, since nginx cannot read the protobuf body."""

    port: int


# gRPC metadata naming the model a call is for (served name), and the permission a call needs.
GRPC_MODEL_HEADER = "x-hx-model"
GRPC_PERMISSION = "inference"


@dataclass(frozen=True)
class GatewayPlan:
    host: str
    """Where nginx runs."""
    server_name: str
    """The name clients use: the spec's server_name, or the host's name."""
    listen: GatewayListen
    tls: GatewayTls
    cache: GatewayCache | None
    """None when the response cache is off."""
    timeouts: GatewayTimeouts
    body_limit_mb: float
    access_log: str
    models: tuple[GatewayModel, ...]
    tiers: tuple[RateTier, ...]
    versions: tuple[ApiVersionPlan, ...]
    tenants: dict[str, dict]
    routes: dict[str, dict]
    route_upstreams: tuple[RouteUpstream, ...]
    cache_enabled: bool
    cache_max_entry_bytes: int
    usage: GatewayUsage | None = None
    """None without usage accounting: no quotas, no usage endpoints."""
    control: GatewayControl | None = None
    """None without hx-control: no /admin/api, /admin/graphql, /admin/ui; keys and weights from the spec only."""
    grpc: GatewayGrpc | None = None
    """None when gateway.grpc.enabled is false."""

    @property
    def grpc_models(self) -> tuple[GatewayModel, ...]:
        return tuple(m for m in self.models if m.protocol == "grpc")

    @property
    def api_endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints served below each API version; the usage ones only with hx-usage."""
        return tuple(e for e in API_ENDPOINTS if e.service is None or self.usage is not None)

    @property
    def admin_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in ADMIN_ENDPOINTS if e.service is None or self.usage is not None)

    @property
    def routes_resize(self) -> bool:
        """Some route's alias is longer than a variant's name: its responses need a new length."""
        return any(route["resizes"] for route in self.routes.values())

    def njs_config(self) -> dict:
        """The data the njs handler decides with; serialised into hx_config.json."""
        return {
            "permissions": {role: list(perms) for role, perms in PERMISSIONS.items()},
            "endpoints": {
                f"{e.method} {e.path}": {"permission": e.permission, "task": e.task, "service": e.service}
                for e in self.api_endpoints + self.admin_endpoints
            },
            "versions": {
                v.name: {
                    "status": v.status,
                    "deprecation": v.deprecation,
                    "sunset": v.sunset,
                    "sunset_epoch": v.sunset_epoch,
                }
                for v in self.versions
            },
            "tenants": self.tenants,
            "client_certificates": {
                t["client_cert_cn"]: name for name, t in self.tenants.items() if t.get("client_cert_cn")
            },
            "models": {
                m.served_name: {
                    "name": m.name,
                    "version": m.version,
                    "task": m.task,
                    "max_model_len": m.max_model_len,
                    "location": m.upstream,
                    # The named location of a model served over gRPC; null for the HTTP API's.
                    "grpc_location": m.grpc_upstream if m.protocol == "grpc" else None,
                }
                for m in self.models
            },
            "routes": self.routes,
            "cache": self.cache_enabled,
            "cache_max_entry_bytes": self.cache_max_entry_bytes,
            "quota_dir": self.usage.quota_dir if self.usage else None,
            # With hx-control, keys may expire at a time and routes draw from hx_weights (njs).
            "control": {
                "ui_prefix": control_contract.UI_PREFIX,
                "ui_cookie": control_contract.UI_COOKIE,
                "certificate_key_id": control_contract.CERTIFICATE_KEY_ID,
            }
            if self.control
            else None,
            "grpc": {"model_header": GRPC_MODEL_HEADER, "permission": GRPC_PERMISSION} if self.grpc else None,
        }


def build_gateway_plan(
    spec: Spec,
    models: tuple[ModelService, ...],
    probe: ProbePlan | None = None,
    usage: UsagePlan | None = None,
    control: ControlPlan | None = None,
) -> GatewayPlan:
    """usage: the usage plan when hx-usage runs; its quotas are what the gateway enforces.
    control: the control plan when hx-control runs; its state files are what the gateway reads."""
    g = spec.gateway
    quotas = usage.quotas if usage else {}
    by_name = {m.name: m for m in spec.models}
    served = {m.name: m.public_name for m in spec.models}
    ports = {m.served_name: m.port for m in models}
    route_upstreams = tuple(
        _route_upstreams(i, r.alias, _variants(r.split, served, every=control is not None), ports)
        for i, r in enumerate(g.routes)
    )
    return GatewayPlan(
        **_serving(spec),
        models=tuple(
            GatewayModel(
                name=m.name,
                served_name=m.served_name,
                task=m.task,
                port=m.port,
                max_model_len=by_name[m.name].max_model_len,
                max_concurrent_requests=m.max_concurrent_requests,
                upstream=upstream_name(m.name),
                protocol=m.protocol,
                grpc_port=m.grpc_port,
                version=m.version,
            )
            for m in models
        ),
        tiers=tuple(
            RateTier(t.name, nginx_rate(t.requests_per_second), t.burst, "hx_tier_" + _ident(t.name))
            for t in g.rate_limit_tiers
        ),
        versions=tuple(_version(v) for v in g.api_versions),
        tenants={
            t.name: {
                "role": t.role,
                "tier": t.tier,
                # The spec may name a model by its hx name; clients send the served name.
                "models": ALL_MODELS if ALL_MODELS in t.models else sorted({served.get(n, n) for n in t.models}),
                "client_cert_cn": t.client_cert_cn,
                # Only hx-usage counts tokens: without it there is nothing to enforce against.
                "daily_tokens": quotas.get(t.name),
            }
            for t in g.tenants
        }
        | ({layout.PROBE_TENANT: probe.tenant} if probe and probe.tenant else {}),
        routes={
            r.alias: {
                "sticky": r.sticky,
                "split": _cumulative(r.split, served),
                "upstreams": {u.variant: u.name for u in ups},
                "resizes": any(len(r.alias) > len(u.variant) for u in ups),
            }
            for r, ups in zip(g.routes, route_upstreams, strict=True)
        },
        route_upstreams=tuple(u for ups in route_upstreams for u in ups),
        cache_enabled=g.cache.enabled,
        cache_max_entry_bytes=g.cache.max_entry_kb * 1024,
        usage=GatewayUsage(usage.port, usage.quota_dir) if usage else None,
        control=GatewayControl(control.port, control.gateway_state_dir, control.keys_map, control.route_weights_file)
        if control
        else None,
        grpc=GatewayGrpc(g.grpc.port) if g.grpc.enabled else None,
    )


def _serving(spec: Spec) -> dict:
    """Where and how nginx listens: the GatewayPlan fields read by nginx.conf and the inventory."""
    g = spec.gateway
    tls = GatewayTls(
        mode=g.tls.mode,
        cert_file=g.tls.cert_file or layout.GATEWAY_CERT,
        key_file=g.tls.key_file or layout.GATEWAY_KEY,
        client_ca_file=g.tls.client_ca_file,
        min_version=g.tls.min_version,
        hsts_max_age_s=g.tls.hsts_max_age_s,
    )
    c, t = g.cache, g.timeouts
    return {
        "host": spec.host.name,
        "server_name": g.server_name or spec.host.name,
        "listen": GatewayListen(g.listen.address, g.listen.http_port, g.listen.https_port),
        "tls": tls,
        "cache": GatewayCache(c.size_mb, c.ttl_s, c.max_entry_kb) if c.enabled else None,
        "timeouts": GatewayTimeouts(t.connect_s, t.read_s, t.client_body_s),
        "body_limit_mb": g.body_limit_mb,
        "access_log": layout.gateway_access_log(spec.host.storage.logs_dir),
    }


def _route_upstreams(index: int, alias: str, variants: list[str], ports: dict[str, int]) -> tuple[RouteUpstream, ...]:
    # Numbered, not named after the alias: two aliases may differ only in characters nginx's
    # names do not allow.
    return tuple(
        RouteUpstream(
            name=f"hx_route{index}_v{j}",
            alias=alias,
            variant=first,
            servers=tuple(
                UpstreamServer(ports[v], backup=v != first) for v in [first, *(v for v in variants if v != first)]
            ),
        )
        for j, first in enumerate(variants)
    )


def upstream_name(model_name: str) -> str:
    return "hx_model_" + _ident(model_name)


def nginx_rate(per_second: float) -> str:
    """nginx counts whole requests per second or per minute."""
    if per_second >= 1 and float(per_second).is_integer():
        return f"{int(per_second)}r/s"
    return f"{max(1, round(per_second * 60))}r/m"


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _variants(split, served: dict[str, str], every: bool) -> list[str]:
    """The served names a route may send to. every: hx-control may give a variant of weight 0 in the
    spec a share, so each variant of the split needs its upstream."""
    if every:
        return [served.get(t.model, t.model) for t in split]
    return [v for v, _ in _cumulative(split, served)]


def _cumulative(split, served: dict[str, str]) -> list[list]:
    """[[served name, upper bound of its share in 0..100), ...]: the handler draws a number
    below 100 and takes the first variant whose bound is above it."""
    bounds, total = [], 0
    for target in split:
        if target.weight == 0:
            continue
        total += target.weight
        bounds.append([served.get(target.model, target.model), total])
    return bounds


def _version(v) -> ApiVersionPlan:
    def epoch(day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())

    return ApiVersionPlan(
        name=v.name,
        status=v.status,
        deprecation=f"@{epoch(v.deprecated_on)}" if v.deprecated_on else None,
        sunset=_http_date(v.sunset_on) if v.sunset_on else None,
        sunset_epoch=epoch(v.sunset_on) if v.sunset_on else None,
    )


def _http_date(day: dt.date) -> str:
    # Not strftime: its day and month names follow the locale.
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[day.month - 1]
    return f"{weekday}, {day.day:02d} {month} {day.year} 00:00:00 GMT"


__all__ = [
    "ADMIN_ENDPOINTS",
    "API_ENDPOINTS",
    "ERROR_PAGES",
    "PERMISSIONS",
    "GatewayControl",
    "GatewayGrpc",
    "GatewayPlan",
    "GatewayUsage",
    "build_gateway_plan",
]
