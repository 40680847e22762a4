"""Every diagnostic code hxgen can emit is documented, and the README's commands exist."""

from __future__ import annotations

import re

from conftest import ROOT

from hxgen import validation

CODE_PATTERNS = [
    r'\b(?:error|warning)\(\s*"([a-z][a-z-]+)"',
    r'Diagnostic\(\s*"(?:error|warning)",\s*"([a-z][a-z-]+)"',
    r'_load_error\(\s*"([a-z][a-z-]+)"',
    r'_duplicates\(.*"([a-z][a-z-]+)"\)',
    r"error\[([a-z-]+)\]",
]


def emitted_codes() -> set[str]:
    codes = set(validation.CODES.values()) | {validation.OUT_OF_RANGE, validation.WRONG_TYPE}
    for path in (ROOT / "hxgen").rglob("*.py"):
        text = path.read_text()
        for pattern in CODE_PATTERNS:
            codes |= set(re.findall(pattern, text))
    return codes


def test_every_diagnostic_code_is_documented():
    documented = set(re.findall(r"`([a-z][a-z-]+)`", (ROOT / "docs/diagnostics.md").read_text()))
    codes = emitted_codes()
    assert len(codes) > 35
    assert codes - documented == set()


def test_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", readme, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "exec make test" in (ROOT / ".ci/run").read_text()
