"""docs/runbooks.md and the generated alerts stay in step: every alert any spec of the repository
renders links a section of the page that explains it, and every section explains an alert that
is still rendered."""

from __future__ import annotations

import re
from functools import cache

import pytest
import yaml
from conftest import DATA, ROOT

from hxgen import alerts, runbooks
from hxgen.pipeline import render_file, render_text

# Every spec the repository renders: the default, the sandbox, the golden cases, and the spec of
# the promtool tests that renders the families only a GPU host or a TGI model has.
SPECS = [
    ROOT / "hx.yaml",
    ROOT / "sandbox/hx.yaml",
    *sorted((DATA / "cases").glob("*/hx.yaml")),
    *sorted((DATA / "promtool").glob("*.hx.yaml")),
]
PAGE = ROOT / runbooks.DOCUMENT
PARTS = ("**Means**", "**Confirm**", "**Fix**")


@cache
def rendered_alerts() -> dict[str, set[str]]:
    """Each generated alert's name and the runbook_url annotations it was rendered with."""
    found: dict[str, set[str]] = {}
    for spec in SPECS:
        result = render_file(spec)
        assert result.plan is not None, spec
        extra = {r.alert for r in result.plan.monitoring.extra_rules}
        for artifact in result.artifacts:
            if not artifact.path.endswith(".yml") or "/prometheus/rules/" not in artifact.path:
                continue
            for group in yaml.safe_load(artifact.text)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule and rule["alert"] not in extra:
                        found.setdefault(rule["alert"], set()).add(rule["annotations"].get("runbook_url", ""))
    return found


@cache
def sections() -> dict[str, str]:
    """The page's alert sections (level-3 headings), by anchor: the heading's text."""
    text = PAGE.read_text()
    parts = re.split(r"^### (.+)$", text, flags=re.M)
    return {runbooks.anchor(name.strip()): body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def headings() -> list[str]:
    return re.findall(r"^### (.+)$", PAGE.read_text(), flags=re.M)


def test_every_generated_alert_links_its_runbook_section():
    missing = []
    for name, urls in sorted(rendered_alerts().items()):
        if urls != {runbooks.url(name, runbooks.DOCUMENT)}:
            missing.append(f"{name}: runbook_url {sorted(urls)}")
        elif runbooks.anchor(name) not in sections():
            missing.append(f"{name}: no section '### {name}' in {runbooks.DOCUMENT}")
    assert missing == []


def test_every_runbook_section_names_a_rendered_alert():
    rendered = set(rendered_alerts())
    stale = [h for h in headings() if h not in rendered]
    assert stale == [], f"sections of {runbooks.DOCUMENT} for alerts no spec renders: {stale}"
    assert len(headings()) == len(set(headings())), "an alert has two sections"


def test_every_alert_hx_names_is_rendered_by_some_spec():
    # Otherwise a section could be missing for an alert that only an untested spec renders.
    assert sorted(alerts.GENERATED - set(rendered_alerts())) == []


@pytest.mark.parametrize("name", sorted(headings()))
def test_each_runbook_says_what_it_means_how_to_confirm_and_how_to_fix(name):
    body = sections()[runbooks.anchor(name)]
    starts = [body.find(f"\n{part}") for part in PARTS]
    assert -1 not in starts, f"{name}: needs paragraphs starting {', '.join(PARTS)}"
    assert starts == sorted(starts), f"{name}: {', '.join(PARTS)} in that order"
    confirm = body[starts[1] : starts[2]]
    assert "```" in confirm or "`" in confirm, f"{name}: Confirm names no command"


def test_the_table_of_contents_links_every_section():
    contents = PAGE.read_text().split("\n## ", 1)[0]
    linked = set(re.findall(r"\]\(#([a-z0-9-]+)\)", contents))
    assert linked == set(sections())


def _alert_rules(spec_data: dict) -> dict[str, dict]:
    result = render_text(yaml.safe_dump(spec_data))
    assert result.plan is not None, result.outcome.errors
    rules = next(a for a in result.artifacts if a.path.endswith("prometheus/rules/hx-alerts.yml"))
    return {r["alert"]: r for g in yaml.safe_load(rules.text)["groups"] for r in g["rules"]}


def test_a_published_base_replaces_the_document_path_and_extra_rules_get_no_link(spec_data):
    spec_data.setdefault("monitoring", {})["runbook_base_url"] = "https://docs.example.com/hx/runbooks.html"
    spec_data["monitoring"]["extra_rules"] = [{"alert": "TeamQueueLong", "expr": "up == 0", "summary": "s"}]
    rules = _alert_rules(spec_data)
    assert (
        rules[alerts.MODEL_DOWN]["annotations"]["runbook_url"]
        == "https://docs.example.com/hx/runbooks.html#hxmodeldown"
    )
    assert "runbook_url" not in rules["TeamQueueLong"]["annotations"]


@pytest.mark.parametrize(
    "base", ["https://docs.example.com/runbooks.md#top", "javascript:alert(1)", "/srv/docs.md", ""]
)
def test_a_base_with_a_fragment_or_no_place_is_refused(spec_data, base):
    spec_data.setdefault("monitoring", {})["runbook_base_url"] = base
    errors = render_text(yaml.safe_dump(spec_data)).outcome.errors
    assert [e.diagnostic.path for e in errors] == [("monitoring", "runbook_base_url")]
