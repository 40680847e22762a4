"""Golden render cases: tests/data/cases/<case>/hx.yaml renders exactly to <case>/expected/.

Add a case by adding a directory with an hx.yaml; create or refresh expected output with
HX_UPDATE_GOLDEN=1 pytest tests/test_golden.py, then review the diff in git.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import DATA, UPDATE_GOLDEN

from hxgen.pipeline import render_file

CASES = sorted(p.parent.name for p in (DATA / "cases").glob("*/hx.yaml"))


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_render_matches_expected(case):
    case_dir = DATA / "cases" / case
    result = render_file(case_dir / "hx.yaml", display_name="hx.yaml")
    outcome = result.outcome
    assert outcome.passed(strict=True), "\n".join(d.format() for d in outcome.diagnostics)
    rendered = {a.path: a.text for a in result.artifacts}
    expected_dir = case_dir / "expected"
    if UPDATE_GOLDEN:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for path, text in rendered.items():
            (expected_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / path).write_text(text)
    expected = _tree(expected_dir)
    assert sorted(rendered) == sorted(expected), "the set of rendered files changed"
    for path, text in rendered.items():
        assert text == expected[path], f"{case}: {path} differs from the golden copy"


def test_there_are_golden_cases():
    assert {"minimal", "mixed-engines"} <= set(CASES)
