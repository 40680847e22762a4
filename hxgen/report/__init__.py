"""Usage and service reports (`hxgen report`): what the host served, to whom, at what cost and
how well, over a day, a week or a month, as one HTML file (and PDF) a manager can read.

collect (SQL and PromQL) -> figures (the numbers, model) -> plots + html (-> pdf). This package
is the library; hxgen.cli.report is the command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..plan import Plan
from .collect import Prometheus, SourceError, measured, usage_groups
from .model import Report
from .period import Period
from .progress import Progress

__all__ = ["Period", "Report", "ReportRequest", "SourceError", "build", "write"]


@dataclass(frozen=True)
class ReportRequest:
    plan: Plan
    period: Period
    prometheus_url: str
    dsn: str


def build(request: ReportRequest, progress: Progress, now: dt.datetime | None = None) -> tuple[Report, str]:
    """The report's numbers and its HTML. Raises SourceError when a source cannot be read."""
    from . import figures, html, plots

    progress.step(f"reading usage from PostgreSQL ({request.period.title})")
    groups = usage_groups(request.dsn, request.period)
    progress.step(f"querying Prometheus at {request.prometheus_url}")
    business = request.plan.business
    found = measured(Prometheus(request.prometheus_url), request.period, with_energy=bool(business and business.power))
    report = figures.build_report(request.plan, request.period, groups, found, now or dt.datetime.now(dt.UTC))
    progress.step("drawing the charts")
    drawn = plots.all_plots(report)
    progress.step("writing the report")
    return report, html.render_html(report, drawn)


def write(html_text: str, path: Path, pdf: bool = False) -> None:
    """Write the HTML, or its PDF, whole or not at all. Raises OSError, and SourceError when the
    PDF library is missing."""
    from ..files import write_atomically

    if pdf:
        from .pdf import write_pdf

        write_atomically(path, "", before_replace=lambda temporary: write_pdf(html_text, temporary))
    else:
        write_atomically(path, html_text)
