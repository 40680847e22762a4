"""The report as one self-contained HTML file (charts inline as data URIs, CSS inline), laid
out for a screen and for A4 paper alike: the summary fills the first page, details follow."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import jinja2

from .model import Report

TEMPLATE = "report.html.j2"


def render_html(report: Report, plots: dict[str, str | None]) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hxgen", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = ZoneInfo(report.period.time_zone)
    env.filters.update(
        count=count,
        money=lambda v: money(v, report.currency),
        percent=percent,
        ms=ms,
        duration=duration,
        local=lambda t: t.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        rating=lambda v: "–" if v is None else f"{v:.2f}",
    )
    return env.get_template(TEMPLATE).render(r=report, plots=plots, highlights=highlights(report))


def count(v: int | float | None) -> str:
    """12 345 678 -> 12.3 M: the order of magnitude a reader needs."""
    if v is None:
        return "–"
    for size, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= size:
            return f"{v / size:.3g}{unit}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def money(v: float | None, currency: str | None) -> str:
    if v is None or currency is None:
        return "–"
    digits = 4 if 0 < abs(v) < 0.1 else 2
    return f"{v:,.{digits}f} {currency}"


def percent(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v * 100:.{digits}f} %"


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    delta = dt.timedelta(seconds=round(seconds))
    days, rest = delta.days, delta.seconds
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def highlights(report: Report) -> list[tuple[str, str]]:
    """(kind, sentence) for the summary: what a manager should read first. kind: good | bad | info."""
    found: list[tuple[str, str]] = []
    missed = [s for s in report.slos if s.met is False]
    met, known = report.slos_met
    if known and not missed:
        found.append(("good", f"All {known} service-level objectives were met."))
    for s in missed:
        found.append(("bad", f"{s.model}: {s.description} was missed ({percent(s.attainment)} of requests)."))
    for s in report.slos:
        if s.budget_left is not None and s.budget_left < 0.25:
            found.append(("bad", f"{s.model}: {percent(max(0.0, s.budget_left), 0)} of the {s.slo} error budget left."))
    pages = [a for a in report.alerts if a.severity == "page"]
    if pages:
        found.append(("bad", f"{len(pages)} paging alert(s) fired in the period."))
    for s in report.savings:
        if not (s.own_cost and s.reference_cost):
            continue
        models, amount = ", ".join(s.models), money(abs(s.savings), report.currency)
        if s.savings >= 0:
            found.append(("good", f"{models} saved {amount} against {s.reference} prices."))
        else:
            found.append(("info", f"{models} cost {amount} more than {s.reference} prices would have."))
    if report.tenants and report.total.tokens:
        top = max(report.tenants, key=lambda t: t.tokens)
        found.append(("info", f"{top.name} used the most tokens: {percent(top.tokens / report.total.tokens, 0)}."))
    return found
