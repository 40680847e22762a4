"""Invalid specs and the exact diagnostics users see for them.

Each tests/data/invalid/<case>.yaml has a <case>.expected file holding hxgen validate's stderr.
Refresh with HX_UPDATE_GOLDEN=1 pytest tests/test_invalid_specs.py and review the diff.
"""

from __future__ import annotations

import pytest
from conftest import DATA, UPDATE_GOLDEN

INVALID = DATA / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_invalid_spec_reports_expected_diagnostics(case, hxgen):
    result = hxgen("validate", f"{case}.yaml", cwd=INVALID)
    expected_file = INVALID / f"{case}.expected"
    if UPDATE_GOLDEN:
        expected_file.write_text(result.err)
    assert result.code == 1, result.err
    assert "error[" in result.err
    assert result.err == expected_file.read_text()
    assert "Traceback" not in result.err


def test_enough_invalid_cases():
    assert len(CASES) >= 15
