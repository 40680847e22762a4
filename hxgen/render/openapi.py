"""openapi.json: the gateway's surface as OpenAPI 3.1, served at /openapi.json.

Built from the same endpoint and role tables the njs handler enforces (plan.gateway), so the
document cannot promise what the gateway refuses.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..contracts import control as control_contract
from ..contracts import usage as usage_contract
from ..plan import Plan
from ..plan.gateway import ERROR_PAGES, PERMISSIONS, Endpoint
from .json_emitter import json_text

ERROR_REF = {"$ref": "#/components/responses/Error"}
ERRORS = {
    "400": "Malformed JSON, a missing model, or a model on the wrong endpoint.",
    "401": "Missing, invalid or expired API key.",
    "403": "The role may not call this endpoint, or the tenant may not use this model.",
    "404": "Unknown model or path.",
    "413": "The request body is larger than the gateway accepts.",
    "429": "The tier's rate limit, the model's concurrency cap, or the tenant's daily token quota "
    "(quota_exceeded); see Retry-After.",
    "502": "The model server is down; see Retry-After.",
    "504": "The model server did not answer in time.",
}


# hx-control publishes its own document (generated from its routes, drift-tested beside them); the
# gateway points at it instead of copying paths that would then have two owners.
_CONTROL_NOTE = (
    f" The management API (hx-control) is at {control_contract.API_PREFIX}/v1/ and {control_contract.GRAPHQL_PATH}, "
    f"behind the same keys, with its own OpenAPI document at {control_contract.API_PREFIX}/openapi.json; "
    f"the operator's page is at {control_contract.UI_PREFIX}/."
)


def document_text(plan: Plan) -> str:
    return json_text(document(plan), sort_keys=True)


def document(plan: Plan) -> dict[str, Any]:
    gateway = plan.gateway
    callable_names = sorted([m.served_name for m in gateway.models] + list(gateway.routes))
    paths: dict[str, Any] = {}
    for version in gateway.versions:
        for endpoint in gateway.api_endpoints:
            operation = _operation(endpoint, callable_names, deprecated=version.status == "deprecated")
            paths.setdefault(f"/{version.name}/{endpoint.path}", {})[endpoint.method.lower()] = operation
    for endpoint in gateway.admin_endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, callable_names, False)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"hx gateway ({gateway.server_name})",
            "version": __version__,
            "description": "OpenAI-compatible API of every model on this host. Authenticate with "
            "'Authorization: Bearer <key>' (keys come from `hxgen keys create`). Errors are OpenAI-style "
            "JSON. Responses carry X-HX-Variant (the model that served), X-HX-Cache (HIT, MISS or BYPASS) "
            "and X-Request-ID; deprecated API versions carry Deprecation and Sunset. Inference answers to a "
            f"tenant with a daily token quota carry {usage_contract.HEADER_QUOTA_LIMIT}, "
            f"{usage_contract.HEADER_QUOTA_REMAINING} and {usage_contract.HEADER_QUOTA_RESET} (seconds)."
            + (_CONTROL_NOTE if gateway.control else ""),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _error_schema()} | (_usage_schemas() if gateway.usage else {}),
            "responses": {
                "Error": {
                    "description": "An OpenAI-style error.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
        "security": [{"apiKey": []}],
    }


def _operation(endpoint: Endpoint, callable_names: list[str], deprecated: bool) -> dict[str, Any]:
    roles = sorted(role for role, perms in PERMISSIONS.items() if endpoint.permission in perms)
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "description": f"Roles: {', '.join(roles)}.",
        "x-hx-roles": roles,
        "responses": {"200": {"description": "As the OpenAI API answers."}, **dict.fromkeys(ERRORS, ERROR_REF)},
    }
    if endpoint.service == "usage":
        return operation | _usage_operation(endpoint) | ({"deprecated": True} if deprecated else {})
    if deprecated:
        operation["deprecated"] = True
    if "{model}" in endpoint.path:
        operation["parameters"] = [
            {"name": "model", "in": "path", "required": True, "schema": {"type": "string", "enum": callable_names}}
        ]
    if endpoint.method == "POST":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["model"],
                        "properties": {
                            "model": {"type": "string", "enum": callable_names},
                            "stream": {"type": "boolean", "description": "Server-sent events; never cached."},
                            "temperature": {"type": "number", "description": "0 makes the response cacheable."},
                        },
                        "additionalProperties": True,
                    }
                }
            },
        }
    return operation


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string", "enum": sorted({e.type for e in ERROR_PAGES})},
                    "code": {"type": "string"},
                },
            }
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _usage_operation(endpoint: Endpoint) -> dict[str, Any]:
    """The responses and body of an endpoint hx-usage answers (hxgen.contracts.usage)."""
    errors = dict.fromkeys(("401", "403", "429"), ERROR_REF) | {
        "503": _json(_ref("Error"), "The usage service is down (upstream_unavailable); see Retry-After.")
    }
    if endpoint.path == "feedback":
        return {
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Feedback")}}},
            "responses": {
                "201": _json(_ref("FeedbackStored"), "The rating is stored on the request's row."),
                "400": _json(_ref("Error"), "The body is not a valid rating."),
                "404": _json(_ref("Error"), "No request of the caller has this id."),
            }
            | errors,
        }
    schema = "AllUsage" if endpoint.path == usage_contract.ADMIN_USAGE_PATH else "TenantUsage"
    return {"responses": {"200": _json(_ref(schema), "Today's usage, in the quota day of usage.time_zone.")} | errors}


def _usage_schemas() -> dict[str, Any]:
    integer = {"type": "integer", "minimum": 0}
    quota = {
        "type": ["object", "null"],
        "description": "null when the tenant has no daily token quota.",
        "required": ["limit_tokens", "used_tokens", "remaining_tokens", "resets_at", "reset_in_s"],
        "properties": {
            "limit_tokens": integer,
            "used_tokens": integer,
            "remaining_tokens": integer,
            "resets_at": {"type": "integer", "description": "Unix time at which the quota day resets."},
            "reset_in_s": integer,
        },
    }
    models = {
        "type": "object",
        "description": "Per served model name.",
        "additionalProperties": {
            "type": "object",
            "required": ["requests", "prompt_tokens", "completion_tokens"],
            "properties": {"requests": integer, "prompt_tokens": integer, "completion_tokens": integer},
        },
    }
    day = {"type": "string", "format": "date"}
    usage = {"type": "object", "required": ["quota", "models"], "properties": {"quota": quota, "models": models}}
    return {
        "TenantUsage": {
            "type": "object",
            "required": ["tenant", "day", "time_zone", "quota", "models"],
            "properties": {"tenant": {"type": "string"}, "day": day, "time_zone": {"type": "string"}}
            | usage["properties"],
        },
        "AllUsage": {
            "type": "object",
            "required": ["day", "time_zone", "tenants"],
            "properties": {
                "day": day,
                "time_zone": {"type": "string"},
                "tenants": {"type": "object", "additionalProperties": usage},
            },
        },
        "Feedback": {
            "type": "object",
            "required": ["request_id", "rating"],
            "properties": {
                "request_id": {"type": "string", "description": "The X-Request-ID of one of the caller's requests."},
                "rating": {
                    "type": "integer",
                    "minimum": usage_contract.RATING_MIN,
                    "maximum": usage_contract.RATING_MAX,
                },
                "comment": {"type": "string", "maxLength": usage_contract.FEEDBACK_COMMENT_MAX_CHARS},
            },
        },
        "FeedbackStored": {
            "type": "object",
            "required": ["request_id", "rating"],
            "properties": {"request_id": {"type": "string"}, "rating": {"type": "integer"}},
        },
    }
