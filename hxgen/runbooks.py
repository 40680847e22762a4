"""Where each generated alert's runbook is: its `runbook_url` annotation.

docs/runbooks.md (DOCUMENT, the default of `monitoring.runbook_base_url`) has one section per
alert, headed by the alert's name, so the section's anchor is the name in lower case: the id
Markdown renderers give such a heading. The base is the document's path in the hx repository
unless the spec names the team's published copy.
"""

from __future__ import annotations

DOCUMENT = "docs/runbooks.md"


def anchor(alert_name: str) -> str:
    return alert_name.lower()


def url(alert_name: str, base: str) -> str:
    return f"{base}#{anchor(alert_name)}"
