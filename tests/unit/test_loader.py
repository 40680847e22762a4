"""The loader reads YAML 1.2 and remembers where each key and value stands."""

from __future__ import annotations

import datetime as dt

import pytest

from hxgen.loader import SpecLoadError, load

TEXT = """\
version: hx/v1
host:
  name: h
  gpus:
    - {index: 0, model: X}
    - index: 1
flag: on
when: 2026-01-02
"""


def test_positions_of_keys_values_and_list_items():
    source = load(TEXT)
    assert source.key_positions[("host", "name")] == (3, 3)
    assert source.value_positions[("host", "name")] == (3, 9)
    assert source.value_positions[("host", "gpus", 1)] == (6, 7)
    assert source.key_positions[("host", "gpus", 1, "index")] == (6, 7)


def test_locate_falls_back_to_the_nearest_spelled_out_ancestor():
    source = load(TEXT)
    # host.storage is not in the file: point at `host:` itself.
    assert source.locate(("host", "storage", "models_dir")) == (2, 1)
    assert source.locate(()) == (1, 1)


def test_yaml_1_2_semantics_and_plain_types():
    data = load(TEXT).data
    assert data["flag"] == "on"  # YAML 1.1 would have made this True
    assert data["when"] == dt.date(2026, 1, 2)
    assert type(data["host"]["gpus"][1]["index"]) is int
    assert type(data["host"]) is dict and type(data["host"]["gpus"]) is list


def test_true_and_false_become_bool():
    assert load("a: true\nb: false\n").data == {"a": True, "b": False}


def test_duplicate_key_is_a_diagnostic_with_position():
    with pytest.raises(SpecLoadError) as info:
        load("version: hx/v1\nhost: {}\nhost: {}\n")
    assert info.value.diagnostic.code == "duplicate-key"
    assert info.value.position[0] == 3


def test_syntax_error_is_a_diagnostic_with_position():
    with pytest.raises(SpecLoadError) as info:
        load("version: hx/v1\nhost:\n  name: [unclosed\n")
    assert info.value.diagnostic.code == "yaml-syntax"
    assert info.value.position[0] >= 3
