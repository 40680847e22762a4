"""The JSON Schema of hx.yaml, for editors (yaml-language-server) and reviewers."""

from __future__ import annotations

import json

from .spec import SPEC_VERSION, Spec

SCHEMA_PATH = "schemas/hx.schema.json"


def schema_text() -> str:
    schema = Spec.model_json_schema(mode="validation")
    schema |= {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"hx spec ({SPEC_VERSION})"}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
