"""The gateway: nginx.conf, the data of the njs handler (hx_config.json), and openapi.json.

The handler itself is code, the same for every host: the gateway role ships it
(roles/gateway/files/hx_gateway.js). The role copies the three rendered files beside it
(nginx.conf to /etc/nginx, the rest to GATEWAY_CONF_DIR) and checks them with `nginx -t`.
"""

from __future__ import annotations

import json

from .. import layout
from ..contracts import control as control_contract
from ..contracts import usage as usage_contract
from ..plan import Plan
from ..plan import gateway as policy
from ..plan.gateway import ERROR_PAGES, ErrorPage, GatewayPlan
from . import openapi
from .common import RENDERED_DIR, Artifact, header, templates
from .json_emitter import json_text

NGINX_DIR = f"{RENDERED_DIR}/nginx"
# Written by the gateway role from gateway_nginx_user: nginx.conf's `user` directive.
NGINX_USER_FILE = f"{layout.GATEWAY_CONF_DIR}/nginx-user.conf"
JS_VARS = (
    "hx_tenant",
    "hx_role",
    "hx_tier",
    "hx_model",
    "hx_route",
    "hx_variant",
    "hx_variant_shown",
    "hx_variant_version",
    "hx_picked",
    "hx_upstream",
    "hx_body",
    "hx_cache_key",
    "hx_cache_bypass",
    "hx_deprecation",
    "hx_sunset",
    "hx_client_path",
    # The caller's daily token quota (response headers), "exceeded" on a refusal (access log),
    # and the Retry-After of that refusal.
    "hx_quota",
    "hx_quota_limit",
    "hx_quota_remaining",
    "hx_quota_reset",
    "hx_quota_retry_after",
    "hx_usage_path",
)


def render(plan: Plan) -> list[Artifact]:
    if plan.gateway is None:
        return []
    return [
        Artifact(f"{NGINX_DIR}/nginx.conf", _nginx_conf(plan, plan.gateway)),
        Artifact(f"{NGINX_DIR}/hx_config.json", _njs_config(plan, plan.gateway)),
        Artifact(f"{NGINX_DIR}/openapi.json", openapi.document_text(plan)),
    ]


def _njs_config(plan: Plan, gateway: GatewayPlan) -> str:
    # JSON has no comments: the header travels as data.
    data = {"generated_by": header(plan.spec_file, "").strip(), **gateway.njs_config()}
    return json_text(data, sort_keys=True)


def _error_body(page: ErrorPage) -> str:
    if page.status == 429:
        return "$hx_limit_error"  # says which limit: the tier's rate or the model's concurrency
    return _json_error(page.message, page.type, page.code)


def _json_error(message: str, type_: str, code: str) -> str:
    body = json.dumps({"error": {"message": message, "type": type_, "code": code}}, separators=(",", ":"))
    # nginx would read $ as a variable and ' as the end of the string.
    assert "$" not in body and "'" not in body, body
    return body


