"""The published GraphQL schema (hxgen/control/schema.graphql) is what the service serves, and its
limits are the contract's."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from hxgen.contracts import control as contract
from hxgen.control import graphql

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "hxgen/control/schema.graphql"
REGENERATE = "python -m hxgen.control.graphql > hxgen/control/schema.graphql"


def test_the_published_graphql_schema_is_what_the_service_serves():
    assert PUBLISHED.read_text() == graphql.schema_text(), f"the GraphQL API changed: regenerate with `{REGENERATE}`"


def test_every_operation_is_described():
    for kind in (graphql.Query, graphql.Mutation):
        for field in kind.__strawberry_definition__.fields:
            assert field.description, f"{kind.__name__}.{field.python_name}"


def test_the_depth_and_token_limits_are_the_contracts():
    depth = graphql.schema.execute_sync("{ " + "tenants { " * (contract.GRAPHQL_MAX_DEPTH + 2) + "}" * 11)
    assert any(f"exceeds maximum operation depth of {contract.GRAPHQL_MAX_DEPTH}" in e.message for e in depth.errors)
    long = graphql.schema.execute_sync("{ whoami { " + "tenant " * contract.GRAPHQL_MAX_TOKENS + "} }")
    assert [e.message for e in long.errors] == [
        f"Syntax Error: Document contains more than {contract.GRAPHQL_MAX_TOKENS} tokens. Parsing aborted."
    ]


def test_the_documents_in_the_docs_are_valid_against_the_schema():
    text = (ROOT / "docs/control.md").read_text()
    documents = re.findall(r'"query": "(.*?)"', text) + re.findall(r"```graphql\n(.*?)```", text, re.S)
    assert len(documents) >= 5
    for document in documents:
        assert validate(graphql.schema._schema, parse(document)) == [], document
