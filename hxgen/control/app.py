"""The ASGI application: the REST router under API_PREFIX, the GraphQL router and the operator's
page (included below by their modules), and, outside the gateway's prefixes, GET /metrics for
Prometheus and GET /healthz for the role's health check (hx-control listens on loopback only)."""

from __future__ import annotations

import contextlib
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..contracts import control as contract
from ..contracts.control_config import ServiceConfig
from . import database, graphql, rest, rollout, ui
from .model import Control, ControlError, Unavailable
from .service import HostControl

REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hx_control_requests_total", "Requests by route and status.", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "hx_control_request_duration_seconds", "Time to answer, by route.", ["route"],
            buckets=REQUEST_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.mutations = Counter(
            "hx_control_mutations_total", "Committed changes, by audit action.", ["action"], registry=self.registry
        )
        for action in (contract.AUDIT_KEY_CREATED, contract.AUDIT_KEY_ROTATED, contract.AUDIT_KEY_REVOKED,
                       contract.AUDIT_KEYS_SYNCED, contract.AUDIT_ROUTE_WEIGHTS):  # fmt: skip
            self.mutations.labels(action)
        self._rollout_metrics()

    def _rollout_metrics(self) -> None:
        r = self.registry
        self.rollout_phase = Gauge(
            contract.ROLLOUT_PHASE_METRIC, "1 for the phase a route's canary rollout is in, 0 for the others.",
            ["route", "canary", "version", "phase"], registry=r,
        )  # fmt: skip
        self.rollout_weight = Gauge(
            contract.ROLLOUT_CANARY_WEIGHT_METRIC, "The canary's percent of the route's requests.", ["route", "canary"],
            registry=r,
        )  # fmt: skip
        self.rollout_step = Gauge("hx_control_rollout_step", "The rollout's step, from 1.", ["route"], registry=r)
        self.rollout_failed = Gauge(
            "hx_control_rollout_failed_checks", "Consecutive checks whose gate failed.", ["route"], registry=r
        )
        self.gate_errors = Counter(
            "hx_control_rollout_gate_errors_total", "Checks that could not ask Prometheus (neither pass nor fail).",
            ["route"], registry=r,
        )  # fmt: skip

    def refresh_rollouts(self, rollouts: list) -> None:
        """Set the rollout gauges from the database's rows (on each scrape), dropping gone routes."""
        for gauge in (self.rollout_phase, self.rollout_weight, self.rollout_step, self.rollout_failed):
            gauge.clear()
        for x in rollouts:
            for phase in rollout.PHASES:
                self.rollout_phase.labels(x.alias, x.canary, x.version, phase).set(1 if phase == x.phase else 0)
            self.rollout_weight.labels(x.alias, x.canary).set(x.canary_weight)
            self.rollout_step.labels(x.alias).set(x.step)
            self.rollout_failed.labels(x.alias).set(x.failed_checks)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def api() -> FastAPI:
    """The routers that make the published document, without a host behind them."""
    app = FastAPI(
        title="hx-control",
        version=contract.VERSION,
        description="The management API of an hx host: tenants, keys, models, routes, canary rollouts, usage, "
        "alerts and the audit log, behind the gateway's API keys and roles.",
        openapi_url=f"{contract.API_PREFIX}/openapi.json",
        docs_url=None,  # no Swagger UI: it loads its scripts from a CDN
        redoc_url=None,
    )
    app.include_router(rest.router)
    # GraphQL and the operator's page reach the host as the REST routes do, through
    # request.app.state.control; neither is part of the REST API's OpenAPI document.
    app.include_router(graphql.router())
    app.include_router(ui.router())
    _without_422(app)
    return app


def openapi_document() -> dict:
    return api().openapi()


def _without_422(app: FastAPI) -> None:
    """FastAPI documents its own 422 for a malformed request; hx-control answers those 400 with its
    error body (_handlers), so the document says that instead."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        return app.openapi_schema

    app.openapi = openapi


def create_app(config: ServiceConfig, control: Control | None = None) -> FastAPI:
    app = api()
    host = control or HostControl(config)
    metrics = Metrics()
    if isinstance(host, HostControl):
        host.on_mutation = lambda action: metrics.mutations.labels(action).inc()
    app.state.control = host
    app.state.config = config
    app.state.metrics = metrics
    _handlers(app)
    _service_routes(app, config, metrics)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return error_response(400, "invalid_request", problems)


def _service_routes(app: FastAPI, config: ServiceConfig, metrics: Metrics) -> None:
    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "(unmatched)")
        metrics.requests.labels(path, request.method, str(response.status_code)).inc()
        metrics.duration.labels(path).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        host = app.state.control
        if isinstance(host, HostControl) and any(r.canary for r in config.routes.values()):
            # PostgreSQL down: the last values stay, and /healthz says why
            with contextlib.suppress(Unavailable):
                metrics.refresh_rollouts(host.all_rollouts())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 when PostgreSQL answers, 503 (saying why) when it does not."""
        try:
            with database.reading(config) as conn:
                conn.execute("SELECT 1")
        except Unavailable as exc:
            return JSONResponse({"status": "unavailable", "database": exc.message}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})