def _nginx_conf(plan: Plan, gateway: GatewayPlan) -> str:
    g = gateway
    tls = None
    if g.tls.mode != "off":
        tls = {
            "cert": g.tls.cert_file,
            "key": g.tls.key_file,
            "client_ca": g.tls.client_ca_file,
            "protocols": "TLSv1.3" if g.tls.min_version == "1.3" else "TLSv1.2 TLSv1.3",
            "hsts_max_age_s": g.tls.hsts_max_age_s,
        }
    cache = None
    if g.cache is not None:
        cache = {
            "dir": layout.GATEWAY_CACHE_DIR,
            "size_mb": g.cache.size_mb,
            "ttl_s": g.cache.ttl_s,
            # One megabyte of keys holds about 8000 entries (nginx docs).
            "keys_zone_mb": max(1, g.cache.size_mb // 64),
        }
    return (
        templates()
        .get_template("nginx.conf.j2")
        .render(
            header=header(plan.spec_file).rstrip("\n"),
            conf_dir=layout.GATEWAY_CONF_DIR,
            user_file=NGINX_USER_FILE,
            js_vars=JS_VARS,
            models=gateway.models,
            tiers=gateway.tiers,
            route_upstreams=gateway.route_upstreams,
            routes_resize=gateway.routes_resize,
            route={
                "max_fails": policy.ROUTE_MAX_FAILS,
                "fail_timeout_s": policy.ROUTE_FAIL_TIMEOUT_S,
                "tries": policy.ROUTE_TRIES,
            },
            unauthenticated={
                "rate": policy.UNAUTHENTICATED_RATE,
                "burst": policy.UNAUTHENTICATED_BURST,
                "body_limit_kb": policy.UNAUTHENTICATED_BODY_LIMIT_KB,
                "body_error": _json_error(
                    f"without valid credentials a request body may have at most "
                    f"{policy.UNAUTHENTICATED_BODY_LIMIT_KB} KB; send the API key",
                    "invalid_request_error",
                    "request_too_large",
                ),
            },
            versions=gateway.versions,
            api_locations=[(f"/{v.name}/", "api") for v in gateway.versions] + [("/admin/", "admin")],
            error_pages=[
                {"status": e.status, "sent": e.sent, "retry_after_s": e.retry_after_s, "body": _error_body(e)}
                for e in ERROR_PAGES
            ],
            cache=cache,
            listen=g.listen,
            https_suffix="" if g.listen.https_port == 443 else f":{g.listen.https_port}",
            server_name=g.server_name,
            tls=tls,
            timeouts=g.timeouts,
            body_limit_kb=round(g.body_limit_mb * 1024),
            access_log=g.access_log,
            pid_file=layout.NGINX_PID_FILE,
            bind=layout.ENGINE_BIND_ADDRESS,
            status_port=layout.NGINX_STATUS_PORT,
            quota={
                "log_field": usage_contract.LOG_QUOTA_FIELD,
                "limit_header": usage_contract.HEADER_QUOTA_LIMIT,
                "remaining_header": usage_contract.HEADER_QUOTA_REMAINING,
                "reset_header": usage_contract.HEADER_QUOTA_RESET,
            },
            usage=_usage(g),
            control=_control(g),
            grpc=_grpc(g),
        )
    )


# nginx's own refusals on the gRPC listener, as gRPC statuses (grpc/doc/statuscodes.md); njs
# answers its own refusals (hx.grpc) the same way.
GRPC_ERRORS = (
    (400, 3, "the request is malformed"),
    (413, 8, "the request is larger than the gateway accepts"),
    (429, 8, "rate limit exceeded"),
    (500, 13, "the gateway failed to handle the call"),
    (502, 14, "the model server is not reachable"),
    (503, 14, "the model server is unavailable"),
    (504, 4, "the model server did not answer in time"),
)


def _grpc(gateway: GatewayPlan) -> dict | None:
    if gateway.grpc is None:
        return None
    return {
        "port": gateway.grpc.port,
        "model_header": policy.GRPC_MODEL_HEADER,
        "models": gateway.grpc_models,
        "errors": [{"status": s, "grpc_status": g, "message": m} for s, g, m in GRPC_ERRORS],
    }


def _usage(gateway: GatewayPlan) -> dict | None:
    if gateway.usage is None:
        return None
    return {
        "port": gateway.usage.port,
        "unavailable_error": _json_error("the usage service is unavailable", "server_error", "upstream_unavailable"),
    }


def _control(gateway: GatewayPlan) -> dict | None:
    if gateway.control is None:
        return None
    c = gateway.control
    return {
        "port": c.port,
        "keys_map": c.keys_map,
        "route_weights": c.route_weights,
        "api_prefix": control_contract.API_PREFIX,
        "graphql_path": control_contract.GRAPHQL_PATH,
        "ui_prefix": control_contract.UI_PREFIX,
        "ui_cookie": control_contract.UI_COOKIE,
        "live_weights_path": control_contract.LIVE_WEIGHTS_PATH,
        "login": {"rate": policy.UI_LOGIN_RATE, "burst": policy.UI_LOGIN_BURST},
        "headers": {
            "tenant": control_contract.TENANT_HEADER,
            "role": control_contract.ROLE_HEADER,
            "key_id": control_contract.KEY_ID_HEADER,
        },
        "unavailable_error": _json_error("the control service is unavailable", "server_error", "upstream_unavailable"),
    }
