"""hx.yaml is read by libyaml where it holds nothing but what libyaml and ruamel read alike, and
by ruamel otherwise: the data, every position and every diagnostic stay ruamel's."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hxgen import loader

FILES = sorted(
    p
    for pattern in ("tests/data/**/*.yaml", "*.yaml", "sandbox/*.yaml", "molecule/**/*.yaml", "benchmarks/**/*.yaml")
    for p in ROOT.glob(pattern)
)


def _typed(value):
    """Data with each scalar's type, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _read(source: loader.Source) -> tuple:
    return _typed(source.data), source.key_positions, source.value_positions, source.collections


def _agree(text: str) -> bool:
    """The fast reading, where there is one, is ruamel's; True when there was one."""
    fast = loader._fast_load(text, "hx.yaml")
    try:
        reference = loader._ruamel_load(text, "hx.yaml")
    except Exception:  # noqa: BLE001 - a diagnostic, or ruamel's own failure on odd text
        assert fast is None, "libyaml read a file that ruamel rejects"
        return False
    if fast is None:
        return False
    assert _read(fast) == _read(reference)
    return True


def test_every_spec_in_the_repository_reads_as_ruamel_reads_it():
    fast = [path for path in FILES if _agree(path.read_text(encoding="utf-8", errors="replace"))]
    assert ROOT / "hx.yaml" in fast and ROOT / "sandbox/hx.yaml" in fast  # the fast path is taken


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1]\nb: *x\n",  # an alias
        "a: !!binary aGk=\n",
        "a: !custom 1\n",
        "base: &b {x: 1}\nc:\n  <<: *b\n",  # a merge key
        "a: 1\na: 2\n",  # a duplicate key
        "a:\nb: 1\n",  # an empty value
        "%YAML 1.1\n---\na: yes\n",
        "1: x\n",
        "a: 0x1f\nb: 1_000\nc: 1e3\nd: .inf\n",
        "a: 2026-01-01\n",
        "a: !!bool yes\n",
        "a:\n\tb: 1\n",
        "a: |#\n",  # a comment glued to a block scalar header: libyaml takes it, YAML 1.2 does not
        "a: >-1#\n",
    ],
)
def test_what_only_ruamel_reads_for_certain_is_read_by_ruamel(text):
    assert loader._fast_load(text, "hx.yaml") is None


_WORDS = st.sampled_from(
    ["a", "b:", " ", "- ", ": ", "'", '"', "#", "[", "]", "{", "}", ",", "\n", "  ", "1", "0.5", "true", "~", "|", ">"]
    + ["&x", "*x", "!!str", "?", "0o7", "é", "null", "-1", "1.", ".5", "+2", "yes", "%", "---", "..."]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WORDS, max_size=30).map("".join))
def test_any_text_reads_as_ruamel_reads_it(text):
    _agree(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_edited_specs_read_as_ruamel_reads_them(data):
    lines = (ROOT / "hx.yaml").read_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(lines) - 1))
        edit = data.draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "insert"]))
        if edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "indent":
            lines[at] = "  " + lines[at]
        elif edit == "dedent":
            lines[at] = lines[at][2:] if lines[at].startswith("  ") else lines[at]
        else:
            lines.insert(at, data.draw(st.lists(_WORDS, max_size=6).map("".join)) + "\n")
    _agree("".join(lines))


def test_a_spec_read_either_way_validates_alike():
    """Not only the same data: the same diagnostics, positions included, for a spec with errors."""
    from hxgen.pipeline import check_text

    text = Path(ROOT / "hx.yaml").read_text().replace("profile: gpu", "profile: gpux")
    assert loader._fast_load(text, "hx.yaml") is not None
    fast = check_text(text).diagnostics
    original = loader._fast_load
    try:
        loader._fast_load = lambda _text, _name: None
        assert check_text(text).diagnostics == fast
    finally:
        loader._fast_load = original
