"""The YAML and JSON that renderers write: faster than before, byte for byte the same.

hx's committed renders and golden files were written by ruamel (`mapping=2, sequence=4,
offset=2`, width 4096, no aliases, YAML 1.2 scalars). yaml_text writes them with libyaml; these
tests compare the two on every shape of data, so that no render changes by a byte. JSON is
compared with json.dumps(indent=2) the same way.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hxgen.render import yaml_emitter
from hxgen.render.common import yaml_text
from hxgen.render.json_emitter import json_text
from hxgen.render.yaml_emitter import Literal


def fast(data) -> str:
    return yaml_text(data, "hx.yaml").split("---\n", 1)[1]


def ruamel(data) -> str:
    return yaml_emitter._ruamel_text(data)


def test_libyaml_is_the_emitter():
    assert yaml.__with_libyaml__  # PyPI's wheels bundle it; without it renders are ~5x slower


def test_promql_blocks_sequences_and_quotes_read_as_ruamel_wrote_them():
    data = {
        "groups": [
            {
                "name": "hx-slo",
                "interval": "10s",
                "rules": [
                    {"record": "hx:x", "expr": Literal("(\n  sum(rate(a[5m]))\n)\nor\n(\n  b\n)\n"), "labels": {}},
                    {"alert": "A", "for": "5m", "annotations": {"summary": "{{ $labels.model }}'s queue: full"}},
                ],
            }
        ],
        "empty": [],
        "values": [0.005, 1e-05, 14.4, 3, True, None, "on", "0755", "1:20", "", "it's", "é"],
    }
    text = fast(data)
    assert text == ruamel(data)
    assert "  - name: hx-slo\n" in text and "        expr: |\n          (\n" in text
    assert '"{{ $labels.model }}\'s queue: full"' in text


def test_shapes_libyaml_lays_out_differently_are_written_by_ruamel():
    for data in ({"a": [[1, 2], [3]]}, {"a": "😀"}, {"a\nb": 1}, {"a": Literal("x \n")}, {"a": Literal("\n")}):
        assert fast(data) == ruamel(data)


_WORDS = st.sampled_from(
    ["on", "yes", "0755", "1:20", "~", "null", "", "it's", "a: b", "x'y: z", "- a", "#c", "1e3", "0x1f", "0o17"]
    + ["2024-01-01", "=", "<<", "a\nb", " lead", "trail ", "\t", "é", "|", ">", "*a", "&a", "!x", "%", "@", "`"]
)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | _WORDS
_LINES = ["(", "  x > 0", "or", "sum(rate(a[5m]))", "", "  y", "x ", "\tz", "a: b", "# c", "é", "- d", "\x07", "\x85"]
_LITERAL = st.lists(st.sampled_from(_LINES), min_size=1, max_size=5).map(lambda lines: ("literal", "\n".join(lines)))
_SCALAR = _TEXT | _LITERAL | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
_DATA = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4))


def _literals(value):
    """Literal blocks, made here: hypothesis cannot draw a str subclass as a dict value."""
    if isinstance(value, tuple):
        return Literal(value[1] + "\n")
    if isinstance(value, dict):
        return {k: _literals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literals(v) for v in value]
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_TEXT, _DATA, min_size=1, max_size=5))
def test_any_data_is_written_byte_for_byte_as_ruamel_writes_it(data):
    data = _literals(data)
    assert fast(data) == ruamel(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT | st.integers(), inner, max_size=4),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON, st.booleans())
def test_any_json_is_written_byte_for_byte_as_json_dumps_writes_it(data, sort_keys):
    try:
        expected = json.dumps(data, indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"
    except TypeError:  # keys of mixed types cannot be sorted: json_text says so as json does
        with pytest.raises(TypeError):
            json_text(data, sort_keys)
        return
    assert json_text(data, sort_keys) == expected


def test_json_refuses_nan_as_json_dumps_does():
    with pytest.raises(ValueError):
        json_text({"a": [math.nan]})
