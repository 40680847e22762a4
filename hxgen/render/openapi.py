"""openapi.json: the gateway's surface as OpenAPI 3.1, served at /openapi.json.

Built from the same endpoint and role tables the njs handler enforces (plan.gateway), so the
document cannot promise what the gateway refuses.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..plan import Plan
from ..plan.gateway import ADMIN_ENDPOINTS, API_ENDPOINTS, ERROR_PAGES, PERMISSIONS, Endpoint
from .json_emitter import json_text

ERROR_REF = {"$ref": "#/components/responses/Error"}
ERRORS = {
    "400": "Malformed JSON, a missing model, or a model on the wrong endpoint.",
    "401": "Missing, invalid or expired API key.",
    "403": "The role may not call this endpoint, or the tenant may not use this model.",
    "404": "Unknown model or path.",
    "413": "The request body is larger than the gateway accepts.",
    "429": "The tier's rate limit or the model's concurrency cap; see Retry-After.",
    "502": "The model server is down; see Retry-After.",
    "504": "The model server did not answer in time.",
}


def document_text(plan: Plan) -> str:
    return json_text(document(plan), sort_keys=True)


def document(plan: Plan) -> dict[str, Any]:
    gateway = plan.gateway
    callable_names = sorted([m.served_name for m in gateway.models] + list(gateway.routes))
    paths: dict[str, Any] = {}
    for version in gateway.versions:
        for endpoint in API_ENDPOINTS:
            operation = _operation(endpoint, callable_names, deprecated=version.status == "deprecated")
            paths.setdefault(f"/{version.name}/{endpoint.path}", {})[endpoint.method.lower()] = operation
    for endpoint in ADMIN_ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, callable_names, False)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"hx gateway ({gateway.server_name})",
            "version": __version__,
            "description": "OpenAI-compatible API of every model on this host. Authenticate with "
            "'Authorization: Bearer <key>' (keys come from `hxgen keys create`). Errors are OpenAI-style "
            "JSON. Responses carry X-HX-Variant (the model that served), X-HX-Cache (HIT, MISS or BYPASS) "
            "and X-Request-ID; deprecated API versions carry Deprecation and Sunset.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _error_schema()},
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
