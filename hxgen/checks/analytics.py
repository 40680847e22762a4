"""The analytics section: what hx-analytics would query, and settings that make its forecasts
or scores meaningless."""

from __future__ import annotations

from collections.abc import Iterator

from .. import alerts
from ..diagnostics import Diagnostic, error, warning
from ..spec import Spec
from .sections import reads


@reads("analytics", "host")
def series(spec: Spec) -> Iterator[Diagnostic]:
    a = spec.analytics
    if not a.enabled:
        return
    history_minutes = a.history_days * 1440
    for i, s in enumerate(a.series):
        if s.query is not None and (problem := alerts.unbalanced(s.query)):
            yield error(
                "invalid-promql",
                f"the query does not parse: {problem}",
                ("analytics", "series", i, "query"),
                hint="try it in the Prometheus UI; hx-analytics counts a rejected query in hx_analytics_errors_total",
            )
        if max(s.horizons_minutes) > history_minutes:
            yield warning(
                "horizon-beyond-history",
                f"a forecast {max(s.horizons_minutes)} minutes ahead learns from only {a.history_days} days "
                "of history; it cannot see a season or trend as long as its own horizon",
                ("analytics", "series", i, "horizons_minutes"),
                hint="raise analytics.history_days or shorten the horizon",
            )
        # Only a series the user listed; the default set leaves GPU series out on the cpu profile.
        if spec.host.profile == "cpu" and s.metric == "gpu_memory" and "series" in a.model_fields_set:
            yield warning(
                "no-data",
                "the cpu profile has no GPU metrics; this series stays empty",
                ("analytics", "series", i, "metric"),
            )


@reads("analytics", "monitoring")
def interval(spec: Spec) -> Iterator[Diagnostic]:
    a, scrape_s = spec.analytics, spec.monitoring.scrape_interval_s
    if a.enabled and a.interval_s < scrape_s:
        yield warning(
            "interval-below-scrape",
            f"a cycle every {a.interval_s} s reads series that change every {scrape_s} s (the scrape "
            "interval): it repeats each value, which looks like a flat line to the anomaly detector",
            ("analytics", "interval_s"),
            hint=f"use at least monitoring.scrape_interval_s ({scrape_s})",
        )


CHECKS = (series, interval)
