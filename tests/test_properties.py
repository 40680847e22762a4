"""Property-based tests: whatever the file holds, hxgen answers with diagnostics, never a traceback.

1. Valid specs (hx.yaml, sandbox/hx.yaml, tests/data/cases/*/hx.yaml), randomly broken a few
   places at a time, go through `check_text` and through `hxgen validate`: no exception escapes,
   every diagnostic points inside the file, the exit code is 1 exactly when there are errors,
   a report that skipped checks ends with a note saying so, and a spec that still passes also
   renders. Most broken specs keep some sections valid, so the cross-field checks run on
   partially valid specs here.
2. The same, with numeric fields set to extreme but often valid values, so that more specs
   pass validation and reach the renderers.
3. Arbitrary text, text made of YAML-ish fragments, and real specs with such fragments spliced
   in never crash `check_text`.

Runs are derandomized so CI sees the same examples every time. Inputs known to have crashed
hxgen are pinned with @example. To explore further once, scale the example counts and let a
seed choose them: `HX_PROPERTY_SCALE=10 pytest tests/test_properties.py --hypothesis-seed=7`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import re
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

from conftest import DATA, ROOT
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from hxgen.checks import run_section_checks
from hxgen.cli import main
from hxgen.loader import load
from hxgen.pipeline import Outcome, check_text, render_text
from hxgen.validation import (
    _model_at,  # follows the Spec annotations along a data path
    validate_sections,
)

SEED_FILES = [ROOT / "hx.yaml", ROOT / "sandbox" / "hx.yaml", *sorted((DATA / "cases").glob("*/hx.yaml"))]
SEED_TEXTS = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in SEED_FILES}
SEEDS = {name: YAML(typ="safe", pure=True).load(text) for name, text in SEED_TEXTS.items()}

# 1 in CI (the same examples every run); more to explore, with examples chosen by --hypothesis-seed.
SCALE = int(os.environ.get("HX_PROPERTY_SCALE", "1"))
PROPERTY_SETTINGS = settings(
    max_examples=200 * SCALE,
    deadline=None,
    derandomize=SCALE == 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Path_ = tuple[Any, ...]


# --- random values of every YAML type -------------------------------------------------------

SCALARS: dict[str, st.SearchStrategy] = {
    "none": st.none(),
    "bool": st.booleans(),
    "int": st.integers(min_value=0, max_value=70_000),
    "negative-int": st.integers(max_value=-1),
    "huge-int": st.integers(min_value=2**63, max_value=10**40),
    "float": st.floats(allow_nan=False, allow_infinity=True),
    "nan": st.just(math.nan),
    "string": st.text(max_size=20),
    "empty-string": st.just(""),
}
SMALL = st.one_of(st.none(), st.booleans(), st.integers(-5, 100), st.text(max_size=8))
VALUES: dict[str, st.SearchStrategy] = {
    **SCALARS,
    "list": st.lists(SMALL, max_size=3),
    "dict": st.dictionaries(st.text(min_size=1, max_size=8), SMALL, max_size=3),
}

# Values a numeric or boolean field accepts, extremes included.
PLAUSIBLE = st.one_of(st.booleans(), st.integers(1, 100), st.floats(min_value=1e-9, allow_infinity=True))


def _kind(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if 0 <= value <= 70_000 else ("negative-int" if value < 0 else "huge-int")
    if isinstance(value, float):
        return "nan" if math.isnan(value) else "float"
    if isinstance(value, str):
        return "string" if value else "empty-string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "other"  # dates


# --- mutations of plain data ------------------------------------------------------------------


def _nodes(data: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every node below the root with its path, depth first, in document order."""
    found: list[tuple[Path_, Any]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found.append(((*path, key), value))
        found.extend(_nodes(value, (*path, key)))
    return found


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _rename_one_char(draw, key: str) -> str:
    op = draw(st.sampled_from(["replace", "insert", "delete"] if key else ["insert"]))
    pos = draw(st.integers(0, len(key) - (op != "insert")))
    char = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_-0"))
    if op == "replace":
        return key[:pos] + char + key[pos + 1 :]
    if op == "insert":
        return key[:pos] + char + key[pos:]
    return key[:pos] + key[pos + 1 :]


UNKNOWN_KEYS = st.sampled_from(["gatway", "model", "modles", "extra", "x-defaults", "Version", "0"]) | st.text(
    min_size=1, max_size=10
)


def _tweak(draw, value: Any) -> Any:
    """Another value of the same type, often still valid: exercises the cross-field checks and rendering."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return draw(st.integers(0, 2 * abs(value) + 2))
    return draw(st.floats(0, 2 * abs(value) + 1, allow_nan=False))


def _mutate(draw, data: dict) -> str:
    """Apply one random mutation in place; return what it did (shown when a property fails)."""
    nodes = _nodes(data)
    dicts = [((), data)] + [(p, v) for p, v in nodes if isinstance(v, dict)]
    lists = [(p, v) for p, v in nodes if isinstance(v, list)]
    dict_entries = [p for p, _ in nodes if isinstance(_get(data, p[:-1]), dict)]
    numbers = [p for p, v in nodes if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
    strings = [p for p, v in nodes if isinstance(v, str)]
    kinds = ["delete", "replace", "insert-key", "rename-key", "tweak", "reuse-string", "set-field", "set-field"]
    kinds += ["duplicate-item", "truncate-list"] if lists else []
    kind = draw(st.sampled_from(kinds))

    if kind in ("delete", "replace"):
        path = draw(st.sampled_from([p for p, _ in nodes]))
        parent, last = _get(data, path[:-1]), path[-1]
        if kind == "delete":
            del parent[last]
            return f"delete {path}"
        current = _kind(parent[last])
        new_kind = draw(st.sampled_from([k for k in VALUES if k != current]))
        parent[last] = draw(VALUES[new_kind])
        return f"replace {path} with {parent[last]!r}"
    if kind == "tweak" and numbers:
        path = draw(st.sampled_from(numbers))
        parent, last = _get(data, path[:-1]), path[-1]
        parent[last] = _tweak(draw, parent[last])
        return f"tweak {path} to {parent[last]!r}"
    if kind == "reuse-string" and len(strings) > 1:
        path, other = draw(st.lists(st.sampled_from(strings), min_size=2, max_size=2, unique=True))
        _get(data, path[:-1])[path[-1]] = _get(data, other)
        return f"copy {other} into {path}"
    if kind == "set-field":
        # A key the schema knows at that place (often an optional one the seed leaves out).
        choices = [(p, v, m) for p, v in dicts if (m := _model_at(p)) is not None]
        path, target, model = draw(st.sampled_from(choices))
        key = draw(st.sampled_from(sorted(model.model_fields)))
        target[key] = draw(st.one_of(PLAUSIBLE, *VALUES.values()))
        return f"set {(*path, key)} to {target[key]!r}"
    if kind == "insert-key" or kind in ("tweak", "reuse-string"):
        path, target = draw(st.sampled_from(dicts))
        key = draw(UNKNOWN_KEYS)
        while key in target:
            key += "_"
        target[key] = draw(st.one_of(*VALUES.values()))
        return f"insert {key!r}: {target[key]!r} at {path}"
    if kind == "rename-key":
        path = draw(st.sampled_from(dict_entries))
        parent, old = _get(data, path[:-1]), path[-1]
        new = _rename_one_char(draw, old)
        if new in parent:
            return f"rename {path} skipped ({new!r} exists)"
        renamed = {(new if k == old else k): v for k, v in parent.items()}
        parent.clear()
        parent.update(renamed)
        return f"rename {path} to {new!r}"
    path, target = draw(st.sampled_from(lists))
    if kind == "truncate-list":
        target.clear()
        return f"truncate {path}"
    if not target:
        return f"duplicate in empty {path} skipped"
    index = draw(st.integers(0, len(target) - 1))
    target.insert(index, copy.deepcopy(target[index]))
    return f"duplicate {path}[{index}]"


def _yaml_text(data: Any, flow_style: bool | None = False) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow_style
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


@st.composite
def broken_specs(draw) -> tuple[str, list[str], str]:
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = copy.deepcopy(SEEDS[seed])
    done = [_mutate(draw, data) for _ in range(draw(st.integers(1, 3)))]
    return seed, done, _yaml_text(data, draw(st.sampled_from([False, None, True])))


# --- what must hold for any input ---------------------------------------------------------------


# The line breaks ruamel.yaml counts when it reports a position.
YAML_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _assert_well_located(outcome: Outcome, text: str, check_columns: bool = True) -> None:
    """1 <= line <= lines + 1, and (in files hxgen dumped) the column lies on that line.

    ruamel counts NEL and the Unicode line/paragraph separators as line breaks in some places
    and not in others, so columns are only checked in text without them (editors do not break
    lines there either, so such positions are approximate for users too).
    """
    check_columns = check_columns and not re.search("[\x85\u2028\u2029]", text)
    yaml_lines = YAML_LINE_BREAK.split(text)
    if yaml_lines and yaml_lines[-1] == "":
        yaml_lines.pop()
    line_count = max(len(text.splitlines()), len(yaml_lines))
    last = outcome.diagnostics[-1] if outcome.diagnostics else None
    notes = [d for d in outcome.diagnostics if d.diagnostic.severity == "note"]
    # A note is about the whole file (no position); there is at most one, and it ends the report.
    assert notes in ([], [last]), [d.format() for d in notes]
    assert all((d.line, d.column) == (0, 0) for d in notes)
    for d in outcome.diagnostics:
        if d in notes:
            continue
        shown = d.format()
        assert 1 <= d.line <= line_count + 1, shown
        assert d.column >= 1, shown
        if check_columns and d.line <= len(yaml_lines):
            assert d.column <= len(yaml_lines[d.line - 1]) + 1, shown


def _assert_consistent(outcome: Outcome) -> None:
    if outcome.spec is None:
        assert outcome.errors, "no spec, yet no error explains why"
    assert outcome.passed() == (not outcome.errors)
    if outcome.spec is not None:
        assert not any(d.diagnostic.severity == "note" for d in outcome.diagnostics), "a whole spec skips nothing"


def _assert_complete_unless_noted(text: str, outcome: Outcome) -> None:
    """A report without a note ran every check: nothing hides behind a short list."""
    if any(d.diagnostic.severity == "note" for d in outcome.diagnostics):
        return
    validation = validate_sections(load(text, "hx.yaml").data)
    assert run_section_checks(validation.sections).skipped == ()


def _cli_validate(text: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hx.yaml"
        path.write_text(text, encoding="utf-8")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["validate", str(path)])
    return code, err.getvalue()


def _assert_pipeline_holds(text: str) -> None:
    """In-process and CLI agree, diagnostics are located, and a passing spec renders."""
    rendered = render_text(text, "hx.yaml")
    outcome = rendered.outcome
    _assert_consistent(outcome)
    _assert_well_located(outcome, text)
    _assert_complete_unless_noted(text, outcome)

    code, err = _cli_validate(text)
    assert code in (0, 1), err
    assert code == (1 if outcome.errors else 0), err
    assert err.count(" error[") == len(outcome.errors), err
    assert "Traceback" not in err

    event("passes" if outcome.passed() else f"first error: {outcome.errors[0].diagnostic.code}")
    notes = [d.diagnostic.code for d in outcome.diagnostics if d.diagnostic.severity == "note"]
    event(f"note: {notes[0]}" if notes else "no note")
    if outcome.passed():
        assert rendered.artifacts


@PROPERTY_SETTINGS
@given(broken_specs())
def test_broken_specs_give_diagnostics_not_tracebacks(case):
    seed, mutations, text = case
    _assert_pipeline_holds(text)


# --- numbers at their extremes, which often still validate and so reach the renderers ---------

# Positive values at their extremes, by the field's type: these often still validate.
EXTREMES = {
    int: st.sampled_from([1, 2, 2**31, 2**63, 10**30]) | st.integers(min_value=1),
    float: st.sampled_from([math.inf, 1e300, 1e-9, 0.5]) | st.floats(min_value=1e-12, allow_infinity=True),
}


def _number_type(annotation: Any) -> type | None:
    """int or float when the field holds a number (possibly Optional / Annotated), else None."""
    if annotation in (int, float):
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _number_type(args[0])
    if origin in (typing.Union, types.UnionType):
        found = [t for a in args if (t := _number_type(a))]
        return found[0] if found else None
    return None


def _number_slots(data: dict) -> list[tuple[Path_, str, type]]:
    """(mapping path, field, int or float) for every numeric field the schema allows at each mapping."""
    mappings = [()] + [p for p, v in _nodes(data) if isinstance(v, dict)]
    return [
        (p, name, kind)
        for p in mappings
        if (model := _model_at(p)) is not None
        for name, field in sorted(model.model_fields.items())
        if (kind := _number_type(field.annotation))
    ]


@st.composite
def extreme_number_specs(draw) -> tuple[str, list[str], str]:
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = copy.deepcopy(SEEDS[seed])
    done = []
    for path, name, kind in draw(st.lists(st.sampled_from(_number_slots(data)), min_size=1, max_size=3, unique=True)):
        _get(data, path)[name] = value = draw(EXTREMES[kind])
        done.append(f"set {(*path, name)} to {value!r}")
    return seed, done, _yaml_text(data)


def _minimal_with(path: Path_, value: Any) -> tuple[str, list[str], str]:
    data = copy.deepcopy(SEEDS["tests/data/cases/minimal/hx.yaml"])
    target = data
    for part in path[:-1]:
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
    target[path[-1]] = value
    return "tests/data/cases/minimal/hx.yaml", [f"set {path} to {value!r}"], _yaml_text(data)


# Inputs that crashed hxgen (tracebacks, not diagnostics); always tried, before the generated ones.
@example(_minimal_with(("models", 0, "resources", "cpu_cores"), 1e307))  # a CPU quota x 100 overflows
@example(_minimal_with(("gateway", "body_limit_mb"), 1.76e305))  # a body limit in KB overflows
@settings(PROPERTY_SETTINGS, max_examples=150 * SCALE)
@given(extreme_number_specs())
def test_extreme_numbers_validate_or_render(case):
    seed, settings_made, text = case
    _assert_pipeline_holds(text)


# --- arbitrary text -------------------------------------------------------------------------

# fmt: off
FRAGMENTS = [
    "version: hx/v1\n", "version: hx/v2\n", "host:\n", "models:\n", "  - ", "- ", "  ", "    ", "\t",
    "\n", "\r\n", "name: x", "name: Phi", "port: 8001", "gpus: [0]", "memory_gb: 1e9", ": ", ":", "? ",
    "{", "}", "[", "]", ", ", "'", '"', "#c", "&a ", "*a", "&b ", "*b", "<<: *a\n", "!!str ", "!!int ",
    "!!float ", "!!map ", "!!seq ", "!!binary ", "!!timestamp ", "!custom ", "---\n", "...\n", "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n", "|\n", ">-\n", "~", "null", "yes", "no", "on", ".nan", ".inf", "-.inf", "0x1F",
    "0o17", "1_000", "-0", "1e400", "99999999999999999999999", "2024-02-30", "2001-12-14t21:59:43.10-05:00",
    "\ufeff", "\u2028", "\x85", "é", "😀",
]
# fmt: on


@st.composite
def yamlish_text(draw) -> str:
    pieces = draw(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40))
    return "".join(pieces)


@st.composite
def spliced_spec_text(draw) -> str:
    """A real spec with YAML-ish fragments spliced in at random places."""
    text = draw(st.sampled_from([SEED_TEXTS[k] for k in sorted(SEED_TEXTS)]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        text = text[:at] + draw(yamlish_text()) + text[at + cut :]
    return text


MERGE_KEY_SPEC = """\
version: hx/v1
host: {name: h, address: 10.0.0.5, cpu_cores: 8, memory_gb: 64, gpus: [{index: 0, model: L4, memory_gb: 24}]}
models:
  - &base
    name: a
    source: {path: /w/a}
    parameters_b: 1
    gpus: [0]
    max_model_len: 2048
    port: 8001
  - <<: *base
    name: b
    port: 8002
"""


# Inputs that crashed hxgen (tracebacks, not diagnostics); always tried, before the generated ones.
@example("\x1b[0m")  # a control character (here an ANSI escape pasted from a terminal)
@example(MERGE_KEY_SPEC)  # YAML merge keys: '<<: *anchor'
@example("version: hx/v1\ngateway:\n  api_versions: [{name: v0, deprecated_on: 2026-02-30}]\n")  # no such date
@example("version: !!int \n")  # an explicitly tagged empty scalar
@example("&a [*a]")  # a recursive alias
@example("? : : ? ")  # a mapping used as a key
@example("!!omap [a: 1]")  # an ordered map: its keys carry no positions
@example("models: !!str [a]")  # a list tagged as a string: its items carry no positions
@example("\n\n| #")  # a top-level block scalar with a comment: ruamel asserts on it
@settings(PROPERTY_SETTINGS, max_examples=1000 * SCALE)
@given(st.text() | yamlish_text() | spliced_spec_text())
def test_arbitrary_text_never_crashes(text):
    outcome = check_text(text, "hx.yaml")
    _assert_consistent(outcome)
    _assert_well_located(outcome, text, check_columns=False)
