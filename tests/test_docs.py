"""Every diagnostic code hxgen can emit is documented, and the README's commands exist."""

from __future__ import annotations

import re

import yaml
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


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the first Markdown table after `heading`."""
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and rule


def test_gateway_docs_state_the_roles_and_endpoints_the_gateway_enforces():
    from hxgen.plan.gateway import ADMIN_ENDPOINTS, API_ENDPOINTS, PERMISSIONS

    text = (ROOT / "docs/gateway.md").read_text()
    roles = {
        row[0].strip("`"): tuple(p.strip() for p in row[1].split(",")) for row in _table_rows(text, "A tenant has")
    }
    assert roles == PERMISSIONS
    documented = {row[0].strip("`"): row[1] for row in _table_rows(text, "## API") if row[1] != "none"}
    enforced = {f"{e.method} /v1/{e.path}": e.permission for e in API_ENDPOINTS}
    enforced |= {f"{e.method} {e.path}": e.permission for e in ADMIN_ENDPOINTS}
    assert documented == enforced


def test_gateway_docs_list_every_error_code():
    from hxgen.plan.gateway import ERROR_PAGES

    handler = (ROOT / "roles/gateway/files/hx_gateway.js").read_text()
    codes = set(re.findall(r"fail\(r, \d+, '[a-z_]+', '([a-z_]+)'", handler.replace("\n", " ")))
    codes |= {page.code for page in ERROR_PAGES} | {"model_busy"}
    documented = set(re.findall(r"`([a-z_]+)`", (ROOT / "docs/gateway.md").read_text().split("## Errors")[1]))
    assert codes - documented == set()


def _rendered_rules(spec: str) -> list[dict]:
    from hxgen.pipeline import render_file

    artifacts = render_file(ROOT / spec).artifacts
    texts = [a.text for a in artifacts if a.path.startswith("rendered/prometheus/rules/")]
    groups = [g for text in texts for g in yaml.safe_load(text)["groups"] if g["name"] != "hx-extra"]  # the spec's own
    return [rule for group in groups for rule in group["rules"]]


def test_monitoring_docs_list_every_recorded_series_and_alert():
    from hxgen import alerts

    text = (ROOT / "docs/monitoring.md").read_text()
    documented = set(re.findall(r"`((?:hx:)?[A-Za-z][A-Za-z0-9_:]+)`", text))
    rules = _rendered_rules("hx.yaml") + _rendered_rules("tests/data/cases/mixed-engines/hx.yaml")
    recorded = {r["record"] for r in rules if "record" in r}
    # Windows other than 5m are documented on the 5m series' line.
    assert {r for r in recorded if not re.search(r"_rate(30m|1h|2h|6h|1d|3d)$", r)} <= documented
    assert {r["alert"] for r in rules if "alert" in r} | alerts.GENERATED <= documented
