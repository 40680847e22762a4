"""Every query of every rendered dashboard parses as PromQL, checked by promtool.

Grafana's variables are replaced with the same concrete durations the Molecule check uses
(`hxgen.render.grafana.concrete`), and each query becomes a recording rule, so that
`promtool check rules` parses it. A missing promtool fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from test_real_tools import SPEC_IDS, SPECS, tool

from hxgen.pipeline import render_file
from hxgen.render import dashboards, grafana


def rendered_dashboards(spec: Path) -> list[dict]:
    plan = render_file(spec).plan
    assert plan is not None
    artifacts = dashboards.render(plan)
    return [json.loads(a.text) for a in artifacts if a.path.endswith(".json")]


def as_rule_file(boards: list[dict]) -> tuple[dict, int]:
    """One rule group per dashboard, one recording rule per query; and the number of rules."""
    groups, count = [], 0
    for board in boards:
        rules = []
        for i, expr in enumerate(grafana.queries(board)):
            rules.append({"record": f"hx_dashboard:{board['uid'].replace('-', '_')}:query{i}", "expr": concrete(expr)})
        groups.append({"name": board["uid"], "rules": rules})
        count += len(rules)
    return {"groups": groups}, count


def concrete(expr: str) -> str:
    result = grafana.concrete(expr)
    assert "$" not in result, result
    return result


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_promtool_parses_every_dashboard_query(spec, tmp_path):
    boards = rendered_dashboards(spec)
    assert len(boards) == 4
    rules, count = as_rule_file(boards)
    assert count > 20
    rule_file = tmp_path / "dashboards.yml"
    rule_file.write_text(json.dumps(rules, indent=2))  # JSON is YAML; no quoting surprises in PromQL
    result = subprocess.run([tool("promtool"), "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_promtool_rejects_a_broken_query(tmp_path):
    """The check above can fail: one unparsable query fails the whole file."""
    boards = rendered_dashboards(ROOT / "sandbox/hx.yaml")
    rules, _ = as_rule_file(boards)
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m])"
    rule_file = tmp_path / "broken.yml"
    rule_file.write_text(json.dumps(rules))
    result = subprocess.run([tool("promtool"), "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode != 0
    assert re.search(r"could not parse expression", result.stdout + result.stderr)
